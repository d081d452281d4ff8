"""Where a lean step's cost goes: the variants of `overhead.py --groups breakdown` (steps method).

Each is GradCauseCallback on lean steps only (`every_n_steps=10**9`; the steps method starts
past step 0) with pieces of the step switched off by patching tb_gradcause while its train
function traces, so the package keeps no knob for them. Beside them in the group: plain Keras
with a hand-written finite check (`floor_check`), the least an in-step check costs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

LEAN = {"every_n_steps": 10**9}


def _no_spike() -> tuple:
    import tensorflow as tf

    from tb_gradcause.capture import check

    return (check.SpikeWatch, "observe", lambda self, loss: tf.constant(False))


def _no_full_branch() -> tuple:
    """`pending.write` without the conditional full capture: only the loss row goes to its chunk."""
    from tb_gradcause.capture import step

    def write(plan, records, chunks=None, on_bad=None):
        if plan.pulse is not None and chunks is not None:
            chunks.add(plan.pulse, plan.step)

    return (step, "write", write)


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
    "lean_check_only": (
        lambda: {**LEAN, "loss_every_step": False, **_without("nan_origin")},
        lambda: [_no_spike(), _no_full_branch(), _no_snapshot(), _no_probes()],
    ),
}


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
