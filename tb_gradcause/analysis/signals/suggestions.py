"""The numbers the advice suggests, computed from the run itself and quoted with the figures they
came from, so a user can check them; too few samples give no number, and the advice says so.

- Gradient clipping: `global_clipnorm` (Keras' global-norm clipping; `clipnorm` clips each
  variable) at the 90th percentile of the global gradient norms logged while training was healthy,
  and a warning when that threshold would clip more than half of the run's logged steps: the Google
  Deep Learning Tuning Playbook's sign that the learning rate should come down instead.
- A learning rate: the one that brings the measured update ratio ||update|| / ||weights|| to about
  1e-3 (CS231n's rule of thumb), if the update scales with the learning rate (SGD, and Adam's
  steps are proportional to it too).
- A warmup length: the step from which an early instability of the loss had settled.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tb_gradcause.analysis.reader import RunData, Series
from tb_gradcause.analysis.signals import per_layer, trends, updates, wording

# Fewer healthy samples than this give no percentile or median worth quoting.
MIN_SAMPLES = 5
# The tuning playbook: clip at the 90th percentile of the unclipped norms; more than half the steps
# clipped is "extremely aggressive" clipping, a learning rate too high in disguise.
CLIP_PERCENTILE = 90.0
CLIPPED_MAJORITY = 0.5
# CS231n: a healthy update moves the weights by about 1e-3 of their norm per step.
TARGET_UPDATE_RATIO = 1e-3
GENERIC_CLIP = "`clipnorm=1.0`"


@dataclasses.dataclass(frozen=True)
class Suggestion:
    """One suggestion in words: `setting` stands in the advice where a generic number would,
    `note` is a sentence for the advice's end (a warning, or why the generic number stands; may be
    empty); `value` is the computed number, None when the generic one stands."""

    value: float | None
    setting: str
    note: str = ""


def notes(*parts: Suggestion) -> str:
    """The sentences an advice ends with: its suggestions' notes, each after a space."""
    return "".join(f" {part.note}" for part in parts if part.note)


def global_norms(gradients: Series) -> tuple[np.ndarray, np.ndarray]:
    """The logged steps whose every gradient is finite, and the global gradient norm at each: the
    square root of the sum of every variable's squared L2 norm (what `global_clipnorm` clips)."""
    l2 = gradients.stat("l2").astype(np.float64)
    with np.errstate(over="ignore"):
        norms = np.sqrt(np.square(l2).sum(axis=1))
    keep = ~per_layer.nonfinite(gradients).any(axis=1) & np.isfinite(norms)
    return np.asarray(gradients.steps)[keep], norms[keep]


def clipping(run: RunData, before_step: int) -> Suggestion:
    """A `global_clipnorm` from the global gradient norms logged before `before_step` (training
    healthy), with a warning when it would clip more than half of all logged steps."""
    grads = run.get("gradients")
    steps, norms = global_norms(grads) if grads is not None and grads.has("l2") else (np.zeros(0), np.zeros(0))
    healthy = norms[steps < before_step]
    if len(healthy) < MIN_SAMPLES:
        return Suggestion(
            None,
            GENERIC_CLIP,
            f"That clipping threshold is a generic one: the run logged too few finite global gradient norms before "
            f"step {before_step} to set one from it ({len(healthy)} of the {MIN_SAMPLES} needed).",
        )
    value = float(np.percentile(healthy, CLIP_PERCENTILE))
    setting = (
        f"`global_clipnorm={wording.num(value)}`: the {CLIP_PERCENTILE:.0f}th percentile of the {len(healthy)} "
        f"global gradient norms logged before step {before_step}, median {wording.num(float(np.median(healthy)))}"
    )
    clipped = int((norms > value).sum())
    if clipped <= CLIPPED_MAJORITY * len(norms):
        return Suggestion(value, setting)
    return Suggestion(
        value,
        setting,
        f"That threshold would clip {clipped} of the {len(norms)} logged steps with finite gradients: more than "
        "half, the tuning playbook's sign that the learning rate itself should come down, not be clipped.",
    )


def learning_rate(run: RunData, until_step: int) -> Suggestion:
    """A learning rate that brings the kernel update ratio to TARGET_UPDATE_RATIO: the median of
    lr * target / ratio (each step's own rate, so a schedule is followed) over the run's early
    logged steps (`trends.baseline_count`, at least MIN_SAMPLES) up to `until_step`. Early, because
    a rate too high inflates the weights and kills units, which then shrinks the ratio it is
    measured by (a demo at Adam 0.5: 0.96 at step 0, 0.005 by step 50). Generic "about 10x" otherwise."""
    lr_steps, lr = updates.learning_rates(run)
    last = float(lr[lr_steps <= until_step][-1]) if (lr_steps <= until_step).any() else None
    generic = "about 10x" + (f" (e.g. {wording.num(last / 10)} instead of {wording.num(last)})" if last else "")
    weights = run.get("weights")
    if last is None or weights is None or not (weights.has("norm") and weights.has("update_norm")):
        return Suggestion(None, generic)
    ratio, _ = updates.kernel_update_ratio(weights)
    steps = np.asarray(weights.steps)
    at = np.clip(np.searchsorted(lr_steps, steps), 0, len(lr_steps) - 1)
    ok = (steps <= until_step) & np.isfinite(ratio) & (ratio > 0) & (lr_steps[at] == steps)
    ok[ok] = np.arange(ok.sum()) < max(MIN_SAMPLES, trends.baseline_count(len(steps)))
    if ok.sum() < MIN_SAMPLES:
        return Suggestion(
            None,
            generic,
            f"The 10x is a rule of thumb: the run logged too few update ratios up to step {until_step} to compute "
            f"a rate from it ({int(ok.sum())} of the {MIN_SAMPLES} needed).",
        )
    measured = float(np.median(ratio[ok]))
    used = steps[ok]
    where = (
        f"median {wording.num(measured)} over the first {len(used)} update ratios logged, steps {used[0]} to {used[-1]}"
    )
    if measured <= TARGET_UPDATE_RATIO:
        return Suggestion(
            None,
            generic,
            f"The 10x is a rule of thumb: the measured update ratio ({where}) is not above "
            f"{wording.num(TARGET_UPDATE_RATIO)}, so it gives no lower rate.",
        )
    value = float(np.median(lr[at[ok]] * TARGET_UPDATE_RATIO / ratio[ok]))
    return Suggestion(
        value,
        f"to about {wording.num(value)} (from {wording.num(last)}: the rate that would bring the update ratio, "
        f"{where}, to {wording.num(TARGET_UPDATE_RATIO)} if updates scale with the rate)",
    )


def warmup(run: RunData, first_step: int) -> Suggestion | None:
    """A warmup length when the loss, unstable from `first_step` early in the run (within its
    first `trends.BASELINE_FRACTION` of logged steps), settled: back within the range of every
    loss before `first_step` and staying there for `trends.persistence` steps. None otherwise:
    no early instability that settled, so no length to read off the run."""
    trend = trends.LossTrend.from_run(run)
    if trend is None:
        return None
    values, steps = trend.values, trend.steps
    early = steps[: trends.baseline_count(len(steps))]
    before = values[(steps < first_step) & np.isfinite(values)]
    if first_step > early[-1] or len(before) < MIN_SAMPLES:
        return None
    ceiling = float(before.max())
    after = steps >= first_step
    stable = after & np.isfinite(values) & (values <= ceiling)
    first = np.flatnonzero(after)
    if not len(first) or stable[first[0]]:
        return None  # the loss at `first_step` stayed within its earlier range: nothing settled
    spans = trends.persistent_spans(stable, trends.persistence(len(steps)))
    if not spans:
        return None
    settled = int(steps[spans[0][1]])
    return Suggestion(
        float(settled),
        f"warm the learning rate up over the first {settled} steps (the loss, above every earlier value "
        f"from step {first_step}, was back within their range of up to {wording.num(ceiling)} from step {settled})",
    )
