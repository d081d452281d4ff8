"""The engine on real tiny Keras runs logged by `GradCauseCallback` at its defaults."""

from __future__ import annotations

import os

import keras
import numpy as np

from tb_gradcause import GradCauseCallback
from tb_gradcause.analysis import engine, reader


def _train(tmp_path, model, loss, optimizer, x, y, epochs: int = 2) -> dict:
    model.compile(optimizer=optimizer, loss=loss)
    model.fit(
        x,
        y,
        epochs=epochs,
        batch_size=32,
        verbose=0,
        callbacks=[GradCauseCallback(os.fspath(tmp_path / "run")), keras.callbacks.TerminateOnNaN()],
    )
    [run] = reader.read_logdir(os.fspath(tmp_path)).values()
    return engine.analyze(run)


def _data(seed: int, n: int = 640, d: int = 12):
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    y = (x[:, :3].sum(axis=1) > 0).astype("float32")[:, None]
    return x, y


def _mlp(d: int = 12, **hidden):
    return keras.Sequential(
        [
            keras.Input((d,)),
            keras.layers.Dense(16, activation="relu", name="hidden", **hidden),
            keras.layers.Dense(1, activation="sigmoid", name="out"),
        ]
    )


def test_healthy_adam_mlp_gets_no_warning(tmp_path):
    x, y = _data(0)
    result = _train(tmp_path, _mlp(), "binary_crossentropy", "adam", x, y, epochs=3)
    assert set(result["skipped"]) == {"wrong_gradient"}  # built-in layers only: no gradient of the user's to check
    assert [e["title"] for e in result["events"] if e["severity"] != "info"] == []


def test_hand_written_log_loss_overflowing_is_a_loss_phase_nan(tmp_path):
    x, y = _data(1)

    def log_loss(y_true, y_pred):
        return -keras.ops.mean(y_true * keras.ops.log(y_pred) + (1 - y_true) * keras.ops.log(1 - y_pred))

    result = _train(tmp_path, _mlp(), log_loss, keras.optimizers.Adam(0.5), x, y)
    [nan] = [e for e in result["events"] if e["kind"] == "nan_inf"]
    assert nan["layer"] is None and "loss" in nan["title"] and nan["severity"] == "error"


def test_dead_relu_from_a_negative_bias_init(tmp_path):
    x, y = _data(2)
    model = _mlp(bias_initializer=keras.initializers.Constant(-20.0))
    result = _train(tmp_path, model, "binary_crossentropy", "adam", x, y)
    found = [(e["kind"], e["layer"]) for e in result["events"] if e["severity"] != "info"]
    assert found == [("dead_relu", "hidden")]


def test_a_branch_that_never_reaches_the_loss(tmp_path):
    x, y = _data(3)
    inp = keras.Input((12,))
    used = keras.layers.Dense(16, activation="relu", name="used")(inp)
    side = keras.layers.Dense(4, name="side")(inp)
    merged = keras.layers.Concatenate()([used, keras.ops.stop_gradient(side)])
    model = keras.Model(inp, keras.layers.Dense(1, activation="sigmoid", name="out")(merged))
    result = _train(tmp_path, model, "binary_crossentropy", "adam", x, y)
    found = [(e["kind"], e["layer"]) for e in result["events"] if e["severity"] != "info"]
    assert found == [("disconnected_gradient", "side")]
