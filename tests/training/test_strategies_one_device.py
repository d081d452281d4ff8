"""GradCauseCallback under OneDeviceStrategy logs what it logs without a strategy (in-process: the
strategy changes no process-wide setting)."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import tensorflow as tf

from tb_gradcause import GradCauseCallback
from tests.support.callback_runs import read_train


def train(strategy: tf.distribute.Strategy, log_dir) -> None:
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 6)).astype("float32"), rng.normal(size=(64, 1)).astype("float32")
    with strategy.scope():
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
        model.compile(keras.optimizers.SGD(0.05), "mse")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="tb_gradcause")  # a logging failure fails the test
        model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[GradCauseCallback(log_dir, 2)])


def test_one_device_strategy_logs_as_without_a_strategy(tmp_path):
    train(tf.distribute.get_strategy(), tmp_path / "none")
    train(tf.distribute.OneDeviceStrategy("/cpu:0"), tmp_path / "one")
    plain, one = read_train(tmp_path / "none").series, read_train(tmp_path / "one").series
    assert set(one) == set(plain)
    for kind in plain:
        assert one[kind].steps.tolist() == plain[kind].steps.tolist(), kind
        np.testing.assert_allclose(one[kind].values, plain[kind].values, rtol=1e-5, atol=1e-7, err_msg=kind)
