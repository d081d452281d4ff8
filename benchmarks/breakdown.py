"""Where a lean step's cost goes: the variants of `overhead.py --groups breakdown` (steps method).

Each is GradCauseCallback on lean steps only (`every_n_steps=10**9`; the steps method starts
past step 0) with pieces of the step switched off by patching tb_gradcause while its train
function traces, so the package keeps no knob for them. Beside them in the group: plain Keras
with a hand-written finite check (`floor_check`), the least an in-step check costs.

The `late` group asks why the full-capture conditional costs a step that never takes it: the same
conditional with a body that takes nothing, or decided by the loss alone (known after the forward
pass instead of after the whole backward pass), and what a replay of the one case the loss cannot
decide (finite loss, non-finite gradients) would have to keep.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

LEAN = {"every_n_steps": 10**9}
_SINK: list = []  # one boolean variable: a value stored in it stays in the step (one nothing reads is pruned)


def _keep_alive(flag: Any) -> None:
    import tensorflow as tf

    if not _SINK:
        with tf.init_scope():
            _SINK.append(tf.Variable(False, trainable=False, name="breakdown_sink"))
    _SINK[0].assign(flag)


def _no_spike() -> tuple:
    import tensorflow as tf

    from tb_gradcause.capture import check

    return (check.SpikeWatch, "observe", lambda self, loss: tf.constant(False))


def _no_full_branch() -> tuple:
    """`pending.write` without the conditional full capture: only the loss row goes to its chunk.
    Its predicate is stored, so the finite check that decides it still runs."""
    from tb_gradcause.capture import step

    def write(plan, records, chunks=None, on_bad=None):
        if plan.pulse is not None and chunks is not None:
            chunks.add(plan.pulse, plan.step)
        _keep_alive(plan.full)

    return (step, "write", write)


def _late_trivial() -> tuple:
    """The full-capture conditional on its own predicate, with a body that takes no tensor."""
    import tensorflow as tf

    from tb_gradcause.capture import graph, step

    def write(plan, records, chunks=None, on_bad=None):
        if plan.pulse is not None and chunks is not None:
            chunks.add(plan.pulse, plan.step)
        graph.cond(plan.full, lambda: tf.constant(True), separate=True)

    return (step, "write", write)


def _early_predicate(late: list | None = None) -> tuple:
    """The full capture decided by the loss alone (non-finite or spiking, or the cadence), known
    after the forward pass; the gradient check still runs (stored). `late` gets the predicate of
    the steps it misses: finite loss, non-finite gradients."""
    from tb_gradcause.capture import graph, step

    original = step.StepCapture._plan

    def _plan(self, at, cadence, check, lr, scale):
        plan = original(self, at, cadence, check, lr, scale)
        early = graph.on_chief(graph.logical_or(cadence, graph.logical_or(check.loss_bad, check.spike)))
        _keep_alive(plan.full)
        if late is not None:
            late.append(graph.logical_and(plan.full, graph.logical_not(early)))
        return dataclasses.replace(plan, full=early)

    return (step.StepCapture, "_plan", _plan)


def _early_keep(gated: bool) -> list[tuple]:
    """`_early_predicate`, plus what a later replay of the steps it misses would need: a
    conditional on their (late) predicate holding the batch and the weights' values read before
    the update; with `gated` the update waits for it, else the update runs beside it."""
    import tensorflow as tf

    from tb_gradcause.capture import graph, step

    late: list = []
    original_apply = step.StepCapture.apply

    def apply(self, rec, mode, x, original, grads, variables):
        def update(grads_, variables_):
            held = [tf.convert_to_tensor(graph.variable_value(v)) for v in variables_]
            held += [t for t in tf.nest.flatten(rec.data) if isinstance(t, tf.Tensor)]
            kept = graph.cond(
                late[-1], lambda: tf.add_n([tf.reduce_sum(tf.cast(t, tf.float32)) for t in held]) > 0, separate=True
            )
            with tf.control_dependencies([kept] if gated else []):
                return original(grads_, variables_)

        return original_apply(self, rec, mode, x, update, grads, variables)

    return [_early_predicate(late), (step.StepCapture, "apply", apply)]


def _no_snapshot() -> tuple:
    from tb_gradcause.capture import step

    return (step.StepCapture, "_snapshot", lambda self, *args: None)


def _no_probes() -> tuple:
    from tb_gradcause.capture import hooks

    return (hooks, "_probe", lambda x, store: x)


def _without(*kinds: str) -> dict:
    from tb_gradcause.metadata import SUMMARY_KINDS

    return {"kinds": [k for k in SUMMARY_KINDS if k not in kinds]}


# variant -> (GradCauseCallback arguments, the patches held while it traces)
VARIANTS: dict[str, tuple[Callable[[], dict], Callable[[], list[tuple]]]] = {
    "lean": (lambda: LEAN, lambda: []),
    "lean_no_spike": (lambda: LEAN, lambda: [_no_spike()]),
    "lean_no_loss_row": (lambda: {**LEAN, "loss_every_step": False}, lambda: []),
    "lean_no_keep": (lambda: {**LEAN, **_without("nan_origin")}, lambda: []),
    "lean_no_snapshot_keep": (lambda: {**LEAN, **_without("nan_origin")}, lambda: [_no_snapshot()]),
    "lean_no_full_branch": (lambda: LEAN, lambda: [_no_full_branch()]),
    "lean_no_probes": (lambda: LEAN, lambda: [_no_probes()]),
    "lean_late_trivial": (lambda: LEAN, lambda: [_late_trivial()]),
    "lean_early_predicate": (lambda: LEAN, lambda: [_early_predicate()]),
    "lean_early_keep": (lambda: LEAN, lambda: _early_keep(gated=False)),
    "lean_early_keep_gated": (lambda: LEAN, lambda: _early_keep(gated=True)),
    "lean_check_only": (
        lambda: {**LEAN, "loss_every_step": False, **_without("nan_origin")},
        lambda: [_no_spike(), _no_full_branch(), _no_snapshot(), _no_probes()],
    ),
}

# The conditional's experiments: the `late` group of `overhead.py`, beside the lean step with and without it.
EXPERIMENTS = ("lean_late_trivial", "lean_early_predicate", "lean_early_keep", "lean_early_keep_gated")
LATE = ("lean", "lean_no_full_branch", *EXPERIMENTS)


def arguments(variant: str) -> dict:
    return VARIANTS[variant][0]()


@contextlib.contextmanager
def tracing(variant: str) -> Iterator[None]:
    """Hold `variant`'s patches (none for a variant not in VARIANTS), originals back afterwards."""
    patches: list[tuple[Any, str, Any]] = VARIANTS[variant][1]() if variant in VARIANTS else []
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, value in patches:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in originals:
            setattr(owner, name, value)
