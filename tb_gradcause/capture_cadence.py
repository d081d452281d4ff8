"""Which steps a one-step-per-call run captures in full.

Fixed: the multiples of `every_n_steps`. Default: every `EARLY_EVERY` steps until step
`EARLY_STEPS` (early training, and short runs, at full resolution), then every `LATER_EVERY`.
The schedule depends on the step only, never on timings: which steps run the full train
function must be the same in two runs of the same program, or their rounding could differ.
`LATER_EVERY` comes from benchmarks/overhead.py: a full capture costs up to ~0.9 of a step on a
small CNN on a CPU (batch-sized activations and backward signals), 1/25 of that is ~3.5 %.
"""

from __future__ import annotations

EARLY_EVERY = 10
EARLY_STEPS = 100
LATER_EVERY = 25


def is_full(step: int, every_n_steps: int | None) -> bool:
    """Whether `step` (0-based, counted across fits) is captured in full."""
    if every_n_steps:
        return step % every_n_steps == 0
    if step < EARLY_STEPS:
        return step % EARLY_EVERY == 0
    return (step - EARLY_STEPS) % LATER_EVERY == 0
