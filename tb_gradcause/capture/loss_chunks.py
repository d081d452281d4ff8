"""The loss row of every step, written a chunk of consecutive steps at a time.

As an event of its own, a step's loss row (16 bytes of values) takes about 100 bytes on disk and
one entry in TensorBoard's memory: over a long run the per-step loss would outweigh every full
capture. So each step's row goes into a buffer on the device, and one `loss` summary of shape
[n, 4] carries the rows of n consecutive steps from its own step (`summary.write`'s
`consecutive`; the reader spreads them back out). The rows held are written when the next row
does not fit (`CHUNK` rows held, or a step that does not follow the last one), on a non-finite
step (inside its capture, before the flush: the loss right up to a NaN is on disk if training
dies next) and by the host at the end of each epoch, of training and of the process (`flush`).
"""

from __future__ import annotations

import tensorflow as tf

from tb_gradcause import metadata, summary
from tb_gradcause.capture import graph
from tb_gradcause.rows import LOSS, RowInfo

# Steps per loss summary: ~17 bytes per step on disk instead of ~100, 1/100 of the events to load.
CHUNK = 100

_ROWS = [RowInfo(name=LOSS, depth=-1)]  # as `summary.loss_record`'s


class LossChunks:
    """The buffer of loss rows not yet written, on the device: one per writer."""

    def __init__(self) -> None:
        with tf.init_scope():
            width = len(metadata.KIND_STATS["loss"])
            self._rows = tf.Variable(tf.zeros([CHUNK, width]), trainable=False, name="gradcause_loss_rows")
            self._first = tf.Variable(0, dtype=tf.int64, trainable=False, name="gradcause_loss_first_step")
            self._count = tf.Variable(0, dtype=tf.int64, trainable=False, name="gradcause_loss_rows_held")

    def add(self, pulse: summary.Record, step: tf.Tensor) -> None:
        """Hold the one-row loss record `pulse` of the int64 `step` (trace time, on replica 0 only:
        it alone writes), writing the rows held first when it does not fit."""

        def add() -> tf.Tensor:
            count, first = self._count.read_value(), self._first.read_value()
            due = (count >= CHUNK) | ((count > 0) & tf.not_equal(step, first + count))
            graph.cond(due, lambda: self._write(first, count))
            count = tf.where(due, tf.constant(0, tf.int64), count)
            with tf.control_dependencies(
                [
                    self._rows[count].assign(tf.reshape(tf.cast(pulse.values, tf.float32), [-1])),
                    self._first.assign(tf.where(count > 0, first, step), read_value=False),
                    self._count.assign(count + 1, read_value=False),
                ]
            ):
                return tf.constant(True)

        graph.cond(graph.on_chief(tf.constant(True)), add)

    def write_held(self) -> tf.Tensor:
        """Write the rows held and empty the buffer (trace time: a non-finite step's capture)."""
        count, first = self._count.read_value(), self._first.read_value()
        written = graph.cond(count > 0, lambda: self._write(first, count))
        with tf.control_dependencies([written, self._count.assign(0, read_value=False)]):
            return tf.constant(True)

    def flush(self) -> None:
        """Write the rows held to the default writer and empty the buffer (eagerly, on the host)."""
        count = int(self._count.numpy())
        if count:
            self._write(self._first.read_value(), tf.constant(count, tf.int64))
            self._count.assign(0)

    def _write(self, first: tf.Tensor, count: tf.Tensor) -> tf.Tensor:
        return summary.write("loss", _ROWS, self._rows[:count], step=first, consecutive=True)
