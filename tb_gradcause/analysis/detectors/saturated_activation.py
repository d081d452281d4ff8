"""saturated_activation: sigmoid/tanh/softmax outputs stuck at their bounds while the loss is in trouble.

`saturated_frac` is the fraction of a layer's outputs within 0.5 % of the output range from a
bound (sigmoid beyond |x| ~ 5.3, tanh beyond |x| ~ 3.3): there the slope is < 1 % of its
maximum, so almost no gradient flows back. Confident outputs that are right are fine, hence
the loss guard on output layers. A hidden layer saturated from its first steps is flagged
without it: saturation at initialization is no learned confidence but a scale error (weights
or inputs), and it keeps the layers before it from learning.
"""

from __future__ import annotations

import numpy as np

from tb_gradcause.analysis.causes import Cause, evidence
from tb_gradcause.analysis.reader import RunData
from tb_gradcause.analysis.signals import per_layer, trends, wording

CAUSE_KIND = "saturated_activation"
REQUIRES: tuple[str, ...] = ("activations", "loss")

# At least half of the layer's outputs pinned at a bound (TheDeepChecker / SageMaker use 50 % of units).
SATURATED = 0.5
# A softmax over K classes puts K-1 outputs near 0 whenever it is confident, and all of them
# when K > 200 at initialization: for softmax only a rise by this much over its early level counts.
SOFTMAX_RISE = 0.5


def _advice(layer: str, activation: str, is_output: bool) -> str:
    if is_output:
        return (
            f"The {activation} outputs of {layer} are pinned at their bounds while the loss is not "
            "improving: its inputs (the logits) are huge, so almost no gradient comes back and a log of "
            "the output can reach log(0). Output logits (`activation=None`) and use the loss with "
            "`from_logits=True`; standardize the inputs, lower the learning rate, and check the labels' range."
        )
    return (
        f"{layer}'s {activation} units sit on their flat ends, so almost no gradient passes through them: "
        "their inputs are too large. Use a smaller weight initialization (Glorot), standardize the inputs, "
        "add BatchNormalization before the activation, or use ReLU-family activations in hidden layers."
    )


def detect(run: RunData) -> list[Cause]:
    acts = run["activations"]
    if not acts.has("saturated_frac"):
        return []
    n = per_layer.finite_prefix(acts)
    if n == 0:
        return []
    steps = acts.steps[:n]
    sat = acts.stat("saturated_frac")[:n].astype(np.float64)
    start = trends.baseline(sat)
    trend = trends.LossTrend.from_run(run)
    need = trends.persistence(n)
    deepest = max((row.depth for row in acts.rows), default=-1)
    softmax = np.array([row.activation == "softmax" for row in acts.rows], dtype=bool)
    mask = (sat >= SATURATED) & (~softmax[None, :] | (sat >= start[None, :] + SOFTMAX_RISE))
    events = []
    for r, a, b in trends.persistent_spans(mask, need):
        row = acts.rows[r]
        is_output = row.depth == deepest and row.depth >= 0
        first, last = int(steps[a]), int(steps[b])
        level = float(np.median(sat[a : b + 1, r]))
        items = [evidence("saturated_frac", level, SATURATED, ">=", None, f"median over steps {first}–{last}")]
        trouble = trends.loss_trouble(trend, first, last)
        if trouble is not None:
            items.append(trouble)
        elif not is_output and a == 0 and start[r] >= SATURATED:
            items.append(
                evidence("early_saturated_frac", start[r], SATURATED, ">=", first, "over the first logged steps")
            )
        else:
            continue
        layer = per_layer.row_layer(row)
        activation = row.activation or "saturating"
        events.append(
            Cause.create(
                CAUSE_KIND,
                "warning",
                layer,
                first,
                last,
                f"{wording.num(100 * level)} % of {layer}'s {activation} outputs are saturated from step {first}",
                items,
                _advice(layer, activation, is_output),
            )
        )
    return events
