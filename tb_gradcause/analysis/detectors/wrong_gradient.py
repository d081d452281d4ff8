"""wrong_gradient: a layer's hand-written gradient disagrees with the function it computes.

The capture checks the layers running code of the user's own once, at the first captured step
(`capture/gradient_check.py`): per float input and for the trainable weights together, the autodiff directional
derivatives along random directions against central finite differences, and the autodiff
gradient for twice the upstream gradient against once. What the numbers say, in order:

- ignores the upstream gradient: twice the upstream gives the same gradient (ratio 1, not 2);
- zero: the function changes (the finite differences are well above their rounding error) and
  the autodiff gradient is nearly zero (tensorflow/tensorflow #42311);
- sign-flipped or a wrong magnitude: the autodiff derivatives are a multiple of the true ones
  (negative, or positive and not 1);
- otherwise simply wrong: not a multiple of the true ones.

Silent by design: a numeric gradient within its rounding error (a piecewise-constant function
with a surrogate gradient, e.g. a straight-through estimator written with `tf.custom_gradient`),
a layer whose forward graph holds a `StopGradient` (straight-through estimators, targets held
fixed), a layer whose output is its input unchanged (it exists for its backward pass: gradient
reversal, scaling or clipping).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tb_gradcause.analysis.causes import Cause, evidence
from tb_gradcause.analysis.reader import RunData, Series
from tb_gradcause.analysis.signals import wording
from tb_gradcause.rows import RowInfo

CAUSE_KIND = "wrong_gradient"
REQUIRES: tuple[str, ...] = ("gradient_check",)
# Why a run may have no `gradient_check` rows: nothing to check, or a loop that does not check.
NOT_LOGGED = (
    "no gradient check logged: fit checks only layers with a call or gradient of their own (Keras' built-in "
    "layers are not checked), and custom training loops do not run the check"
)

# Relative error between autodiff and finite differences above which the gradient is wrong. The
# check's own error is far below: float32 central differences at h = eps^(1/3) agree with a correct
# gradient to ~1e-4 on smooth layers, and a perturbation crossing a ReLU kink moves that one
# element's term only (a few 1e-3 over a layer); a gradient off by 10% is a bug, not rounding.
REL_ERROR = 0.1
# The finite differences say something only well above their own error (`noise`: rounding, and their
# disagreement at two step sizes).
NOISE_FACTOR = 10.0


@dataclasses.dataclass(frozen=True)
class _Check:
    """One checked argument (a layer's input or weight) at the step it was checked."""

    row: RowInfo
    step: int
    rel_error: float
    numeric: float
    autodiff: float
    scale: float
    upstream: float
    noise: float
    identity: float

    @property
    def finding(self) -> str | None:
        """What the numbers say ("zero", "ignores upstream", ...), None when nothing is wrong."""
        if self.row.facts.get("by_design") or self.identity >= 1:
            return None
        floor = NOISE_FACTOR * self.noise
        if self.autodiff > floor and abs(self.upstream - 2) > 2 * REL_ERROR:
            return "ignores upstream"
        if not self.numeric > floor or not self.rel_error > REL_ERROR:
            return None
        if self.autodiff <= REL_ERROR * self.numeric:
            return "zero"
        parallel = abs(self.scale) * self.numeric >= (1 - REL_ERROR) * self.autodiff
        if parallel and self.scale < 0:
            return "opposite sign"
        if parallel and abs(self.scale - 1) > REL_ERROR:
            return "wrong magnitude"
        return "wrong"


def detect(run: RunData) -> list[Cause]:
    checks = _checks(run["gradient_check"])
    by_layer: dict[str, list[_Check]] = {}
    for check in checks:
        if check.finding is not None:
            by_layer.setdefault(check.row.owner, []).append(check)
    return [_cause(layer, found) for layer, found in by_layer.items()]


def _checks(series: Series) -> list[_Check]:
    """Each row at the first step it was checked with finite numbers."""
    columns = {stat: series.stat(stat) for stat in series.stats}
    found = []
    for r, row in enumerate(series.rows):
        finite = np.flatnonzero(np.isfinite(columns["rel_error"][:, r]) & np.isfinite(columns["numeric"][:, r]))
        if len(finite) == 0:
            continue
        s = int(finite[0])
        values = {stat: float(columns[stat][s, r]) for stat in series.stats}
        found.append(
            _Check(
                row,
                int(series.steps[s]),
                values["rel_error"],
                values["numeric"],
                values["autodiff"],
                values["scale"],
                values["upstream_ratio"],
                values["noise"],
                values["identity"],
            )
        )
    return found


def _what(check: _Check) -> str:
    """The argument, for people: "its input", "its input 1", "its weights"."""
    return f"its {check.row.role.replace('_', ' ')}"


_SAYS = {
    "zero": "is zero where the function changes",
    "opposite sign": "has the wrong sign",
    "ignores upstream": "ignores the upstream gradient",
    "wrong magnitude": "has the wrong magnitude",
    "wrong": "does not match the function",
}


def _cause(layer: str, found: list[_Check]) -> Cause:
    worst = max(found, key=lambda c: (c.finding == "ignores upstream", c.rel_error))
    finding = worst.finding
    assert finding is not None
    cls = worst.row.layer_class
    named = f"{layer} ({cls})" if cls else layer
    others = [c for c in found if c is not worst]
    also = "".join(f"; also {_what(c)}: {_SAYS[c.finding or 'wrong']}" for c in others)
    facts = worst.row.facts
    note = (
        f"w.r.t. {_what(worst).removeprefix('its ')}: numeric {wording.num(worst.numeric)}, autodiff "
        f"{wording.num(worst.autodiff)} along {facts.get('directions', 'a few')} random directions, "
        f"h {facts.get('h', '?')} in {facts.get('dtype', 'its dtype')}{also}"
    )
    items = []
    if finding == "ignores upstream":
        op = "<" if worst.upstream < 2 else ">"
        items.append(evidence("gradient_check.upstream_ratio", worst.upstream, 2.0, op, worst.step, note=note))
    else:
        items.append(evidence("gradient_check.rel_error", worst.rel_error, REL_ERROR, ">", worst.step, note=note))
    if finding in ("opposite sign", "wrong magnitude"):
        items.append(evidence("gradient_check.scale", worst.scale, 1.0, "<" if worst.scale < 1 else ">", worst.step))
    return Cause.create(
        CAUSE_KIND,
        "error",
        layer,
        worst.step,
        worst.step,
        f"The gradient of {named} {_SAYS[finding]} w.r.t. {_what(worst)} "
        f"(relative error {wording.num(worst.rel_error)} against finite differences)",
        items,
        _advice(finding, worst),
    )


def _advice(finding: str, check: _Check) -> str:
    where = "its gradient function (the `grad` a `tf.custom_gradient` returns, or the layer's own ops)"
    fix = {
        "zero": "It returns zero where the function's output does change, so nothing before this layer "
        "learns through it (tensorflow/tensorflow #42311). Return the derivative times the upstream "
        "gradient (`dy * f'(x)`), or drop the custom gradient and let autodiff differentiate; for a "
        "step-like function, use a surrogate on purpose: a straight-through estimator "
        "(`x + tf.stop_gradient(f(x) - x)`).",
        "opposite sign": f"It is {wording.num(check.scale)} times the true derivative: gradient descent "
        "through it climbs the loss. Check the sign of the derivative (a gradient reversal layer does this "
        "on purpose, but its output is its input, which this check recognizes).",
        "ignores upstream": "Doubling the gradient arriving from the layers after it "
        f"(`dy`) changes the result {wording.num(check.upstream)}-fold instead of 2-fold: the gradient "
        "function returns f'(x) where the chain rule needs `dy * f'(x)`, so the loss no longer steers "
        "what flows back.",
        "wrong magnitude": f"It is {wording.num(check.scale)} times the true derivative, as if a factor "
        "were missing or doubled: the layers before it train at a learning rate scaled by that factor. "
        "Fix the derivative's constant.",
        "wrong": "It is not a multiple of the true derivative: the layers before it follow a direction "
        "unrelated to the loss. Compare the gradient function with the derivative of the forward "
        "computation (`tf.test.compute_gradient` checks one numerically).",
    }[finding]
    return f"Check {where}. {fix}"
