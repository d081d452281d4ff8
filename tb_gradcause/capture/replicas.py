"""The whole batch under a distribution strategy: every local replica's share of a step, joined.

Each replica of a step sees its share of the batch, and only replica 0 writes. MirroredStrategy
traces every local replica of a step into one graph, so replica 0's capture reads the other
replicas' recorded tensors (model inputs, layer outputs, backward signals) and joins them along
the batch axis in replica order: its stats are the whole batch's, as one device would compute
them. A collective could not do this: the capture is a conditional that only replica 0 takes.
Replicas of other workers are out of reach: the rows say which share they cover (the row fact
"replicas": "1 of 2").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from tb_gradcause import summary
from tb_gradcause.capture.hooks import Recorder, Slot


class Shares:
    """The local replicas whose shares a capture on `rec`'s replica joins: `rec` first, then (on
    replica 0) every other local replica that recorded the same layers."""

    def __init__(self, rec: Recorder, x: Any):
        layers = [id(s.entry.layer) for s in rec.called()]
        peers = [
            r
            for r in rec.replicas()
            if r is not rec and all(k in r.slots and r.slots[k].output is not None for k in layers)
        ]
        self.recorders = [rec, *peers]
        self.inputs = [x, *(r.inputs for r in peers)]
        total = tf.distribute.get_strategy().num_replicas_in_sync
        self.facts = {"replicas": f"{len(self.recorders)} of {total}"} if total > 1 else {}

    def slots(self, slot: Slot) -> list[Slot]:
        """The slot of `slot`'s layer on every share's replica, in replica order."""
        return [r.slots[id(slot.entry.layer)] for r in self.recorders]

    def mark(self, record: summary.Record) -> summary.Record:
        """`record` with each row saying which replicas' shares it covers (under a strategy)."""
        if not self.facts:
            return record
        return summary.Record(
            record.kind, [r.replace(facts={**r.facts, **self.facts}) for r in record.rows], record.values
        )


def join(parts: Sequence) -> Any:
    """The replicas' shares of one tensor joined along the batch axis; None when a share has none."""
    if any(p is None for p in parts):
        return None
    if len(parts) == 1:
        return parts[0]
    return tf.concat([tf.convert_to_tensor(p) for p in parts], 0)
