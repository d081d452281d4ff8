"""Healthy: the two custom gradients of TensorFlow's autodiff guide, a stable log1pexp activation and a
gradient-clipping identity, in a small Keras classifier."""

import keras
import tensorflow as tf

from . import _common

SOURCE = (
    "TensorFlow API docs of tf.custom_gradient (the numerically stable log1pexp) and the TensorFlow guide "
    "'Advanced automatic differentiation', section 'Custom gradients' (clip_gradients: identity forward, "
    "tf.clip_by_norm(dy, 0.5) backward)"
)
URL = "https://www.tensorflow.org/guide/advanced_autodiff#custom_gradients"
FIX = ""
MECHANISM = (
    "Both gradient functions are the documented, correct ones. Awkward: log1pexp replaces autodiff by a "
    "hand-written derivative, and clip_gradients is an identity whose gradient is by design not the "
    "derivative of its output (clipped, so not even linear in the upstream gradient)."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []

SEED = 20


@tf.custom_gradient
def log1pexp(x):
    e = tf.exp(x)

    def grad(upstream):
        return upstream * (1 - 1 / (1 + e))

    return tf.math.log(1 + e), grad


@tf.custom_gradient
def clip_gradients(y):
    def backward(dy):
        return tf.clip_by_norm(dy, 0.5)

    return y, backward


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(SEED)
    n = 2048
    x = rng.normal(size=(n, 16)).astype("float32")
    labels = (x[:, :4].sum(axis=1) + 0.5 * x[:, 4] * x[:, 5] > 0).astype("int64") + 2 * (x[:, 6] > 0.5)
    inputs = keras.Input((16,), name="features")
    h = keras.layers.Dense(64, name="dense_1")(inputs)
    h = keras.layers.Lambda(log1pexp, name="log1pexp")(h)
    h = keras.layers.Lambda(clip_gradients, name="clip_gradients")(h)
    h = keras.layers.Dense(32, activation="relu", name="dense_2")(h)
    outputs = keras.layers.Dense(4, activation="softmax", name="classes")(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    _common.fit(model, x, labels, callbacks, epochs=3, batch_size=32)
