"""Spike-triggered capture on real Keras training: a step whose loss jumps to 10x every loss before
it (an outlier batch between two cadence steps) is captured in full, with its batch's inputs and
gradients and the weights' update; healthy training captures only its cadence."""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest

from tb_gradcause import GradCauseCallback
from tb_gradcause.analysis import reader
from tb_gradcause.capture import cadence

BATCH, STEPS = 32, 40
OUTLIER_BATCHES = (23, 27)  # between the cadence's steps 20 and 30
OUTLIER = 1000.0


def _data(outliers: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH * STEPS, 16)).astype("float32")
    y = (0.5 * x[:, :4].sum(axis=1, keepdims=True) + 0.3 * rng.normal(size=(len(x), 1))).astype("float32")
    if outliers:
        for b in OUTLIER_BATCHES:
            x[b * BATCH : b * BATCH + 3, 5] = OUTLIER  # three corrupt rows
    return x, y


def _train(tmp_path, outliers: bool, optimizer, epochs: int = 1, **compile_kwargs) -> reader.RunData:
    keras.utils.set_random_seed(0)
    x, y = _data(outliers)
    model = keras.Sequential(
        [keras.Input((16,)), keras.layers.Dense(32, "relu", name="h"), keras.layers.Dense(1, name="out")]
    )
    model.compile(optimizer, "mse", **compile_kwargs)
    model.fit(
        x, y, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0, callbacks=[GradCauseCallback(str(tmp_path))]
    )
    [run] = reader.read_logdir(os.fspath(tmp_path)).values()
    return run


@pytest.mark.parametrize("compile_kwargs", [{}, {"jit_compile": True}, {"steps_per_execution": 4}], ids=str)
def test_an_outlier_batch_between_cadence_steps_is_captured_where_the_loss_spikes(tmp_path, compile_kwargs):
    run = _train(tmp_path, True, keras.optimizers.SGD(0.01), **compile_kwargs)
    loss = run["loss"].stat("value")[:, 0]
    spike = OUTLIER_BATCHES[0]
    assert loss[spike] >= 10 * loss[:spike].max() and np.isfinite(loss[spike])  # the scenario: 0.6 -> ~1e3
    assert spike not in [s for s in range(STEPS) if cadence.is_full(s, None)]
    for kind in ("inputs", "gradients", "activations", "backward", "weights"):
        assert spike in run[kind].steps and spike - 1 not in run[kind].steps, kind
    inputs = run["inputs"]
    at = int(np.flatnonzero(inputs.steps == spike)[0])
    [feature] = [i for i, r in enumerate(inputs.rows) if r.name == "input/feature_5"]
    assert inputs.stat("max")[at, feature] == OUTLIER  # the corrupt rows are on disk
    gradients = run["gradients"]
    at = int(np.flatnonzero(gradients.steps == spike)[0])
    assert np.isfinite(gradients.stat("l2")[at]).all() and (gradients.stat("l2")[at] > 0).all()
    weights = run["weights"]
    at = int(np.flatnonzero(weights.steps == spike)[0])
    updates = weights.stat("update_norm")[at]
    if compile_kwargs.get("jit_compile"):  # no snapshot off the cadence under XLA (docs/stats.md)
        assert np.isnan(updates).all()
    else:
        assert np.isfinite(updates).all() and (updates > 0).all()


def test_healthy_training_captures_only_its_cadence(tmp_path):
    run = _train(tmp_path, False, "adam", epochs=3)
    loss = run["loss"].stat("value")[:, 0]
    assert np.isfinite(loss).all() and loss[-10:].mean() < loss[:10].mean()
    cadence_steps = [s for s in range(3 * STEPS) if cadence.is_full(s, None)]
    for kind in ("inputs", "gradients", "weights"):
        assert run[kind].steps.tolist() == cadence_steps, kind
