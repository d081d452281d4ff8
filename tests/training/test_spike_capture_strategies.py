"""Spike-triggered capture under MirroredStrategy (2 logical CPUs: the global loss decides) and under
a loss scaler (mixed_float16), each in its own process (devices and policies are process-wide)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from tb_gradcause.analysis import reader
from tests.training.test_spike_capture import OUTLIER, OUTLIER_BATCHES

WORKER = """
import sys, warnings
import tensorflow as tf
mode, log_dir = sys.argv[1], sys.argv[2]
if mode == "mirrored":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from tb_gradcause import GradCauseCallback
from tests.training.test_spike_capture import BATCH, _data
warnings.filterwarnings("error", message="tb_gradcause")  # a logging failure fails the test
if mode == "mixed":
    keras.mixed_precision.set_global_policy("mixed_float16")
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]) if mode == "mirrored" else tf.distribute.get_strategy()
keras.utils.set_random_seed(0)
x, y = _data(outliers=True)
with strategy.scope():
    out = keras.layers.Dense(1, name="out", dtype="float32")
    model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(32, "relu", name="h"), out])
    model.compile(keras.optimizers.SGD(0.01), "mse")
model.fit(x, y, batch_size=BATCH, shuffle=False, verbose=0, callbacks=[GradCauseCallback(log_dir)])
"""


@pytest.mark.parametrize("mode", ["mirrored", "mixed"])
def test_a_loss_spike_is_captured_under_a_strategy_and_a_loss_scaler(tmp_path, mode):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", WORKER, mode, str(tmp_path)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    [run] = reader.read_logdir(os.fspath(tmp_path)).values()
    loss = run["loss"].stat("value")[:, 0]
    spike = OUTLIER_BATCHES[0]
    assert loss[spike] >= 10 * loss[:spike].max()
    inputs = run["inputs"]
    assert spike in inputs.steps and spike - 1 not in inputs.steps
    at = int(np.flatnonzero(inputs.steps == spike)[0])
    [feature] = [i for i, r in enumerate(inputs.rows) if r.name == "input/feature_5"]
    # Under the strategy, replica 0's half of the batch holds the corrupt rows (its first rows).
    assert inputs.stat("max")[at, feature] == OUTLIER
    assert spike in run["gradients"].steps
