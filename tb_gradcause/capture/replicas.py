"""The whole batch under a distribution strategy: every replica's share of a step, joined.

Each replica of a step sees its share of the batch, and only replica 0 writes. MirroredStrategy
traces every local replica of a step into one graph, so replica 0's capture reads the other
replicas' recorded tensors (model inputs, layer outputs, backward signals) and joins them along
the batch axis in replica order: its stats are the whole batch's, as one device would compute
them. Under MultiWorkerMirroredStrategy the other workers' replicas are traced in other
processes: every replica takes the capture together (`graph.gathers`) and each tensor's shares
are all-gathered along the batch axis, in replica order, the same join. Gathering the tensors,
rather than all-reducing mergeable partial stats, keeps one stats kernel and makes the stats
exactly one device's (the std, the batch std and the z-scores need the whole batch's mean first);
it moves a capture's tensors over the network, on captured steps only. A capture left to replica
0 (inside XLA, in a custom loop) covers its own worker's replicas: the rows say which shares they
cover (the row fact "replicas": "1 of 2").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from tb_gradcause import summary
from tb_gradcause.capture.hooks import Recorder, Slot


class Shares:
    """The replicas whose shares a capture on `rec`'s replica joins: `rec` first, then (on
    replica 0) every other local replica that recorded the same layers; with `gather`, `rec`'s
    share alone, joined with every other replica's by all-gathers."""

    def __init__(self, rec: Recorder, x: Any, gather: bool = False):
        layers = [id(s.entry.layer) for s in rec.called()]
        peers = [
            r
            for r in ([] if gather else rec.replicas())
            if r is not rec and all(k in r.slots and r.slots[k].output is not None for k in layers)
        ]
        self.gather = gather
        self.recorders = [rec, *peers]
        self.inputs = [x, *(r.inputs for r in peers)]
        total = tf.distribute.get_strategy().num_replicas_in_sync
        covered = total if gather else len(self.recorders)
        self.facts = {"replicas": f"{covered} of {total}"} if total > 1 else {}

    def slots(self, slot: Slot) -> list[Slot]:
        """The slot of `slot`'s layer on every share's replica, in replica order."""
        return [r.slots[id(slot.entry.layer)] for r in self.recorders]

    def join(self, parts: Sequence) -> Any:
        """The shares of one tensor (one per recorder) joined along the batch axis; None when a
        share has none (the same on every replica: they trace the same model)."""
        joined = join(parts)
        return joined if joined is None or not self.gather else _all_gather(joined)

    def mark(self, record: summary.Record) -> summary.Record:
        """`record` with each row saying which replicas' shares it covers (under a strategy)."""
        if not self.facts:
            return record
        return summary.Record(
            record.kind, [r.replace(facts={**r.facts, **self.facts}) for r in record.rows], record.values
        )


def join(parts: Sequence) -> Any:
    """The local replicas' shares of one tensor joined along the batch axis; None when a share has none."""
    if any(p is None for p in parts):
        return None
    if len(parts) == 1:
        return parts[0]
    return tf.concat([tf.convert_to_tensor(p) for p in parts], 0)


def _all_gather(t: Any) -> tf.Tensor:
    """Every replica's `t` along axis 0, in replica order (shares may differ in length). Carried
    as float32 or int64, exactly (the collectives' kernels take few dtypes), then cast back."""
    t = tf.convert_to_tensor(t)
    carrier = tf.float32 if t.dtype.is_floating and t.dtype != tf.float64 else t.dtype
    carrier = tf.int64 if t.dtype.is_integer else carrier
    # An identity made here is placed on this replica's device, which the gather sends from.
    gathered = tf.distribute.get_replica_context().all_gather(tf.identity(tf.cast(t, carrier)), axis=0)
    gathered.set_shape(tf.TensorShape([None]).concatenate(t.shape[1:]))  # the stats need the static unit count
    return tf.cast(gathered, t.dtype)
