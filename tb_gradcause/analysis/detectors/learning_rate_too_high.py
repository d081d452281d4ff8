"""learning_rate_too_high: updates far too large for the weights, with the loss diverging,
rising or going nowhere, or the weights blowing up.

The update ratio of a layer is ||applied update|| / ||weights|| over its kernels (biases and
norm offsets start at 0 and would inflate it); the run's ratio at a step is the median over
layers, since the learning rate is shared by all of them.
"""

from __future__ import annotations

import numpy as np

from tb_gradcause.analysis.causes import Cause, Evidence, evidence
from tb_gradcause.analysis.reader import RunData
from tb_gradcause.analysis.signals import suggestions, trends, updates, wording

CAUSE_KIND = "learning_rate_too_high"
REQUIRES: tuple[str, ...] = ("weights", "loss")

# One step changing the weights by 10 % of their norm: 100x the classic ~1e-3 rule of thumb and
# DeepDiagnosis' upper bound. Adam's first steps on large layers reach a few % and are fine.
UPDATE_RATIO = 0.1
# Kernel norms 10x their early level.
WEIGHT_GROWTH = 10.0


def _advice(run: RunData, start: int, last: int) -> str:
    """Lower the rate (to one computed from the early update ratios up to `last`), or warm it up (over
    the steps an early instability from `start` took to settle); clip at the norms before `start`."""
    lr = suggestions.learning_rate(run, last)
    warmup = suggestions.warmup(run, start)
    clip = suggestions.clipping(run, start)
    return (
        f"Lower the learning rate {lr.setting}, or "
        + (warmup.setting if warmup is not None else "use a schedule with warmup")
        + f"; clip gradients ({clip.setting}) to survive occasional large steps. With SGD, try Adam at its "
        "default 1e-3." + suggestions.notes(lr, clip)
    )


def _diverging(
    trend: trends.LossTrend, steps: np.ndarray, ratio: np.ndarray, growth: np.ndarray, run: RunData, lr_note: str
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
        _advice(run, start, trend.last_step),
    )


def _oscillating(
    trend: trends.LossTrend, steps: np.ndarray, ratio: np.ndarray, run: RunData, lr_note: str
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
            _advice(run, first, last),
        )
    return None


def detect(run: RunData) -> list[Cause]:
    weights = run["weights"]
    trend = trends.LossTrend.from_run(run)
    if trend is None or not (weights.has("norm") and weights.has("update_norm")):
        return []
    ratio, norm = updates.kernel_update_ratio(weights)
    base = trends.baseline(norm)
    with np.errstate(all="ignore"):  # no early kernel norm (all-zero kernels): growth unknown
        growth = np.where(base > 0, norm / base, np.nan)
    lr = updates.last_learning_rate(run)
    lr_note = f" ({wording.num(lr)})" if lr is not None else ""
    event = _diverging(trend, weights.steps, ratio, growth, run, lr_note) or _oscillating(
        trend, weights.steps, ratio, run, lr_note
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
