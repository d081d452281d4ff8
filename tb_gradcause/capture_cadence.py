"""Which steps a one-step-per-call run captures in full.

Fixed: the multiples of `every_n_steps`. Automatic (the default): every `MIN_EVERY` steps for the
first `WARMUP` full steps (early training, and short runs, at full resolution), then spaced so the
measured extra time of full steps stays within `BUDGET` of the plain step time (large conv
activations make a full capture cost most of a step on a CPU), at most `MAX_EVERY` apart.
"""

from __future__ import annotations

import math

MIN_EVERY = 10
MAX_EVERY = 100
WARMUP = 10  # full steps at MIN_EVERY before spacing them
BUDGET = 0.03  # extra time of full steps, as a fraction of the time of lean steps
_SMOOTHING = 0.2


class Cadence:
    """Decides before each step whether it is a full one; learns step times in auto mode."""

    def __init__(self, every_n_steps: int | None):
        self.fixed = every_n_steps
        self.every = every_n_steps or MIN_EVERY
        self.next_full = 0
        self._seconds: dict[bool, float] = {}  # full? -> smoothed duration
        self._seen: set[bool] = set()  # the first step of each kind traces: not timed
        self._full_steps = 0

    def is_full(self, step: int) -> bool:
        if self.fixed:
            return step % self.fixed == 0
        if step >= self.next_full:
            self._full_steps += 1
            self.next_full = step + (self.every if self._full_steps > WARMUP else MIN_EVERY)
            return True
        return False

    def observe(self, seconds: float, full: bool) -> None:
        """Duration of a finished step (auto mode): re-space the full steps."""
        if self.fixed:
            return
        if full not in self._seen:
            self._seen.add(full)
            return
        old = self._seconds.get(full)
        self._seconds[full] = seconds if old is None else old + _SMOOTHING * (seconds - old)
        if len(self._seconds) == 2:
            extra = max(self._seconds[True] - self._seconds[False], 0.0)
            wanted = math.ceil(extra / (BUDGET * max(self._seconds[False], 1e-9)))
            self.every = min(max(wanted, MIN_EVERY), MAX_EVERY)
