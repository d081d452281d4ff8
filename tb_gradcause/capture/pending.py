"""Writing a step's records: at once, or after an XLA-compiled step.

A full capture writes every record (and flushes when the step is non-finite, so it is on disk
even if training dies next); any other step writes at most the loss pulse, or holds it to be
written with the steps around it (`loss_chunks`). A step whose full capture is decided by its loss
(`Plan.late`) writes the records of the one case the loss misses, finite loss and non-finite
gradients, under a conditional of their own. XLA has no summary
kernels: a compiled step computes its records as `Pending` (zeros when it does not capture:
XLA needs fixed shapes) and returns their tensors, written after it by `write`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from tb_gradcause import metadata, summary
from tb_gradcause.capture import graph
from tb_gradcause.capture.loss_chunks import LossChunks


@dataclasses.dataclass
class Plan:
    """What a step writes (trace-time tensors)."""

    full: tf.Tensor  # every record
    bad: tf.Tensor  # non-finite: flush after writing
    record_pulse: tf.Tensor  # the loss pulse on a step that is not full
    pulse: summary.Record | None  # the loss pulse (None: the loss is not logged)
    step: tf.Tensor  # int64
    gathered: bool = False  # every replica runs the full capture (its gathers); replica 0 alone writes
    # Non-finite gradients of a finite loss, where `full` is decided by the loss alone; their
    # records (`late_records` of `write`) are then fewer: only those cheap to hold until the check.
    late: tf.Tensor | None = None


def write(
    plan: Plan,
    records: Callable[[], list[summary.Record]],
    chunks: LossChunks | None = None,
    on_bad: Callable[[tf.Tensor], Any] | None = None,
    late_records: Callable[[], list[summary.Record]] | None = None,
) -> None:
    """Write all `records()` when `plan.full` (and flush when `plan.bad`), else only the loss
    pulse if `plan.record_pulse`; `late_records()` too when `plan.late`. `on_bad(step)` runs in a
    non-finite step's capture.

    `chunks`: the loss pulse goes there on every step instead, to be written with the steps
    around it (`loss_chunks`); a non-finite step writes the rows held before its flush. Else a
    pulse known at trace time to go out every step is written outside the capture conditional,
    which then runs nothing when it does not capture.
    """
    pulse, step = plan.pulse, plan.step
    if pulse is not None and chunks is not None:
        chunks.add(pulse, step)
    separate = pulse is not None and chunks is None
    pulse_pred = graph.on_chief(plan.record_pulse) if separate else tf.constant(False)
    known = tf.get_static_value(pulse_pred)
    every_step = known is not None and bool(known)
    if pulse is not None and every_step:
        summary.write_record(pulse, step)

    def written(built: list[summary.Record], bad: tf.Tensor) -> tf.Tensor:
        for record in built:
            if record is not pulse or (separate and not every_step):
                summary.write_record(record, step)
        if chunks is not None:
            graph.cond(bad, chunks.write_held)
        if on_bad is not None:
            graph.cond(bad, lambda: on_bad(step))
        tf.cond(bad, lambda: tf.summary.flush(), tf.no_op)
        return tf.constant(True)

    def write_full():
        built = records()
        write_built = lambda: written(built, plan.bad)  # noqa: E731
        return graph.cond(graph.on_chief(tf.constant(True)), write_built) if plan.gathered else write_built()

    def write_pulse():
        if pulse is not None and separate and known is None:
            graph.cond(pulse_pred, lambda: summary.write_record(pulse, step))
        return tf.constant(False)

    graph.cond(plan.full, write_full, write_pulse, separate=True)
    if plan.late is not None and late_records is not None:
        graph.cond(plan.late, lambda: written(late_records(), tf.constant(True)), separate=True)


@dataclasses.dataclass
class Pending:
    """Records computed inside an XLA step, to be written after it (`write`)."""

    records: list[summary.Record]
    plan: Plan

    @classmethod
    def compute(cls, plan: Plan, records: Callable[[], list[summary.Record]]) -> Pending:
        """Compute `records()` under `plan.full` (zeros otherwise, but for the loss pulse)."""
        built: list[summary.Record] = []

        def capture():
            built[:] = records()
            return [r.values for r in built]

        def skip():
            values = [tf.zeros([len(r.rows), len(metadata.KIND_STATS[r.kind])]) for r in built]
            if plan.pulse is not None:
                values[0] = plan.pulse.values  # the loss pulse, first, is always computed
            return values

        values = tf.cond(plan.full, capture, skip)
        return cls([summary.Record(r.kind, r.rows, v) for r, v in zip(built, values)], plan)

    def tensors(self) -> list[tf.Tensor]:
        p = self.plan
        return [r.values for r in self.records] + [p.full, p.bad, p.record_pulse, p.step]

    def with_tensors(self, tensors: Sequence[tf.Tensor]) -> Pending:
        """The same records carried by `tensors` (e.g. a compiled function's outputs)."""
        n = len(self.records)
        records = [summary.Record(r.kind, r.rows, t) for r, t in zip(self.records, tensors[:n])]
        pulse = next((r for r in records if r.kind == "loss"), None)
        full, bad, record_pulse, step = tensors[n : n + 4]
        return Pending(records, Plan(full, bad, record_pulse, pulse, step))

    def write(self, chunks: LossChunks | None, on_bad: Callable[[tf.Tensor], Any] | None = None) -> None:
        write(self.plan, lambda: self.records, chunks, on_bad)
