"""`fit` with a `train_step` of the user's own, as keras.io writes them: a loss computed by hand
without `compute_loss` (the VAE example; with a gradient penalty differentiated first, as in
WGAN-GP), optimizers of its own besides `model.optimizer` (the
GAN example), and a step that updates its weights without any optimizer."""

from __future__ import annotations

import os
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import tb_gradcause
from tb_gradcause.analysis import engine, reader
from tb_gradcause.capture import nan_origin

N, B, F = 64, 16, 4


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, F)).astype("float32")
    return x, (x @ rng.normal(size=(F, 1))).astype("float32")


class OwnLoss(keras.Model):
    """A regression whose step computes the squared error itself and reports each step's value."""

    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(8, activation="relu", name="hidden")
        self.out = keras.layers.Dense(1, name="out")

    def call(self, x):
        return self.out(self.hidden(x))

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(self(x, training=True) - y))
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        return {"step_loss": loss}


class GradientPenalty(OwnLoss):
    """A step that differentiates the predictions (a gradient penalty, as in WGAN-GP) before its loss."""

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            with tf.GradientTape() as inner:
                inner.watch(x)
                pred = self(x, training=True)
            slope = tf.reduce_sum(tf.square(inner.gradient(pred, x)), axis=1)
            loss = tf.reduce_mean(tf.square(pred - y)) + 0.1 * tf.reduce_mean(tf.square(slope - 1.0))
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        return {"step_loss": loss}


class TwoOptimizers(keras.Model):
    """A GAN-like step: the critic's update with its optimizer first, then the generator's with another."""

    def __init__(self):
        super().__init__()
        self.generator = keras.layers.Dense(F, name="generator")
        self.critic = keras.layers.Dense(1, name="critic")
        self.c_optimizer = keras.optimizers.SGD(0.02)
        self.g_optimizer = keras.optimizers.SGD(0.005)

    def call(self, x):
        return self.critic(self.generator(x))

    def train_step(self, data):
        x, y = data
        fake = self.generator(x)
        with tf.GradientTape() as tape:
            c_loss = tf.reduce_mean(tf.square(self.critic(fake) - y))
        grads = tape.gradient(c_loss, self.critic.trainable_weights)
        self.c_optimizer.apply_gradients(zip(grads, self.critic.trainable_weights))
        with tf.GradientTape() as tape:
            g_loss = tf.reduce_mean(tf.square(self.critic(self.generator(x))))
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        return {"c_loss": c_loss}


class NoOptimizer(OwnLoss):
    """Plain gradient descent written by hand: no optimizer's `apply` is ever called."""

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(self(x, training=True) - y))
        for v, g in zip(self.trainable_variables, tape.gradient(loss, self.trainable_variables)):
            v.assign_sub(0.01 * g)
        return {"step_loss": loss}


class LogOfNegative(OwnLoss):
    """A hand-written loss that is NaN from the first step: the log of a negative number."""

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            loss = tf.math.log(tf.reduce_mean(tf.square(self(x, training=True) - y)) - 1e6)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        return {"step_loss": loss}


class StepLosses(keras.callbacks.Callback):
    def __init__(self, key: str):
        super().__init__()
        self.key, self.values = key, []

    def on_train_batch_end(self, batch, logs=None):
        self.values.append(float(logs[self.key]))


def _fit(tmp_path, model: keras.Model, key: str, **compile_args) -> tuple[reader.RunData, list[float]]:
    """Train one epoch with the callback; the run as read back, and each step's loss as `train_step` returned it."""
    keras.utils.set_random_seed(0)
    model.compile(**compile_args)
    seen = StepLosses(key)
    x, y = _data()
    log_dir = os.fspath(tmp_path / "run")
    model.fit(x, y, batch_size=B, epochs=1, verbose=0, callbacks=[tb_gradcause.GradCauseCallback(log_dir), seen])
    [run] = reader.read_logdir(log_dir).values()
    return run, seen.values


@pytest.mark.filterwarnings("error:tb_gradcause")
@pytest.mark.parametrize("model", [OwnLoss, GradientPenalty])
def test_a_loss_computed_by_hand_is_logged_at_every_step(tmp_path, model):
    run, step_losses = _fit(tmp_path, model(), "step_loss", optimizer=keras.optimizers.SGD(0.01))
    loss = run["loss"]
    np.testing.assert_allclose(loss.stat("value")[:, 0], step_losses, rtol=1e-6)
    assert np.allclose(loss.stat("learning_rate"), 0.01)
    assert {row.layer for row in run["gradients"].rows} == {"hidden", "out"}


@pytest.mark.filterwarnings("error:tb_gradcause")
def test_a_step_with_optimizers_of_its_own_logs_the_first_update_with_its_learning_rate(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run, step_losses = _fit(tmp_path, TwoOptimizers(), "c_loss")  # `model.optimizer`: Keras' unused default
    said = [str(w.message) for w in caught if str(w.message).startswith("tb_gradcause")]
    assert len(said) == 1, said  # once, however many times the step is traced
    assert "`g_optimizer` after `c_optimizer`" in said[0] and "updates of generator are not logged" in said[0]
    loss = run["loss"]
    np.testing.assert_allclose(loss.stat("value")[:, 0], step_losses, rtol=1e-6)  # the first loss differentiated
    assert np.allclose(loss.stat("learning_rate"), 0.02)  # the critic's optimizer, not model.optimizer's
    assert {row.layer for row in run["gradients"].rows} == {"critic"}
    assert {row.layer for row in run["activations"].rows} == {"generator", "critic"}


def test_a_step_without_an_optimizer_warns_once_and_trains_as_without_the_callback(tmp_path):
    keras.utils.set_random_seed(0)
    plain = NoOptimizer()
    plain.compile(optimizer="sgd")
    x, y = _data()
    plain.fit(x, y, batch_size=B, epochs=1, verbose=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        keras.utils.set_random_seed(0)
        logged = NoOptimizer()
        logged.compile(optimizer="sgd")
        logged.fit(x, y, batch_size=B, epochs=1, verbose=0, callbacks=[tb_gradcause.GradCauseCallback(str(tmp_path))])
    said = [str(w.message) for w in caught if str(w.message).startswith("tb_gradcause")]
    assert len(said) == 1 and "applied no gradients through an optimizer" in said[0]
    for a, b in zip(plain.get_weights(), logged.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_nan_in_a_loss_computed_by_hand_is_found_and_not_replayed_with_the_reason(tmp_path):
    """The replay would run Keras' default step, whose loss is not this one: it says so rather than
    'the replay ran finite'."""
    run, _ = _fit(tmp_path, LogOfNegative(), "step_loss", optimizer="sgd")
    assert np.isnan(run["loss"].stat("value")[0, 0])
    origin = run["nan_origin"]
    assert origin.steps.tolist() == [0] and origin.rows[0].facts["reason"] == nan_origin.NOT_KEPT_OWN_LOSS
    [cause] = [c for c in engine.diagnose(run).causes if c.kind == "nan_inf"]
    assert cause.first_step == 0
