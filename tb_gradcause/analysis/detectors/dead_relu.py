"""dead_relu: a large, lasting fraction of a ReLU layer's units output zero for every sample.

`dead_frac` counts units that are <= 0 for every sample of the logged batch. Healthy ReLU nets
keep some dead units; a layer is flagged when almost all of it is dead, or when most of it is
dead while the loss is in trouble.
"""

from __future__ import annotations

import numpy as np

from tb_gradcause.analysis.causes import Cause, evidence
from tb_gradcause.analysis.reader import RunData
from tb_gradcause.analysis.signals import per_layer, trends, wording

CAUSE_KIND = "dead_relu"
REQUIRES: tuple[str, ...] = ("activations",)

# Dead no matter how the loss behaves: at most 1 unit in 10 still carries signal.
SEVERE = 0.9
# Dead while the loss is stalled or rising (SageMaker Debugger's 50 % rule with a loss guard).
MAJORITY = 0.5
# All units dead: the layer passes no gradient at all.
ALL_DEAD = 0.999


def _advice(layer: str, from_start: bool, grads_zero: float | None) -> str:
    if from_start:
        why = (
            f"{layer} is dead from the first steps: its pre-activations are negative for every input. Check "
            "the bias initializer (a negative constant), the weight initializer's sign/scale and the input "
            "scale; use He initialization and zero biases."
        )
    else:
        why = (
            f"{layer}'s units died during training: large updates pushed their pre-activations below zero "
            "for good. Lower the learning rate (or add warmup / gradient clipping)."
        )
    tail = " Dead units get no gradient" + (
        f" ({wording.num(100 * grads_zero)} % of its kernel gradient is exactly 0)." if grads_zero is not None else "."
    )
    return why + tail + " LeakyReLU/ELU/GELU cannot die; BatchNormalization before the ReLU also helps."


def _kernel_zero_frac(run: RunData, layer: str, first: int, last: int) -> float | None:
    grads = run.get("gradients")
    if grads is None or not grads.has("zero_frac"):
        return None
    rows = [i for i, r in enumerate(grads.rows) if per_layer.row_layer(r) == layer and r.role == "kernel"]
    sel = (grads.steps >= first) & (grads.steps <= last)
    if not rows or not sel.any():
        return None
    return float(np.nanmedian(grads.stat("zero_frac")[np.ix_(sel, np.asarray(rows))]))


def detect(run: RunData) -> list[Cause]:
    acts = run["activations"]
    if not acts.has("dead_frac"):
        return []
    n = per_layer.finite_prefix(acts)
    if n == 0:
        return []
    steps = acts.steps[:n]
    dead = acts.stat("dead_frac")[:n].astype(np.float64)
    trend = trends.LossTrend.from_run(run)
    need = trends.persistence(n)
    events = []
    relu = np.array([per_layer.is_relu(row) for row in acts.rows], dtype=bool)
    for r, a, b in trends.persistent_spans((dead >= MAJORITY) & relu[None, :], need):
        row = acts.rows[r]
        first, last = int(steps[a]), int(steps[b])
        level = float(np.median(dead[a : b + 1, r]))
        threshold = SEVERE if level >= SEVERE else MAJORITY
        items = [evidence("dead_frac", level, threshold, ">=", None, f"median over steps {first}–{last}")]
        if level < SEVERE:
            trouble = trends.loss_trouble(trend, first, last)
            if trouble is None:
                continue
            items.append(trouble)
        zero = _kernel_zero_frac(run, per_layer.row_layer(row), first, last)
        if zero is not None and zero > 0:  # only a share that shows it is evidence (and quoted in the advice)
            items.append(evidence("kernel_grad_zero_frac", zero, 0, ">"))
        else:
            zero = None
        from_start = a == 0 and bool(dead[0, r] >= MAJORITY)
        events.append(
            Cause.create(
                CAUSE_KIND,
                "error" if level >= ALL_DEAD else "warning",
                per_layer.row_layer(row),
                first,
                last,
                f"{wording.num(100 * level)} % of {per_layer.row_layer(row)}'s ReLU units are dead "
                + ("from the start" if from_start else f"from step {first}"),
                items,
                _advice(per_layer.row_layer(row), from_start, zero),
            )
        )
    return events
