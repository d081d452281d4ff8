"""Subprocess body for the per-replica tests: `python callback_replicas_worker.py MODE LOG_DIR [NAN_BATCH]`.

MODE: "single" (one device), "mirrored" (MirroredStrategy over 2 logical CPUs) or "mirrored_own_sum"
(the same with an optimizer that sums the replicas' gradients outside Keras' `_all_reduce_sum_gradients`,
where the callback's check cannot ride along: `capture.fold`). Trains the same
seeded model on the same unshuffled data, whose two halves of every batch of 16 differ (each
replica gets different samples). NAN_BATCH: that batch's 13th sample (in the second replica's
half) gets a NaN feature. Prints nothing on success. `callback_strategy_worker` trains on the same
data (`halves`) under MultiWorkerMirroredStrategy.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import tensorflow as tf


def halves(nan_batch: int | None = None) -> tf.data.Dataset:
    """64 samples in unshuffled batches of 16 whose second half (the second replica's) differs in scale."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype("float32")
    x.reshape(4, 16, 6)[:, 8:] *= 3.0
    y = rng.normal(size=(64, 1)).astype("float32")
    if nan_batch is not None:
        x[16 * nan_batch + 12, 2] = np.nan
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(16)


def own_sum_sgd(learning_rate: float):
    """SGD whose update all-reduces the gradients itself (as an optimizer of the user's own may)."""
    import keras

    class OwnSumSGD(keras.optimizers.SGD):
        def _backend_update_step(self, grads, trainable_variables, learning_rate):
            summed = tf.distribute.get_replica_context().all_reduce("SUM", list(grads))
            variables = [v.value for v in trainable_variables]
            tf.__internal__.distribute.interim.maybe_merge_call(
                self._distributed_tf_update_step,
                self._distribution_strategy,
                list(zip(summed, variables)),
                learning_rate,
            )

    return OwnSumSGD(learning_rate)


if __name__ == "__main__":
    mode, log_dir = sys.argv[1], sys.argv[2]
    nan_batch = int(sys.argv[3]) if len(sys.argv) > 3 else None
    if mode.startswith("mirrored"):
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    import keras

    from tb_gradcause import GradCauseCallback

    warnings.filterwarnings("error", message="tb_gradcause")  # a logging failure fails the test
    strategy = (
        tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        if mode.startswith("mirrored")
        else tf.distribute.get_strategy()
    )
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = keras.Sequential(
            [
                keras.Input((6,)),
                keras.layers.Dense(8, activation="relu", name="hidden"),
                keras.layers.Dense(1, name="out"),
            ]
        )
        model.compile(own_sum_sgd(0.05) if mode == "mirrored_own_sum" else keras.optimizers.SGD(0.05), "mse")
    model.fit(halves(nan_batch), epochs=2, verbose=0, callbacks=[GradCauseCallback(log_dir, every_n_steps=3)])
