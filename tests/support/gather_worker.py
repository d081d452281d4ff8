"""Subprocess body of test_callback_strategies' gather test: `python gather_worker.py mirrored -`.

MirroredStrategy over 2 logical CPUs: each replica's shares of several tensors (shares of different
lengths, floats of two widths, integer labels, a unit shape only known at run time) gathered by
`replicas._all_gather_many`, against their concatenation in replica order. Prints one JSON line:
{"all_gathers": calls of ReplicaContext.all_gather per replica, "equal": whether every tensor
matched, exactly and in its dtype}.
"""

from __future__ import annotations

import json

import numpy as np
import tensorflow as tf

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2
)

from tb_gradcause.capture import replicas  # noqa: E402


def shares(replica: int) -> list[np.ndarray]:
    """Replica `replica`'s share of each tensor: 3 + replica samples."""
    rng = np.random.default_rng(replica)
    n = 3 + replica
    return [
        rng.normal(size=(n, 4)).astype("float32"),
        rng.normal(size=(n, 2, 3)).astype("float16"),
        rng.integers(0, 10, size=(n,)),
        rng.normal(size=(n, 5)).astype("float32"),  # its unit shape hidden from the trace
        rng.normal(size=(n, 1)).astype("float64"),
        rng.normal(size=(n,)).astype("float32"),
        rng.normal(size=(n, 3, 2)).astype("float32"),
    ]


def main() -> None:
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    calls = []
    all_gather = tf.distribute.ReplicaContext.all_gather

    def counted(self, *args, **kwargs):
        calls.append(1)
        return all_gather(self, *args, **kwargs)

    tf.distribute.ReplicaContext.all_gather = counted

    @tf.function
    def gather():
        def step():
            replica = tf.distribute.get_replica_context().replica_id_in_sync_group
            mine = [tf.constant(s) for s in shares(0)]
            other = [tf.constant(s) for s in shares(1)]
            tensors = [tf.cond(replica == 0, lambda a=a: a, lambda b=b: b) for a, b in zip(mine, other)]
            tensors[3] = tf.compat.v1.placeholder_with_default(tensors[3], [None, None])
            return replicas._all_gather_many([*tensors, None])  # pylint: disable=protected-access

        return strategy.run(step)

    result = gather()
    local = strategy.experimental_local_results(result)[0]
    expected = [np.concatenate(parts) for parts in zip(shares(0), shares(1))]
    equal = local[-1] is None and all(
        g.dtype == e.dtype and np.array_equal(g.numpy(), e) for g, e in zip(local[:-1], expected)
    )
    print(json.dumps({"all_gathers": len(calls) // 2, "equal": bool(equal)}))


if __name__ == "__main__":
    main()
