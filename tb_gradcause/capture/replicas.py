"""The whole batch under a distribution strategy: every replica's share of a step, joined.

Each replica of a step sees its share of the batch, and only replica 0 writes. MirroredStrategy
traces every local replica of a step into one graph, so replica 0's capture reads the other
replicas' recorded tensors (model inputs, layer outputs, backward signals) and joins them along
the batch axis in replica order: its stats are the whole batch's, as one device would compute
them. Under MultiWorkerMirroredStrategy the other workers' replicas are traced in other
processes: every replica takes the capture together (`graph.gathers`) and each tensor's shares
are all-gathered along the batch axis, in replica order, the same join: all of a capture's tensors
at once (`Shares.join_all`), flattened into one vector per dtype, in two all-gathers (their sizes,
their values) rather than two per tensor (a collective cost the chief ~1 ms of CPU on loopback:
`benchmarks/multiworker_overhead.py`). Gathering the tensors,
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

    def join_all(self, groups: Sequence[Sequence[Sequence]]) -> list[list]:
        """Each group's tensors, each given by its shares (one per recorder), joined along the
        batch axis; None when a share has none (the same on every replica: they trace the same
        model). With `gather`, every tensor of every group in one go (`_all_gather_many`)."""
        local = [[join(parts) for parts in group] for group in groups]
        if not self.gather:
            return local
        gathered = iter(_all_gather_many([t for group in local for t in group]))
        return [[next(gathered) for _ in group] for group in local]

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


def _all_gather_many(tensors: Sequence) -> list:
    """Every replica's share of each tensor (None: None), as `_all_gather`; those of one carrier
    whose unit shape is known (all but axis 0) packed into one vector, gathered together."""
    out = [None if t is None else tf.convert_to_tensor(t) for t in tensors]
    packs: dict[tf.DType | None, list[int]] = {}  # in tensor order: the same on every replica (None: alone)
    for i, t in enumerate(out):
        if t is not None:
            packable = t.shape.rank and t.shape[1:].is_fully_defined() and t.shape[1:].num_elements()
            packs.setdefault(_carrier(t.dtype) if packable else None, []).append(i)
    for carrier, indices in packs.items():
        if carrier is None or len(indices) == 1:
            for i in indices:
                out[i] = _all_gather(out[i])
        else:
            for i, gathered in zip(indices, _gather_packed([out[i] for i in indices], carrier)):
                out[i] = gathered
    return out


def _gather_packed(tensors: list[tf.Tensor], carrier: tf.DType) -> list[tf.Tensor]:
    """`_all_gather` of each of `tensors` (units of a known shape, carried as `carrier`) by two
    all-gathers: every replica's sizes, then its tensors flattened into one vector."""
    ctx = tf.distribute.get_replica_context()
    flat = [tf.reshape(tf.cast(t, carrier), [-1]) for t in tensors]
    sizes = tf.stack([tf.size(f, out_type=tf.int64) for f in flat])
    # Identities made here are placed on this replica's device, which the gathers send from.
    every_size = ctx.all_gather(tf.identity(sizes[tf.newaxis]), axis=0)  # [replicas, tensors]
    values = ctx.all_gather(tf.identity(tf.concat(flat, 0)), axis=0)
    n, k = ctx.num_replicas_in_sync, len(tensors)
    pieces = tf.split(values, tf.reshape(every_size, [-1]), num=n * k)  # replica by replica
    return [
        tf.cast(tf.concat([tf.reshape(pieces[r * k + j], [-1, *t.shape[1:]]) for r in range(n)], 0), t.dtype)
        for j, t in enumerate(tensors)
    ]


def _carrier(dtype: tf.DType) -> tf.DType:
    """What a tensor is gathered as, exactly (the collectives' kernels take few dtypes)."""
    if dtype.is_integer:
        return tf.int64
    return tf.float32 if dtype.is_floating and dtype != tf.float64 else dtype


def _all_gather(t: tf.Tensor) -> tf.Tensor:
    """Every replica's `t` along axis 0, in replica order (shares may differ in length), carried
    as `_carrier`, then cast back."""
    # An identity made here is placed on this replica's device, which the gather sends from.
    gathered = tf.distribute.get_replica_context().all_gather(tf.identity(tf.cast(t, _carrier(t.dtype))), axis=0)
    gathered.set_shape(tf.TensorShape([None]).concatenate(t.shape[1:]))  # the stats need the static unit count
    return tf.cast(gathered, t.dtype)
