"""Which steps a one-step-per-call run captures in full.

Fixed: the multiples of `every_n_steps`. Default (`PHASES`): every 10 steps until step 100,
every 25 until step 1000, then every 100 — early training (where most runs go wrong) and short
runs at high resolution, long runs at a cost that fades (a full capture costs up to about one
plain step on a small model on a CPU; benchmarks/overhead.py). The loss pulse still covers every
step, and a non-finite step is captured whatever the cadence. The schedule depends on the step
only, never on timings: which steps run the full train function must be the same in two runs of
the same program, or their rounding could differ.
"""

from __future__ import annotations

# (first step, capture every) of each phase, in step order.
PHASES: tuple[tuple[int, int], ...] = ((0, 10), (100, 25), (1000, 100))
EARLY_EVERY = PHASES[0][1]


def is_full(step: int, every_n_steps: int | None) -> bool:
    """Whether `step` (0-based, counted across fits) is captured in full."""
    if every_n_steps:
        return step % every_n_steps == 0
    start, every = next((s, e) for s, e in reversed(PHASES) if step >= s)
    return (step - start) % every == 0
