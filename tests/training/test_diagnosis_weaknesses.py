"""Weaknesses found on programs outside this repository (issue "Diagnosis you can trust"), each on real
Keras training at the callback's defaults, each failing without its fix."""

from __future__ import annotations

import os

import keras
import numpy as np

from tb_gradcause import GradCauseCallback
from tb_gradcause.analysis import engine, reader


def _diagnose(tmp_path, model, x, y, *, loss, optimizer="adam", epochs=2, batch_size=32) -> list[dict]:
    """Train as a user would (callback at its defaults) and return the engine's causes."""
    model.compile(optimizer=optimizer, loss=loss)
    model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=[GradCauseCallback(str(tmp_path))])
    [run] = reader.read_logdir(os.fspath(tmp_path)).values()
    return engine.analyze(run)["events"]


def _problems(causes: list[dict]) -> list[tuple[str, str | None]]:
    return [(c["kind"], c["layer"]) for c in causes if c["severity"] != "info"]


def test_a_signal_that_vanishes_along_time_to_exactly_zero_is_reported(tmp_path):
    """A SimpleRNN on 700-step sequences whose label is set by the first steps: the loss stays at
    chance and the backward signal at the early positions underflows to 0 (log10(0) hid it)."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 700, 1)).astype("float32")
    y = (x[:, :5, 0].sum(axis=1) > 0).astype("float32")[:, None]
    model = keras.Sequential(
        [keras.Input((700, 1)), keras.layers.SimpleRNN(32, name="rnn"), keras.layers.Dense(1, "sigmoid", name="out")]
    )
    causes = _diagnose(tmp_path, model, x, y, loss="binary_crossentropy", epochs=3)
    assert ("vanishing_gradient", "rnn") in _problems(causes)


def test_a_loss_exploding_without_reaching_nan_is_reported(tmp_path):
    """Regression on unscaled targets with SGD: the loss climbs ~1e5 -> ~1e35 in five steps, training
    ends before it turns NaN and before the next gradient capture."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(160, 8)).astype("float32")
    y = (600 + 50 * x[:, :2].sum(axis=1, keepdims=True)).astype("float32")
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16, "relu", name="hidden"), keras.layers.Dense(1, name="out")]
    )
    causes = _diagnose(tmp_path, model, x, y, loss="mse", optimizer=keras.optimizers.SGD(0.01), epochs=1)
    assert "exploding_gradient" in [kind for kind, _ in _problems(causes)]


def test_a_loss_spike_between_gradient_captures_is_an_early_warning(tmp_path):
    """An LSTM with activation="relu": one update overshoots and the loss jumps ~1e5x at a step
    the gradient statistics do not sample; training goes on."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1024, 40, 4)).astype("float32")
    y = x[:, :, 0].sum(axis=1, keepdims=True).astype("float32")
    model = keras.Sequential(
        [keras.Input((40, 4)), keras.layers.LSTM(32, activation="relu", name="lstm"), keras.layers.Dense(1, name="out")]
    )
    causes = _diagnose(tmp_path, model, x, y, loss="mse", optimizer=keras.optimizers.Adam(1e-2), epochs=1)
    [spike] = [c for c in causes if c["kind"] == "exploding_gradient"]
    assert spike["severity"] == "warning" and spike["first_step"] < 10 and "spikes" in spike["title"]


def test_a_custom_loop_logging_gradients_gets_causes_per_layer_not_per_variable(tmp_path):
    """`tb_gradcause.summary.gradients` in a custom training loop: rows are grouped by the layer their
    variable paths name, so a cause names the layer ("side"), not a variable ("side/kernel")."""
    import tensorflow as tf

    from tb_gradcause import summary

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(640, 12)).astype("float32")
    y = (x[:, :3].sum(axis=1) > 0).astype("float32")[:, None]
    inp = keras.Input((12,))
    used = keras.layers.Dense(16, activation="relu", name="used")(inp)
    side = keras.layers.Dense(4, name="side")(inp)
    merged = keras.layers.Concatenate(name="join")([used, keras.ops.stop_gradient(side)])
    model = keras.Model(inp, keras.layers.Dense(1, activation="sigmoid", name="out")(merged), name="net")
    optimizer, loss_fn = keras.optimizers.Adam(), keras.losses.BinaryCrossentropy()
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        for step in range(60):
            batch = slice(32 * (step % 20), 32 * (step % 20 + 1))
            with tf.GradientTape() as tape:
                loss = loss_fn(y[batch], model(x[batch], training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply(
                [g if g is not None else tf.zeros_like(v) for g, v in zip(grads, model.trainable_variables)],
                model.trainable_variables,
            )
            summary.gradients(grads, model.trainable_variables, step=step)
            summary.loss(loss, step=step)
    writer.close()
    [run] = reader.read_logdir(os.fspath(tmp_path)).values()
    assert {row.layer for row in run["gradients"].rows} == {"used", "side", "out"}  # Keras 3 paths: "used/kernel"
    assert ("disconnected_gradient", "side") in _problems(engine.analyze(run)["events"])


def test_hidden_sigmoids_pinned_by_unscaled_inputs_are_reported_under_input_scale(tmp_path):
    """Raw 0-255 pixels into sigmoid hidden layers: the first one is pinned at its bounds. Both the
    unscaled inputs and the saturated layer are reported, the saturation linked as their consequence."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(2048, 64)).astype("float32")
    y = (x[:, :32].mean(axis=1) > x[:, 32:].mean(axis=1)).astype("float32")[:, None]
    small = keras.initializers.RandomUniform(-0.05, 0.05)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(16, "sigmoid", kernel_initializer=small, name="h1"),
            keras.layers.Dense(8, "sigmoid", kernel_initializer=small, name="h2"),
            keras.layers.Dense(1, "sigmoid", name="out"),
        ]
    )
    causes = _diagnose(
        tmp_path, model, x, y, loss="binary_crossentropy", optimizer=keras.optimizers.SGD(0.01), epochs=3
    )
    [scale] = [c for c in causes if c["kind"] == "input_scale"]
    [saturated] = [c for c in causes if c["kind"] == "saturated_activation"]
    assert saturated["layer"] == "h1" and saturated["caused_by"] == [scale["id"]]
