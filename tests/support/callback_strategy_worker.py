"""Subprocess body for the strategy tests: `python callback_strategy_worker.py MODE LOG_DIR [TF_CONFIG]`.

MODE: "single" (one device), "mirrored" (2 logical CPUs), "multiworker" (TF_CONFIG from argv).
Trains the same seeded model on the same unshuffled data and prints nothing on success.
"""

from __future__ import annotations

import os
import sys

mode, log_dir = sys.argv[1], sys.argv[2]
if mode == "multiworker":
    os.environ["TF_CONFIG"] = sys.argv[3]

import warnings  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

if mode == "mirrored":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

from tb_gradcause import GradCauseCallback  # noqa: E402

warnings.filterwarnings("error", message="tb_gradcause")  # a logging failure fails the test

if mode == "mirrored":
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
elif mode == "multiworker":
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
else:
    strategy = tf.distribute.get_strategy()

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
# Every batch of 16 is the same 8 samples twice: however a strategy splits a batch between
# replicas, the global gradient equals one device's.
x = np.tile(rng.normal(size=(8, 6)).astype("float32"), (8, 1))
y = np.tile(rng.normal(size=(8, 1)).astype("float32"), (8, 1))
with strategy.scope():
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.05), "mse")
# Keras 3.15 cannot feed numpy arrays to a MultiWorkerMirroredStrategy: use a dataset that
# every worker reads whole (each global batch is then split between the workers).
options = tf.data.Options()
options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16).with_options(options)
callbacks = [GradCauseCallback(log_dir, every_n_steps=3)]
if mode == "multiworker":
    # Two Keras 3.15 bugs break fit under MultiWorkerMirroredStrategy without tb_gradcause
    # too: the eager symbolic build reduces a PerReplica batch with MEAN (CollectiveAllReduce
    # cannot, eagerly), and the metrics are reduced with `reduce(MEAN, axis=0)` on scalars.
    # Build first, and reduce the metrics per worker.
    from keras.src.backend.tensorflow import trainer as keras_tf_trainer

    with strategy.scope():
        model.optimizer.build(model.trainable_variables)
    model._maybe_symbolic_build = lambda *args, **kwargs: None
    keras_tf_trainer._collective_all_reduce_multi_worker = lambda strategy: False
model.fit(data, epochs=2, verbose=0, callbacks=callbacks)
