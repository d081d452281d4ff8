"""Subprocess body for the strategy tests: `python callback_strategy_worker.py MODE LOG_DIR [TF_CONFIG]`.

MODE: "single" (one device), "mirrored" (2 logical CPUs), "multiworker" (TF_CONFIG from argv).
Trains the same seeded model on the same unshuffled data. Under "multiworker" it first runs plain
Keras `fit`s (no tb_gradcause) that show the two Keras bugs README's "Distributed training" section
documents, and prints what each ended with as one `KERAS_FITS <json>` line; then it trains the way
that section says, with the callback, again on `callback_replicas_worker.halves` (logs in
LOG_DIR/halves), and again with the chief's logging failing at batch 1 (LOG_DIR/failing, with the
warning it gave in warning.txt). Prints nothing else on success.
"""

from __future__ import annotations

import os
import sys

mode, log_dir = sys.argv[1], sys.argv[2]
if mode == "multiworker":
    os.environ["TF_CONFIG"] = sys.argv[3]

import json  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

if mode == "mirrored":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

from tb_gradcause import GradCauseCallback  # noqa: E402
from tests.support.callback_replicas_worker import halves  # noqa: E402

warnings.filterwarnings("error", message="tb_gradcause")  # a logging failure fails the test

if mode == "mirrored":
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
elif mode == "multiworker":
    # Under a loaded CI machine a worker can miss the coordination service's heartbeats (10 s by
    # default) and the cluster aborts: allow minutes. The strategy keeps a service set up before it.
    from tensorflow.python.eager import context

    context.context().configure_coordination_service(
        "standalone", service_leader="/job:worker/replica:0/task:0", heartbeat_timeout_in_ms=300_000
    )
    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # before any op: it configures the collectives
else:
    strategy = tf.distribute.get_strategy()


class OneRowLogs(keras.Sequential):
    """README's workaround for the log reduction bug: Keras 3.3+ reduces each log of a multi-worker
    step with `strategy.reduce("MEAN", log, axis=0)`, which a scalar log has no axis for."""

    def train_step(self, data):
        return {name: tf.reshape(value, [1]) for name, value in super().train_step(data).items()}


def layers() -> list[keras.layers.Layer]:
    return [keras.layers.Dense(8, activation="relu", name="hidden"), keras.layers.Dense(1, name="out")]


def outcome(fit: Callable[[], object]) -> str:
    """'ok', or the exception's type and first line."""
    try:
        fit()
    except Exception as error:
        return f"{type(error).__name__}: {(str(error).splitlines() or [''])[0][:300]}"
    return "ok"


def plain_keras_fits(strategy: tf.distribute.Strategy, data: tf.data.Dataset) -> dict[str, str]:
    """How plain Keras `fit` ends under MultiWorkerMirroredStrategy, built the usual way (model made in
    `strategy.scope()`) and with each of README's two workarounds alone; then both, on numpy arrays."""

    def usual(inputs: dict) -> str:
        with strategy.scope():
            model = keras.Sequential([keras.Input((6,)), *layers()])
            model.compile(keras.optimizers.SGD(0.05), "mse")
        return outcome(lambda: model.fit(**inputs, epochs=1, verbose=0))

    def made_outside(cls: type[keras.Sequential], inputs: dict) -> str:
        model = cls(layers())  # outside the scope: Keras skips its eager build
        with strategy.scope():
            model.build((None, 6))
            model.compile(keras.optimizers.Adam(1e-3), "mse")  # as in README
            return outcome(lambda: model.fit(**inputs, epochs=1, verbose=0))

    def with_one_row_logs(inputs: dict) -> str:
        with strategy.scope():
            model = OneRowLogs([keras.Input((6,)), *layers()])
            model.compile(keras.optimizers.SGD(0.05), "mse")
        return outcome(lambda: model.fit(**inputs, epochs=1, verbose=0))

    arrays = {"x": x, "y": y, "batch_size": 16}
    return {
        "usual_numpy": usual(arrays),
        "usual_dataset": usual({"x": data}),
        "one_row_logs_only": with_one_row_logs({"x": data}),
        "made_outside_only": made_outside(keras.Sequential, {"x": data}),
        "both_numpy": made_outside(OneRowLogs, arrays),
    }


rng = np.random.default_rng(0)
# Every batch of 16 is the same 8 samples twice: however a strategy splits a batch between
# replicas, the global gradient equals one device's.
x = np.tile(rng.normal(size=(8, 6)).astype("float32"), (8, 1))
y = np.tile(rng.normal(size=(8, 1)).astype("float32"), (8, 1))
# A dataset that every worker reads whole: each global batch is then split between the workers.
options = tf.data.Options()
options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16).with_options(options)
callbacks = [GradCauseCallback(log_dir, every_n_steps=3)]


def fit_multi_worker(data: tf.data.Dataset, *callbacks: keras.callbacks.Callback) -> None:
    """README's way: the model made outside the scope, built, compiled and fit in it."""
    keras.utils.set_random_seed(0)
    model = OneRowLogs(layers())
    with strategy.scope():
        model.build((None, 6))
        model.compile(keras.optimizers.SGD(0.05), "mse")
        model.fit(data, epochs=2, verbose=0, callbacks=list(callbacks))


class FailOnChief(keras.callbacks.Callback):
    """Disables the chief's GradCauseCallback before batch 1, as an error of its own would (a full
    disk): the other worker's logs on, and both must go on running the same train functions."""

    def __init__(self, callback: GradCauseCallback):
        super().__init__()
        self.callback = callback

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 1 and not self.callback._failed and json.loads(os.environ["TF_CONFIG"])["task"]["index"] == 0:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                self.callback._fail(RuntimeError("injected"))  # pylint: disable=protected-access
            with open(os.path.join(self.callback.log_dir, "warning.txt"), "w") as f:  # for the test to read
                f.write("\n".join(str(w.message) for w in caught))


if mode == "multiworker":
    print("KERAS_FITS", json.dumps(plain_keras_fits(strategy, data)), flush=True)
    fit_multi_worker(data, callbacks[0])
    # Then callback_replicas_worker's data, each batch's halves different, sharded by data: the
    # first worker gets the first half of each batch, the second the second half.
    by_data = tf.data.Options()
    by_data.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    halves_log_dir = os.path.join(log_dir, "halves")
    fit_multi_worker(halves().with_options(by_data), GradCauseCallback(halves_log_dir, every_n_steps=3))
    failing = GradCauseCallback(os.path.join(log_dir, "failing"), every_n_steps=3)
    fit_multi_worker(data, failing, FailOnChief(failing))
else:
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = keras.Sequential([keras.Input((6,)), *layers()])
        model.compile(keras.optimizers.SGD(0.05), "mse")
    model.fit(data, epochs=2, verbose=0, callbacks=callbacks)
