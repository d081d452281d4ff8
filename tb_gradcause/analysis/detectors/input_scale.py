"""input_scale: input features on wildly different scales, unscaled inputs while training is in
trouble, and outlier batches that coincide with gradient spikes.

A feature's magnitude is the median over logged batches of its largest |value|; features that
are exactly 0 throughout (padding) are left out. Features are compared within one model input.
Integer-valued inputs of a model with an Embedding-like layer are ids, not magnitudes: skipped.
"""

from __future__ import annotations

import numpy as np

from tb_gradcause.analysis.causes import Cause, evidence
from tb_gradcause.analysis.reader import RunData, Series
from tb_gradcause.analysis.signals import flow, per_layer, trends, wording
from tb_gradcause.rows import RowInfo

CAUSE_KIND = "input_scale"
REQUIRES: tuple[str, ...] = ("inputs",)

# Two groups of features whose magnitudes are 100x apart (a gap in the sorted magnitudes)...
GAP_DECADES = 2.0
# ...the larger group at least 10x beyond the unit range (tiny-but-consistent features are fine).
LARGE_MAGNITUDE = 10.0
# Without such a gap (scales spread gradually), the features 100x above the input's median.
# Scales this many decades apart are a warning even in a run whose loss falls: the largest
# features dominate the first layer's gradients (a falling loss can hide a model at chance).
SEVERE_DECADES = 3.0
# All features far outside the unit range: flagged only while training is in trouble.
UNSCALED_MAGNITUDE = 100.0
# Layers that take integer ids (their inputs' magnitudes mean nothing).
ID_LAYERS = frozenset({"Embedding", "IntegerLookup", "StringLookup", "CategoryEncoding", "Hashing"})
# Outlier batch: a value this many usual batch-stds from the feature's usual mean...
OUTLIER_SIGMA = 10.0
# ...and this many times the input's usual scale (the median over its features that are not always
# 0 of their usual largest |x|): a sparse feature's first non-zero, or a heavy tail, is no outlier...
OUTLIER_SCALE = 10.0
# ...in the same step as a kernel-gradient RMS this many times its median (any layer).
SPIKE_FACTOR = 10.0


def _the_input(name: str) -> str:
    """'the input' for a model's only, default-named input (never 'input input'), else 'input NAME'."""
    return "the input" if name == "input" else f"input {name}"


def _input_name(row: RowInfo) -> str:
    return row.role or row.name.split("/")[0]


def _per_input(series: Series) -> dict[str, np.ndarray]:
    """Input name -> row indices of its features."""
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(series.rows):
        groups.setdefault(_input_name(row), []).append(i)
    return {name: np.array(rows) for name, rows in groups.items()}


def _id_inputs(run: RunData, series: Series, n: int) -> set[str]:
    """Inputs holding only integers in a model that embeds ids."""
    classes = {row.layer_class for kind in ("activations", "gradients") if kind in run.series for row in run[kind].rows}
    if not classes & ID_LAYERS or not (series.has("min") and series.has("max")):
        return set()
    bounds = np.concatenate([series.stat("min")[:n], series.stat("max")[:n]]).astype(np.float64)
    integral = np.all(~np.isfinite(bounds) | (bounds == np.round(bounds)), axis=0)
    return {name for name, rows in _per_input(series).items() if integral[rows].all()}


def _feature_labels(series: Series, rows: np.ndarray) -> str:
    """'features 5–9' from rows named '<input>/feature_<i>' (else their names)."""
    tails = [series.rows[r].name.rsplit("feature_", 1) for r in rows]
    if all(len(t) == 2 and t[1].isdigit() for t in tails):
        label = "feature" if len(rows) == 1 else "features"
        return f"{label} {wording.index_ranges([int(t[1]) for t in tails])}"
    return wording.names([series.rows[r].name for r in rows])


def _mixed_scales(
    series: Series, magnitude: np.ndarray, trend: trends.LossTrend | None, steps: np.ndarray, skip: set[str]
) -> list[Cause]:
    events = []
    for name, rows in _per_input(series).items():
        if name in skip:
            continue
        mags = magnitude[rows]
        used = rows[mags > 0]
        if len(used) < 2:
            continue
        logm = np.log10(magnitude[used])
        order = np.argsort(logm)
        gaps = np.diff(logm[order])
        k = int(np.argmax(gaps))
        large, small = used[order[k + 1 :]], used[order[: k + 1]]
        metric, factor = "magnitude_gap", float(10 ** gaps[k])
        if gaps[k] < GAP_DECADES:  # scales spread gradually: the features far above the median
            above = logm >= np.median(logm) + GAP_DECADES
            large, small = used[above], used[~above]
            metric = "magnitude_over_median"
            factor = float(np.median(magnitude[large]) / np.median(magnitude[used])) if above.any() else 0.0
        if not len(large) or not len(small):
            continue
        big = float(np.median(magnitude[large]))
        if factor < 10**GAP_DECADES or big < LARGE_MAGNITUDE:
            continue
        rest = float(np.median(magnitude[small]))
        first, last = int(steps[0]), int(steps[-1])
        trouble = trends.loss_trouble(trend, first, last)
        labels = _feature_labels(series, large)
        # One figure, the rule's, in the title and the evidence; the two scales it divides in the note.
        if metric == "magnitude_gap":  # the smallest large feature over the largest other one
            top, bottom = float(np.min(magnitude[large])), float(np.max(magnitude[small]))
            claim = f"at least {wording.num(factor)}x larger than every other feature"
            scales = f"|x| ≥ {wording.num(top)} vs ≤ {wording.num(bottom)} for the others"
        else:
            claim = f"~{wording.num(factor)}x the input's median feature scale"
            median = float(np.median(magnitude[used]))
            scales = f"|x| ≈ {wording.num(big)} vs ≈ {wording.num(median)} for the median feature"
        items = [evidence(metric, factor, 10**GAP_DECADES, ">=", None, f"{labels}: {scales}")]
        if trouble is not None:
            items.append(trouble)
        severe = big / rest >= 10**SEVERE_DECADES
        events.append(
            Cause.create(
                CAUSE_KIND,
                "warning" if trouble is not None or severe else "info",  # converging anyway: a note
                "input",
                first,
                last,
                f"In {_the_input(name)}, {labels} {'is' if len(large) == 1 else 'are'} {claim}",
                items,
                f"Standardize {labels} of {_the_input(name)} ({scales}): subtract the mean and divide by the std "
                "of each feature on the training set, e.g. with `keras.layers.Normalization` adapted to the "
                "data, or log-transform heavy-tailed features.",
            )
        )
    return events


def _unscaled(
    series: Series, magnitude: np.ndarray, trend: trends.LossTrend | None, steps: np.ndarray, skip: set[str]
) -> list[Cause]:
    ids = np.array([_input_name(row) in skip for row in series.rows], dtype=bool)
    used = magnitude[(magnitude > 0) & ~ids]
    if not len(used) or np.min(used) < UNSCALED_MAGNITUDE:
        return []
    first, last = int(steps[0]), int(steps[-1])
    trouble = trends.loss_trouble(trend, first, last)
    if trouble is None:
        return []
    smallest = wording.num(float(np.min(used)))
    return [
        Cause.create(
            CAUSE_KIND,
            "warning",
            "input",
            first,
            last,
            f"Inputs are unscaled (every feature's |x| ≥ {smallest}) while training is in trouble",
            [evidence("input_magnitude", float(np.min(used)), UNSCALED_MAGNITUDE, ">="), trouble],
            f"Every input feature has |x| ≥ {smallest}: scale the inputs to about unit range (divide by "
            "the feature std, e.g. `keras.layers.Normalization`, or by 255 for pixels) so the first layer's "
            "gradients and activations stay in range.",
        )
    ]


def _outlier_spikes(run: RunData, series: Series, n: int, magnitude: np.ndarray, skip: set[str]) -> list[Cause]:
    grads = run.get("gradients")
    if grads is None or not all(series.has(s) for s in ("mean", "std", "min", "max")):
        return []
    steps = series.steps[:n]
    mean, std = (series.stat(s)[:n].astype(np.float64) for s in ("mean", "std"))
    lo, hi = (series.stat(s)[:n].astype(np.float64) for s in ("min", "max"))
    mu, sigma = trends.typical(mean), trends.typical(std)
    usual = np.zeros(len(series.rows))
    for name, rows in _per_input(series).items():
        used = magnitude[rows][magnitude[rows] > 0]  # features always 0 (padding, borders) set no scale
        usual[rows] = np.inf if name in skip else float(np.median(used)) if len(used) else 0.0
    with np.errstate(all="ignore"):
        z = np.fmax(np.abs(hi - mu), np.abs(lo - mu)) / np.where(sigma > 0, sigma, np.nan)
        z[np.fmax(np.abs(lo), np.abs(hi)) < OUTLIER_SCALE * usual[None, :]] = np.nan
    outlier = np.nanmax(np.where(np.isfinite(z), z, np.nan), axis=1, initial=0.0) >= OUTLIER_SIGMA
    g = flow.kernel_gradients(grads)
    if not g.log.shape[1]:
        return []
    # Any layer's spike counts: layers reading the input side by side (a VAE's mean and log-variance)
    # are in no depth order, and the one the outlier hits hardest need not come first.
    above = g.log - trends.typical(g.log)[None, :]
    peak = np.nanmax(np.where(np.isfinite(above), above, -np.inf), axis=1, initial=-np.inf)
    spike_steps = g.steps[peak >= np.log10(SPIKE_FACTOR)]
    hits = np.flatnonzero(outlier & np.isin(steps, spike_steps))
    if not len(hits):
        return []
    feature = np.nanargmax(np.where(np.isfinite(z[hits]), z[hits], -np.inf), axis=1)
    worst = int(np.argmax([z[h, f] for h, f in zip(hits, feature)]))
    h, f = int(hits[worst]), int(feature[worst])
    g_at = int(np.searchsorted(g.steps, steps[h]))
    spiking = int(np.nanargmax(np.where(np.isfinite(above[g_at]), above[g_at], -np.inf)))
    shown = ", ".join(str(int(s)) for s in steps[hits][:8])
    return [
        Cause.create(
            CAUSE_KIND,
            "warning",
            "input",
            int(steps[hits[0]]),
            int(steps[hits[-1]]),
            f"Outlier input batches drive gradient spikes (steps {shown})",
            [
                evidence(
                    "outlier_sigma",
                    float(z[h, f]),
                    OUTLIER_SIGMA,
                    ">=",
                    int(steps[h]),
                    series.rows[f].name,
                ),
                evidence(
                    "gradient_spike",
                    float(10 ** above[g_at, spiking]),
                    SPIKE_FACTOR,
                    ">=",
                    int(steps[h]),
                    f"in {g.layers.names[spiking]}",
                ),
            ],
            f"Batches at steps {shown} carry extreme values "
            f"({series.rows[f].name} {wording.num(float(z[h, f]))} stds from its "
            "mean) and the gradients spike with them. Clip or winsorize outliers, fix corrupt records, or use a "
            "robust scaling (e.g. quantile / log transform); gradient clipping (`clipnorm=1.0`) limits the damage.",
        )
    ]


def detect(run: RunData) -> list[Cause]:
    series = run["inputs"]
    n = per_layer.finite_prefix(series)
    if n == 0 or not (series.has("min") and series.has("max")):
        return []
    steps = series.steps[:n]
    extreme = np.fmax(np.abs(series.stat("min")[:n]), np.abs(series.stat("max")[:n])).astype(np.float64)
    magnitude = trends.typical(extreme)
    trend = trends.LossTrend.from_run(run)
    magnitude = np.nan_to_num(magnitude, nan=0.0)
    ids = _id_inputs(run, series, n)
    return (
        _mixed_scales(series, magnitude, trend, steps, ids)
        + _unscaled(series, magnitude, trend, steps, ids)
        + _outlier_spikes(run, series, n, magnitude, ids)
    )
