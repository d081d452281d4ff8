"""Gradient-flow signals shared by the exploding and vanishing detectors, and their candidates.

Each signal is a per-layer log10 profile over logged steps, cut before the first step holding
NaN/Inf (values after it say nothing about the flow that led there).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from tb_gradcause.analysis.causes import Evidence, evidence
from tb_gradcause.analysis.reader import RunData, Series
from tb_gradcause.analysis.signals import per_layer, trends
from tb_gradcause.rows import RowInfo

# Layers that rescale the signal flowing back through them by their input's spread.
NORMALIZATION = frozenset(
    {
        "BatchNormalization",
        "LayerNormalization",
        "GroupNormalization",
        "UnitNormalization",
        "RMSNormalization",
        "SyncBatchNormalization",
    }
)


@dataclasses.dataclass(frozen=True)
class Profile:
    """log10 of a per-layer quantity [n, L] at `steps` [n], and what it measures."""

    steps: np.ndarray
    layers: per_layer.Layers
    log: np.ndarray
    what: str  # "kernel-gradient RMS" | "backward-signal norm" | "time"

    @functools.cached_property
    def early(self) -> np.ndarray:
        """Each layer's early baseline of `log` [L] (shared by the rules over steps and depth)."""
        return trends.baseline(self.log)

    @property
    def metric(self) -> str:
        """Evidence metric name of a depth ratio on this profile."""
        return self.what.split()[0].replace("-", "_") + "_depth_ratio"


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One layer's persistent excess or deficit: where, when, how much, and the numbers behind it."""

    layer: str
    row: RowInfo
    first: int
    last: int
    score: float  # decades beyond the reference
    items: tuple[Evidence, ...]
    how: str  # "time" | "depth" | "along_time"


KERNEL_RMS = "kernel-gradient RMS"
BACKWARD_NORM = "backward-signal norm"
# Depth comparisons let a later layer drift this many decades (10x) from its own early level.
REFERENCE_DRIFT = 1.0
# log10 of a norm that overflowed float32 (+Inf from finite elements): beyond its 3.4e38 maximum.
OVERFLOW_LOG10 = 39.0


def log10(x: np.ndarray) -> np.ndarray:
    """log10 with NaN for zero, negative or NaN values and OVERFLOW_LOG10 for +Inf."""
    with np.errstate(all="ignore"):
        result = np.log10(np.asarray(x, dtype=np.float64))
    result[result == np.inf] = OVERFLOW_LOG10
    result[~np.isfinite(result)] = np.nan
    return result


@per_layer.memo
def kernel_gradients(grads: Series) -> Profile:
    """log10 per-layer RMS of the non-zero kernel gradients."""
    n = per_layer.finite_prefix(grads)
    layers, g = per_layer.rms(grads, roles=per_layer.KERNEL_ROLES)
    return Profile(grads.steps[:n], layers, log10(g[:n]), KERNEL_RMS)


@per_layer.memo
def depth_signal(run: RunData) -> Profile:
    """The backward signal (d loss / d layer output) per layer when logged, else kernel gradients.

    The backward signal is compared by its total L2 norm, which Glorot/He-initialized layers keep
    within ~2x and pooling shrinks only by sqrt(positions) (the RMS per element shrinks by the
    number of positions). Only layers with trainable variables count: a parameter-free layer's
    signal is its neighbour's, reshaped."""
    back = run.get("backward")
    grads = run.get("gradients")
    if back is None or not len(back.steps):
        return kernel_gradients(grads)
    n = per_layer.finite_prefix(back)
    layers, v = per_layer.norm(back)
    trainable = {per_layer.row_layer(row) for row in grads.rows} if grads is not None else set()
    keep = np.array([name in trainable for name in layers.names], dtype=bool)
    if keep.any():
        v = np.where(keep[None, :], v, np.nan)
    return Profile(back.steps[:n], layers, log10(v[:n]), BACKWARD_NORM)


def along_time(run: RunData) -> Profile | None:
    """log10 of d loss / d input at the first time position over that at the last, per recurrent layer."""
    series = run.get("backward_time")
    if series is None or not len(series.steps) or not (series.has("t_0") and series.has("t_7")):
        return None
    n = per_layer.finite_prefix(series)
    first, last = series.stat("t_7")[:n], series.stat("t_0")[:n]
    # A signal that underflowed to exactly 0 on its way back is below float32's smallest value
    # (a bound on the ratio), not unknown: long sequences vanish all the way to 0.
    first = np.where((first == 0) & (last > 0), np.finfo(np.float32).smallest_subnormal, first)
    ratio = log10(first) - log10(last)
    layers = per_layer.Layers.of(series.rows)
    profile = np.full((n, len(layers.names)), np.nan)
    profile[:, layers.index] = ratio
    return Profile(series.steps[:n], layers, profile, "time")


def sequence_length(run: RunData, layer: str) -> int | None:
    """The latest logged sequence length of a recurrent layer (`backward_time`'s `seq_len` column)."""
    series = run.get("backward_time")
    if series is None or not series.has("seq_len"):
        return None
    lengths = series.stat("seq_len")[:, series.rows_of(layer)]
    finite = lengths[np.isfinite(lengths) & (lengths > 0)]
    return int(finite[-1]) if len(finite) else None


def spans(
    profile: Profile,
    excess: np.ndarray,
    threshold: float,
    dies: bool,
    how: str,
    metric: str,
    note: str = "",
    op: str = ">=",
) -> list[Candidate]:
    """Persistent spans of `excess >= threshold` ([n, L] decades) per layer, as candidates.

    The evidence reports the factor 10**excess at the span's peak (its inverse for `op="<="`:
    a deficit of 3 decades is reported as 1e-3 <= 1e-threshold)."""
    result = []
    need = trends.persistence(len(profile.steps))
    sign = 1.0 if op == ">=" else -1.0
    for j, a, b in trends.persistent_spans(excess >= threshold, need, terminal_ok=dies):
        peak = a + int(np.nanargmax(excess[a : b + 1, j]))
        score = float(excess[peak, j])
        item = evidence(metric, 10 ** (sign * score), 10 ** (sign * threshold), op, int(profile.steps[peak]), note)
        result.append(
            Candidate(
                profile.layers.names[j],
                profile.layers.rows[j],
                int(profile.steps[a]),
                int(profile.steps[b]),
                score,
                (item,),
                how,
            )
        )
    return result


def growth(profile: Profile) -> np.ndarray:
    """Decades above each layer's own early baseline [n, L]."""
    return profile.log - profile.early[None, :]


def _segments(layers: per_layer.Layers) -> np.ndarray:
    """Per layer: how many normalization layers come at or before it. A normalization layer
    divides the signal flowing back through it by its input's spread, so depth is compared
    only between layers of the same segment."""
    return np.cumsum([row.layer_class in NORMALIZATION for row in layers.rows])


def _beyond_later(profile: Profile, sign: float) -> np.ndarray:
    """Decades above (sign 1) / below (sign -1) the extreme at this or any later layer of the same
    normalization segment [n, L]; NaN where unknown.

    The later layers count at most REFERENCE_DRIFT decades beyond their own early level in the
    direction that would inflate the result: layers exploding above do not make the layers
    below look vanished, nor do collapsing layers above make the ones below look exploding."""
    log = profile.log if sign > 0 else -profile.log  # finite or NaN
    reference = np.fmax(log, sign * profile.early[None, :] - REFERENCE_DRIFT)
    segments = _segments(profile.layers)
    result = np.empty_like(log)
    for segment in np.unique(segments):
        cols = np.flatnonzero(segments == segment)
        span = slice(cols[0], cols[-1] + 1)  # a segment is a run of consecutive layers
        # Running minimum from the last layer backwards, skipping NaN (NaN: no value yet).
        later_min = np.fmin.accumulate(reference[:, span][:, ::-1], axis=1)[:, ::-1]
        np.subtract(log[:, span], later_min, out=result[:, span])
    return result


def above_later(profile: Profile) -> np.ndarray:
    """Decades above the smallest value at this or any later layer (same segment) [n, L]."""
    return _beyond_later(profile, 1.0)


def below_later(profile: Profile) -> np.ndarray:
    """Decades below the largest value at this or any later layer (same segment) [n, L]."""
    return _beyond_later(profile, -1.0)


def confirm(candidates: list[Candidate], trend: trends.LossTrend | None, death_counts: bool = True) -> list[Candidate]:
    """Candidates during which training is in trouble (`trends.loss_trouble`), with that evidence added."""
    result = []
    for c in candidates:
        trouble = trends.loss_trouble(trend, c.first, c.last, death_counts)
        if trouble is not None:
            result.append(dataclasses.replace(c, items=c.items + (trouble,)))
    return result


def run_dies(run: RunData) -> bool:
    """The run holds NaN/Inf in its gradients or loss at some step."""
    grads = run.get("gradients")
    trend = trends.LossTrend.from_run(run)
    died = grads is not None and per_layer.finite_prefix(grads) < len(grads.steps)
    return bool(died or (trend is not None and trend.first_nonfinite_step is not None))
