"""disconnected_gradient: trainable variables that never get a gradient (None) or only exact
zeros, and layers whose output does not depend on their input (the same for every sample).

Zero gradients explained by dead ReLU units (this or a later layer mostly dead, or the one
just before it) are left to `dead_relu`. Variables upstream of a constant-output layer are reported
with that layer: it is where the graph is cut.
"""

from __future__ import annotations

import numpy as np

from tb_gradcause.analysis.causes import Cause, Evidence, evidence
from tb_gradcause.analysis.detectors import dead_relu
from tb_gradcause.analysis.reader import RunData, Series
from tb_gradcause.analysis.signals import per_layer, trends, wording
from tb_gradcause.rows import RowInfo

CAUSE_KIND = "disconnected_gradient"
REQUIRES: tuple[str, ...] = ("gradients",)

# An output whose across-batch spread is below this fraction of its magnitude is constant
# (float32 rounding of genuinely varying outputs is ~1e-7 relative).
CONSTANT_RELATIVE = 1e-6
# A layer counts as fully dead / saturated (its constant output is another detector's cause).
FULLY = 0.99
# The layer feeding a constant one must vary by at least this much relative to its size: a
# collapse spread over many layers (a deep sigmoid stack) is not a cut in the graph.
VARYING = 1e-3


def _no_gradient(grads: Series, n: int) -> np.ndarray:
    """[R] True for variables whose gradient was missing or exactly zero at every logged step.

    Left out: exact zeros of a variable beside a kernel that gets a gradient at every logged step.
    Its layer is on the loss's path, so a zero for its bias means the loss does not change when the
    layer's output shifts by a constant (a Wasserstein critic's score, a difference of two means):
    a redundant variable, not a cut. A `None` gradient there still counts (a weight `call` never uses)."""
    if n < 2:
        return np.zeros(len(grads.rows), bool)
    zero = grads.stat("l2")[:n] == 0
    if grads.has("zero_frac"):
        zero &= grads.stat("zero_frac")[:n] >= 1.0
    missing = grads.stat("missing")[:n] > 0 if grads.has("missing") else np.zeros_like(zero)
    layers = per_layer.Layers.of(grads.rows)
    kernel = np.array([row.role in per_layer.KERNEL_ROLES for row in grads.rows], bool)
    learning_kernel = np.all(~zero & ~missing, axis=0) & kernel
    on_path = layers.any(learning_kernel[None, :])[0][layers.index]
    return np.all(zero | missing, axis=0) & (np.any(missing, axis=0) | ~on_path)


def _deepest_dead(acts: Series | None, steps: np.ndarray) -> int:
    """Largest depth of a ReLU layer that is mostly dead (median `dead_frac` over `steps` at
    dead_relu's SEVERE level) (-1 if none)."""
    if acts is None or not acts.has("dead_frac"):
        return -1
    sel = np.isin(acts.steps, steps)
    if not sel.any():
        return -1
    dead = np.median(acts.stat("dead_frac")[sel], axis=0) >= dead_relu.SEVERE
    return max((row.depth for row, d in zip(acts.rows, dead) if d and per_layer.is_relu(row)), default=-1)


def _relative_spread(acts: Series, n: int) -> np.ndarray:
    """[n, R] across-batch spread over output size; 0 for all-zero outputs.

    float32: the correctly rounded quotient of two float32 values, compared at orders of magnitude."""
    spread, size = acts.stat("batch_std")[:n], acts.stat("max_abs")[:n]
    with np.errstate(all="ignore"):
        return np.divide(spread, size, out=np.zeros_like(spread), where=size > 0)


def _constant_layer(run: RunData, dead_depth: int) -> tuple[RowInfo, int, int, float] | None:
    """The first layer (forward order) whose output is the same for every sample at every logged
    step while the layer feeding it varies; with its span and largest relative spread.

    A fully dead ReLU layer (dead_relu's) and everything after it, and saturated layers
    (saturated_activation's) are left out; so is a gradual collapse over many layers (each
    layer's predecessor must still vary by VARYING). A one-unit softmax is 1 whatever its input:
    constant by construction, it is the cut even behind dead or constant layers."""
    acts = run.get("activations")
    if acts is None or not all(acts.has(s) for s in ("batch_std", "max_abs")):
        return None
    n = per_layer.finite_prefix(acts)
    if n < 2:
        return None
    rel = _relative_spread(acts, n)
    constant = np.all(rel <= CONSTANT_RELATIVE, axis=0)
    by_construction = np.array([r.activation == "softmax" and r.shape[-1:] == (1,) for r in acts.rows], bool)
    if acts.has("saturated_frac"):
        constant &= ~np.all(acts.stat("saturated_frac")[:n] >= FULLY, axis=0) | by_construction
    typical = trends.typical(rel)
    depths = np.array([row.depth for row in acts.rows], dtype=np.int64)
    for r in sorted(np.flatnonzero(constant), key=lambda r: depths[r]):
        if by_construction[r]:
            return acts.rows[r], int(acts.steps[0]), int(acts.steps[n - 1]), float(np.max(rel[:, r]))
        if dead_depth >= 0 and depths[r] >= dead_depth:
            continue
        before = np.flatnonzero(depths < depths[r])
        if len(before):
            feeds_varying = typical[before[np.argmax(depths[before])]] >= VARYING
        else:
            inputs = run.get("inputs")
            feeds_varying = inputs is None or not inputs.has("std") or bool(np.nanmax(inputs.stat("std")[:n]) > 0)
        if feeds_varying:
            return acts.rows[r], int(acts.steps[0]), int(acts.steps[n - 1]), float(np.max(rel[:, r]))
    return None


def _cut_event(
    row: RowInfo,
    first: int,
    last: int,
    rel: float,
    upstream: dict[str, list[int]],
    grads: Series,
    trouble: Evidence | None,
) -> Cause:
    layer = per_layer.row_layer(row)
    items = [evidence("batch_std_over_max_abs", rel, CONSTANT_RELATIVE, "<=", None, "largest over the logged steps")]
    if upstream:
        variables = [grads.rows[r].name for rows in upstream.values() for r in rows]
        items.append(evidence("variables_without_gradient", len(variables), 0, ">", None, wording.names(variables)))
    if trouble is not None:
        items.append(trouble)
    cls = f" ({row.layer_class})" if row.layer_class else ""
    return Cause.create(
        CAUSE_KIND,
        "warning",
        layer,
        first,
        last,
        f"{layer}'s output does not depend on its input",
        items,
        f"{layer}{cls} returns the same value for every sample: its `call` does not use `inputs` "
        "(e.g. it returns a weight, or a constant of the input's shape). Compute the output from "
        "`inputs`; everything before this layer gets no gradient and cannot learn.",
    )


def _blocker(run: RunData, steps: np.ndarray, learning: set[str]) -> tuple[RowInfo, RowInfo] | None:
    """The layer that zeroes the gradient: the first (forward order) whose output gets a non-zero
    gradient at every logged step while the outputs of all layers before it get exactly 0, with
    the layer just before it. Units before it receive no gradient: its victims, not the cause.
    (All before it, not just the one before: rows carry forward order, not graph edges, and an
    unused branch before a used layer is no blocker. Nor is a layer in `learning`, whose own
    weights get gradients: a layer that learns passes its gradient on.)"""
    back = run.get("backward")
    if back is None or not back.has("l2"):
        return None
    sel = np.isin(back.steps, steps)
    if sel.sum() < 2:
        return None
    flowing = np.all(back.stat("l2")[sel] > 0, axis=0)
    zero = np.all(back.stat("l2")[sel] == 0, axis=0)
    by_depth = {row.depth: r for r, row in enumerate(back.rows) if row.depth >= 0}
    ordered = sorted(by_depth)
    for i, depth in enumerate(ordered[1:], 1):
        earlier = [by_depth[d] for d in ordered[:i]]
        row = back.rows[by_depth[depth]]
        if flowing[by_depth[depth]] and per_layer.row_layer(row) not in learning and all(zero[e] for e in earlier):
            return back.rows[by_depth[depth]], back.rows[earlier[-1]]
        if not zero[by_depth[ordered[i - 1]]]:
            return None
    return None


def _blocker_event(row: RowInfo, fed_by: RowInfo, victims: dict[str, list[int]], grads: Series, n: int) -> Cause:
    layer, source = per_layer.row_layer(row), per_layer.row_layer(fed_by)
    variables = [grads.rows[r].name for rows in victims.values() for r in rows]
    what = f"{row.activation} over {row.shape[-1]} unit" if row.activation == "softmax" and row.shape else ""
    return Cause.create(
        CAUSE_KIND,
        "warning",
        layer,
        int(grads.steps[0]),
        int(grads.steps[n - 1]),
        f"{layer} passes no gradient back: its output's gradient is non-zero, its input's is zero",
        [
            evidence("backward_l2_of_input", 0.0, 0.0, "==", None, f"d loss / d output of {source}, every logged step"),
            evidence("variables_without_gradient", len(variables), 0, ">", None, wording.names(variables)),
        ],
        f"{layer}{f' ({what})' if what else ''} blocks learning before it: "
        + (
            "a softmax over one unit is 1 whatever its input; use `sigmoid` for one binary output (or "
            "two softmax units). "
            if what.endswith(" 1 unit")
            else "its gradient is zero (a custom or hand-written gradient returning zeros, or a "
            "non-differentiable op such as argmax/round/cast/sign). Give it a gradient, e.g. a "
            "straight-through estimator `x + tf.stop_gradient(f(x) - x)`. "
        )
        + f"{wording.names(list(victims))} cannot learn until then.",
    )


def _no_gradient_event(layer: str, rows: list[int], grads: Series, n: int) -> Cause:
    variables = [grads.rows[r].name for r in rows]
    missing = grads.has("missing") and bool(np.all(grads.stat("missing")[:n, rows] > 0))
    what = "no gradient (None)" if missing else "only exact-zero gradients"
    return Cause.create(
        CAUSE_KIND,
        "warning",
        layer,
        int(grads.steps[0]),
        int(grads.steps[n - 1]),
        f"{layer} gets {what} at every step",
        [evidence("steps_without_gradient", n, n, "==", None, f"all logged steps, for {wording.names(variables)}")],
        f"{wording.names(variables)} never change: the loss does not depend on {layer}. Check that its "
        "output reaches the model's output (an unused branch, a layer built but not called, a "
        "`stop_gradient` or a non-differentiable op such as argmax/round/cast on the path), or mark it "
        "`trainable=False` if that is intended.",
    )


def detect(run: RunData) -> list[Cause]:
    grads = run["gradients"]
    n = per_layer.finite_prefix(grads)
    if n == 0:
        return []
    dead_depth = _deepest_dead(run.get("activations"), grads.steps[:n])
    by_layer: dict[str, list[int]] = {}
    for r in np.flatnonzero(_no_gradient(grads, n)):
        row = grads.rows[r]
        if dead_depth >= 0 and 0 <= row.depth <= dead_depth + 1:
            continue  # a fully dead layer blocks the gradient before it and zeroes the next kernel's
        by_layer.setdefault(per_layer.row_layer(row), []).append(int(r))
    events = []
    cut = _constant_layer(run, dead_depth)
    if cut is not None:
        row, first, last, rel = cut
        upstream = {name: rows for name, rows in by_layer.items() if 0 <= grads.rows[rows[0]].depth <= row.depth}
        trouble = trends.loss_trouble(trends.LossTrend.from_run(run), first, last)
        # A model whose output is the same for every sample predicts nothing, whatever its loss does
        # (e.g. a loss read from the logits behind a one-unit softmax still falls).
        is_output = row.depth >= 0 and row.depth == max(r.depth for r in run["activations"].rows)
        if upstream or trouble is not None or is_output:
            events.append(_cut_event(row, first, last, rel, upstream, grads, trouble))
            by_layer = {name: rows for name, rows in by_layer.items() if name not in upstream}
    starved = {name for rows in by_layer.values() for name in [per_layer.row_layer(grads.rows[rows[0]])]}
    learning = {per_layer.row_layer(row) for row in grads.rows} - starved
    blocked = _blocker(run, grads.steps[:n], learning) if by_layer else None
    if blocked is not None:
        row, fed_by = blocked
        victims = {name: rows for name, rows in by_layer.items() if 0 <= grads.rows[rows[0]].depth <= row.depth}
        if victims:
            events.append(_blocker_event(row, fed_by, victims, grads, n))
            by_layer = {name: rows for name, rows in by_layer.items() if name not in victims}
    return events + [_no_gradient_event(layer, rows, grads, n) for layer, rows in by_layer.items()]
