"""Which steps are captured in full: the one owner of `every_n_steps`.

Fixed (`every_n_steps=N`): the multiples of N. Default (None, `PHASES`): every 10 steps until
step 100, every 25 until step 1000, then every 100. Early training (where most runs go wrong) and
short runs get full resolution; in long runs the cost of full captures fades. The loss pulse
still covers every step, and a non-finite step is captured whatever the cadence.

The schedule is a function of the step alone, never of timings: two runs of the same program
must capture the same steps (which train function runs a step must not depend on the machine's
load), whether the step is decided on the host (one step per call, `HostSchedule`) or in the
graph (several steps per call, `Cadence.in_graph`).
"""

from __future__ import annotations

import dataclasses
import enum

import tensorflow as tf

# (first step, capture every) of each phase, in step order.
PHASES: tuple[tuple[int, int], ...] = ((0, 10), (100, 25), (1000, 100))


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
        chose the function), else `is_full` computed from the int64 `step`."""
        if mode is Mode.FULL:
            return tf.constant(True)
        if mode is Mode.LEAN:
            return tf.constant(False)
        if self.every_n_steps:
            return tf.math.floormod(step, self.every_n_steps) == 0
        start, every = (tf.constant(v, step.dtype) for v in PHASES[0])
        for phase_start, phase_every in PHASES[1:]:
            later = step >= phase_start
            start = tf.where(later, tf.constant(phase_start, step.dtype), start)
            every = tf.where(later, tf.constant(phase_every, step.dtype), every)
        return tf.math.floormod(step - start, every) == 0


class HostSchedule:
    """One step per call: whether the coming batch runs the full train function.

    The writer's first step is full even off the cadence: lean steps write their loss pulse
    without metadata, which TensorBoard takes from a tag's first event, so a full step must
    come first (a model may have trained before the callback, its first step off the cadence).
    """

    def __init__(self, cadence: Cadence):
        self.cadence = cadence
        self.next_step = 0  # the coming batch's step
        self._writer_started = False

    def next_is_full(self) -> bool:
        """Decide the coming batch, then count it."""
        full = not self._writer_started or self.cadence.is_full(self.next_step)
        self._writer_started = True
        self.next_step += 1
        return full
