"""The checks every training step runs before the optimizer applies its gradients.

Finite: one sum of the loss and of every gradient's sum: finite iff none holds a NaN/Inf
(barring overflow of the sum, itself a sign of trouble). It overlaps the rest of the backward
pass, and every Keras optimizer passes a NaN/Inf gradient on to the weights it updates, so it
also catches the step that makes the weights non-finite. Under a loss scaler, non-finite scaled
gradients are the scaler's business (it skips the step); only a non-finite loss counts.

Spike: the loss far above every loss before it (`SpikeWatch`), e.g. an outlier batch between two
cadence steps: that step is captured in full too, so its batch is on disk where it struck.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import tensorflow as tf

from tb_gradcause.capture import graph


@dataclasses.dataclass
class Check:
    """What the check found (trace-time tensors)."""

    loss: tf.Tensor | None  # float32 scalar; under a strategy the global mean (None: no loss seen)
    loss_bad: tf.Tensor  # this replica's loss is non-finite (known before the gradients are)
    bad: tf.Tensor  # the step is non-finite on some replica: captured in full and flushed
    skipped: tf.Tensor  # the loss scaler skips this step's update
    spike: tf.Tensor  # the loss spikes (`SpikeWatch`); under a strategy, the global loss

    def shared(self) -> tf.Tensor:
        """What the replicas sum: [this replica is non-finite (0 or 1), its loss (0: none)]."""
        return tf.stack([tf.cast(self.bad, tf.float32), self.loss if self.loss is not None else tf.constant(0.0)])

    def joined(self, summed: tf.Tensor | None, spikes: SpikeWatch | None) -> Check:
        """The check with `bad` and the loss of `summed` (the replicas' `shared()` summed; None:
        one replica) and the loss watched for a spike, given `spikes`. Keras divides each
        replica's loss by the replica count, so their sum is the mean."""
        bad, loss = self.bad, self.loss
        if summed is not None:
            bad = summed[0] > 0
            loss = summed[1] if loss is not None else None
        spike = spikes.observe(loss) if spikes is not None and loss is not None else tf.constant(False)
        return dataclasses.replace(self, loss=loss, bad=bad, spike=spike)

    def collected(self, spikes: SpikeWatch | None) -> Check:
        """`joined` by a collective of its own (with several replicas)."""
        if tf.distribute.get_strategy().num_replicas_in_sync == 1:
            return self.joined(None, spikes)
        ctx = tf.distribute.get_replica_context()
        return self.joined(ctx.all_reduce(tf.distribute.ReduceOp.SUM, self.shared()), spikes)


# A finite loss this many times the largest finite loss of every step before it is a spike
# (Megatron-LM's spiky-loss check uses 10x), once SPIKE_HISTORY finite losses set the reference:
# the rule of exploding_gradient's spike warning, so the step it warns about is on disk in full.
SPIKE_FACTOR = 10.0
SPIKE_HISTORY = 5


class SpikeWatch:
    """The loss history spikes are measured against, on the device: [the largest finite loss so
    far, finite losses seen]. The largest becomes +Inf once a loss is <= 0 (factors of a loss
    that can be negative, a similarity, mean nothing): no spike after that.

    The reference includes every spike, so each spike must be 10x the one before: a run gets at
    most log10(float32 max / its first loss) spike captures (38 for a loss starting at 1), while
    its loss grows by orders of magnitude; then it overflows and the non-finite capture takes over.
    No gap or budget is needed to keep a spiking run from being captured in full every step.
    """

    def __init__(self) -> None:
        with tf.init_scope():
            self.history = tf.Variable([0.0, 0.0], trainable=False, name="gradcause_loss_history")

    def observe(self, loss: tf.Tensor) -> tf.Tensor:
        """Whether the float32 scalar `loss` (the global one under a strategy) spikes; adds it to
        the history (on replica 0, which alone writes: the variable is one for all replicas)."""
        history = self.history.read_value()
        largest, seen = history[0], history[1]
        finite = tf.math.is_finite(loss)
        spike = (seen >= SPIKE_HISTORY) & finite & (loss >= SPIKE_FACTOR * largest)
        largest = tf.where(finite, tf.where(loss > 0, tf.maximum(largest, loss), float("inf")), largest)
        updated = tf.stack([largest, seen + tf.cast(finite, tf.float32)])
        graph.cond(graph.on_chief(tf.constant(True)), lambda: self._store(updated))
        return spike

    def _store(self, history: tf.Tensor) -> tf.Tensor:
        with tf.control_dependencies([self.history.assign(history, read_value=False)]):
            return tf.constant(True)


def check_step(loss: tf.Tensor | None, grads: Sequence, scaled: bool, spikes: SpikeWatch | None = None) -> Check:
    """Check this replica's float32 `loss` and `grads` (and the loss for a spike, given `spikes`).
    With several replicas, one collective of its own makes `bad` and the loss global (`fold` rides
    Keras' gradient all-reduce instead, where it can)."""
    return check_replica(loss, grads, scaled).collected(spikes)


def check_replica(loss: tf.Tensor | None, grads: Sequence, scaled: bool) -> Check:
    """This replica's check, before any collective: `bad` and `loss` its own, no spike yet."""
    loss_bad = tf.logical_not(tf.math.is_finite(loss)) if loss is not None else tf.constant(False)
    if scaled:
        skipped = tf.logical_not(all_finite(grads))
        bad = loss_bad
    else:
        skipped = tf.constant(False)
        bad = tf.logical_not(all_finite(list(grads) + ([loss] if loss is not None else [])))
    return Check(loss=loss, loss_bad=loss_bad, bad=bad, skipped=skipped, spike=tf.constant(False))


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
