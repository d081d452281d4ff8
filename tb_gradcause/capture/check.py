"""The finite check every training step runs before the optimizer applies its gradients.

One sum of the loss and of every gradient's sum: finite iff none holds a NaN/Inf (barring
overflow of the sum, itself a sign of trouble). It overlaps the rest of the backward pass, and
every Keras optimizer passes a NaN/Inf gradient on to the weights it updates, so it also
catches the step that makes the weights non-finite. Under a loss scaler, non-finite scaled
gradients are the scaler's business (it skips the step); only a non-finite loss counts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import tensorflow as tf


@dataclasses.dataclass
class Check:
    """What the check found (trace-time tensors)."""

    loss: tf.Tensor | None  # float32 scalar; under a strategy the global mean (None: no loss seen)
    loss_bad: tf.Tensor  # this replica's loss is non-finite (known before the gradients are)
    bad: tf.Tensor  # the step is non-finite on some replica: captured in full and flushed
    skipped: tf.Tensor  # the loss scaler skips this step's update


def check_step(loss: tf.Tensor | None, grads: Sequence, scaled: bool) -> Check:
    """Check this replica's float32 `loss` and `grads`. With several replicas, one collective
    makes `bad` and the loss global (Keras divides each replica's loss by the replica count, so
    their sum is the mean)."""
    loss_bad = tf.logical_not(tf.math.is_finite(loss)) if loss is not None else tf.constant(False)
    if scaled:
        skipped = tf.logical_not(all_finite(grads))
        bad = loss_bad
    else:
        skipped = tf.constant(False)
        bad = tf.logical_not(all_finite(list(grads) + ([loss] if loss is not None else [])))
    if tf.distribute.get_strategy().num_replicas_in_sync > 1:
        summed = tf.distribute.get_replica_context().all_reduce(
            tf.distribute.ReduceOp.SUM, tf.stack([tf.cast(bad, tf.float32), loss if loss is not None else 0.0])
        )
        bad = summed[0] > 0
        loss = summed[1] if loss is not None else None
    return Check(loss=loss, loss_bad=loss_bad, bad=bad, skipped=skipped)


def all_finite(tensors: Sequence) -> tf.Tensor:
    """Whether the sum of each float tensor's sum is finite (IndexedSlices: their values)."""
    sums = [
        tf.reduce_sum(tf.cast(g.values if isinstance(g, tf.IndexedSlices) else g, tf.float32))
        for g in tensors
        if g is not None and tf.as_dtype(g.dtype).is_floating
    ]
    if not sums:
        return tf.constant(True)
    return tf.math.is_finite(tf.add_n(sums))
