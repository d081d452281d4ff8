"""learning_rate_too_high: updates far too large for the weights, with the loss diverging,
rising or going nowhere, or the weights blowing up.

The update ratio of a layer is ||applied update|| / ||weights|| over its kernels (biases and
norm offsets start at 0 and would inflate it); the run's ratio at a step is the median over
layers, since the learning rate is shared by all of them.
"""

from __future__ import annotations

import numpy as np

from tb_gradcause.analysis.causes import Cause, Evidence, evidence
from tb_gradcause.analysis.reader import RunData, Series
from tb_gradcause.analysis.signals import per_layer, trends, wording

CAUSE_KIND = "learning_rate_too_high"
REQUIRES: tuple[str, ...] = ("weights", "loss")

# One step changing the weights by 10 % of their norm: 100x the classic ~1e-3 rule of thumb and
# DeepDiagnosis' upper bound. Adam's first steps on large layers reach a few % and are fine.
UPDATE_RATIO = 0.1
# Kernel norms 10x their early level.
WEIGHT_GROWTH = 10.0


def _layer_ratio(weights: Series) -> tuple[np.ndarray, np.ndarray]:
    """Median over layers of the kernel update ratio [S], and the total kernel norm [S]."""
    kernel = np.flatnonzero([r.role in per_layer.KERNEL_ROLES for r in weights.rows])
    if not len(kernel):
        kernel = np.arange(len(weights.rows))
    layers = per_layer.Layers.of([weights.rows[i] for i in kernel])
    w2 = layers.total(np.square(np.take(weights.stat("norm"), kernel, axis=1), dtype=np.float64))
    u2 = layers.total(np.square(np.take(weights.stat("update_norm"), kernel, axis=1), dtype=np.float64))
    with np.errstate(all="ignore"):
        ratio = np.sqrt(np.divide(u2, w2, out=u2), out=u2)
    ratio[~np.isfinite(ratio)] = np.nan  # no kernel norm (w2 = 0; NaN rows count as 0), or an infinite update
    return trends.row_median(ratio), np.sqrt(w2.sum(axis=1))


def _lr_text(run: RunData) -> tuple[str, float | None]:
    loss = run.get("loss")
    if loss is None or not loss.has("learning_rate"):
        return "", None
    lr = loss.stat("learning_rate")[:, 0]
    lr = lr[np.isfinite(lr) & (lr > 0)]
    return (f" ({wording.num(float(lr[-1]))})", float(lr[-1])) if len(lr) else ("", None)


def _advice(lr: float | None) -> str:
    target = f" (e.g. {wording.num(lr / 10)} instead of {wording.num(lr)})" if lr is not None else ""
    return (
        f"Lower the learning rate about 10x{target}, or use a schedule with warmup; clip gradients "
        "(`clipnorm=1.0`) to survive occasional large steps. With SGD, try Adam at its default 1e-3."
    )


def _diverging(
    trend: trends.LossTrend, steps: np.ndarray, ratio: np.ndarray, growth: np.ndarray, lr: float | None, lr_note: str
) -> Cause | None:
    """The loss rises or turns NaN/Inf, confirmed by large updates or growing weights up to then."""
    trouble = _first_trouble(trend)
    if trouble is None:
        return None
    start, item = trouble
    near = np.flatnonzero(steps <= start)
    window = (steps >= (steps[near[-1]] if len(near) else steps[0])) & np.isfinite(ratio)
    big = window & (ratio >= UPDATE_RATIO)
    grown = (steps >= start) & (growth >= WEIGHT_GROWTH)
    items = [item]
    if big.any():
        i = int(np.flatnonzero(big)[np.argmax(ratio[big])])
        items.append(
            evidence(
                "update_ratio",
                ratio[i],
                UPDATE_RATIO,
                ">=",
                int(steps[i]),
                "median over layers",
            )
        )
    if grown.any():
        i = int(np.flatnonzero(grown)[np.argmax(growth[grown])])
        items.append(
            evidence("weight_norm_growth", growth[i], WEIGHT_GROWTH, ">=", int(steps[i]), "all kernels together")
        )
    if len(items) == 1:
        return None
    dies = trend.first_nonfinite_step is not None
    return Cause.create(
        CAUSE_KIND,
        "error" if dies else "warning",
        None,
        start,
        trend.last_step,
        f"Learning rate too high{lr_note}: the loss "
        + ("diverges to NaN/Inf" if dies else "rises")
        + f" from step {start}",
        items,
        _advice(lr),
    )


def _oscillating(
    trend: trends.LossTrend, steps: np.ndarray, ratio: np.ndarray, lr: float | None, lr_note: str
) -> Cause | None:
    """No progress while every update is large, over at least half the run."""
    for _, a, b in trends.persistent_spans(ratio >= UPDATE_RATIO, trends.persistence(len(steps))):
        first, last = int(steps[a]), int(steps[b])
        if not trend.stalled(first) or b - a + 1 < len(steps) // 2:
            continue
        level = float(np.median(ratio[a : b + 1]))
        return Cause.create(
            CAUSE_KIND,
            "warning",
            None,
            first,
            last,
            f"Learning rate too high{lr_note}: every step changes the weights by {wording.num(100 * level)} % "
            "and the loss does not improve",
            [
                evidence(
                    "update_ratio",
                    level,
                    UPDATE_RATIO,
                    ">=",
                    None,
                    f"median over layers, then over steps {first}–{last}",
                ),
                evidence(
                    "loss_progress",
                    trend.progress(first, trend.last_step),
                    trends.CONVERGED_PROGRESS,
                    "<",
                    trend.last_step,
                    "by the end of the run",
                ),
            ],
            _advice(lr),
        )
    return None


def detect(run: RunData) -> list[Cause]:
    weights = run["weights"]
    trend = trends.LossTrend.from_run(run)
    if trend is None or not (weights.has("norm") and weights.has("update_norm")):
        return []
    ratio, norm = _layer_ratio(weights)
    base = trends.baseline(norm)
    with np.errstate(all="ignore"):  # no early kernel norm (all-zero kernels): growth unknown
        growth = np.where(base > 0, norm / base, np.nan)
    lr_note, lr = _lr_text(run)
    event = _diverging(trend, weights.steps, ratio, growth, lr, lr_note) or _oscillating(
        trend, weights.steps, ratio, lr, lr_note
    )
    return [event] if event is not None else []


def _first_trouble(trend: trends.LossTrend) -> tuple[int, Evidence] | None:
    """First step where the loss goes non-finite or rises RISE_FACTOR x above its best so far."""
    rise = trend.rise()
    rising = np.flatnonzero(rise >= trends.RISE_FACTOR)
    bad = trend.first_nonfinite_step
    if len(rising) and (bad is None or trend.steps[rising[0]] < bad):
        i = int(rising[0])
        return int(trend.steps[i]), evidence("loss_rise", rise[i], trends.RISE_FACTOR, ">=", int(trend.steps[i]))
    if bad is not None:
        return bad, evidence("loss_nonfinite_step", bad, 0, ">=", bad)
    return None
