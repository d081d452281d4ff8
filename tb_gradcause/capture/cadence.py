"""Which steps are captured in full: the one owner of `every_n_steps`.

Fixed (`every_n_steps=N`): the multiples of N. Default (None, `PHASES`): every 10 steps until
step 100, every 25 until step 1000, every 100 until step 100,000, then a hundredth of the step's
power of ten (every 1000 from 100,000, every 10,000 from 1,000,000, ...). Early training (where
most runs go wrong) and short runs get full resolution; past step 100,000 each power of ten of
steps gets 900 captures, so a long run's logs grow with the logarithm of its length. The loss
row still covers every step, and a non-finite step or a loss spike is captured whatever the cadence.

The schedule is a function of the step alone, never of timings: two runs of the same program
must capture the same steps (which train function runs a step must not depend on the machine's
load), whether the step is decided on the host (one step per call, `HostSchedule`) or in the
graph (several steps per call, `Cadence.in_graph`).
"""

from __future__ import annotations

import dataclasses
import enum

import tensorflow as tf

# (first step, capture every) of each phase, in step order, to the largest power of ten in an int64.
PHASES: tuple[tuple[int, int], ...] = ((0, 10), (100, 25), (1000, 100)) + tuple(
    (10**k, 10 ** (k - 2)) for k in range(5, 19)
)


class Mode(enum.Enum):
    """How a train function decides whether its step is captured in full (besides a non-finite
    step, always captured): on every step, never, or by the cadence in the graph."""

    FULL = "full"
    LEAN = "lean"
    IN_GRAPH = "in_graph"  # several steps per call: the host cannot swap functions between them


def is_full(step: int, every_n_steps: int | None) -> bool:
    """Whether `step` (0-based, counted across fits) is on the cadence."""
    if every_n_steps:
        return step % every_n_steps == 0
    start, every = next((s, e) for s, e in reversed(PHASES) if step >= s)
    return (step - start) % every == 0


@dataclasses.dataclass(frozen=True)
class Cadence:
    """`every_n_steps` as the user gave it (None: the default `PHASES`), checked once."""

    every_n_steps: int | None = None

    def __post_init__(self) -> None:
        n = self.every_n_steps
        if n is not None and int(n) < 1:
            raise ValueError(f"every_n_steps must be >= 1 or None, got {n}")
        object.__setattr__(self, "every_n_steps", int(n) if n is not None else None)

    def is_full(self, step: int) -> bool:
        return is_full(step, self.every_n_steps)

    def in_graph(self, mode: Mode, step: tf.Tensor) -> tf.Tensor:
        """Whether the traced step is on the cadence: a constant for FULL and LEAN (the host
        chose the function), else `is_full` computed from the int64 `step` (elementwise)."""
        if mode is Mode.FULL:
            return tf.constant(True)
        if mode is Mode.LEAN:
            return tf.constant(False)
        if self.every_n_steps:
            return tf.math.floormod(step, self.every_n_steps) == 0
        starts, everys = (tf.constant(column, step.dtype) for column in zip(*PHASES))
        # The step's phase: the last one started (a count, not a search: XLA has no search kernel).
        phase = tf.reduce_sum(tf.cast(tf.expand_dims(step, -1) >= starts, tf.int32), axis=-1) - 1
        return tf.math.floormod(step - tf.gather(starts, phase), tf.gather(everys, phase)) == 0


class HostSchedule:
    """One step per call: whether the coming batch runs the full train function."""

    def __init__(self, cadence: Cadence):
        self.cadence = cadence
        self.next_step = 0  # the coming batch's step

    def next_is_full(self) -> bool:
        """Decide the coming batch, then count it."""
        full = self.cadence.is_full(self.next_step)
        self.next_step += 1
        return full
