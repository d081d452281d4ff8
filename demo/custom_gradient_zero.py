"""A hand-written swish activation (`tf.custom_gradient`) whose gradient was left as a placeholder.

Memory-saving swish implementations recompute the derivative in the backward pass; here the
gradient function still returns `tf.zeros_like(x)` (as in tensorflow/tensorflow #42311, where a
custom gradient returning 0 stopped a generator from learning). The forward pass is right, so
nothing looks wrong: no NaN, no error, ordinary activations. But no gradient passes the layer:
`hidden` never learns, and only `head` on top of the fixed random features trains.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tb_gradcause.demo import _common

NAME = "custom_gradient_zero"
EXPECTED = [{"kind": "wrong_gradient", "layer": "swish"}]


@tf.custom_gradient
def swish(x):
    """x * sigmoid(x), its derivative meant to be sigmoid(x) * (1 + x * (1 - sigmoid(x)))."""
    s = tf.sigmoid(x)

    def grad(dy):
        return tf.zeros_like(x)  # TODO: dy * s * (1 + x * (1 - s))

    return x * s, grad


class Swish(keras.layers.Layer):
    def call(self, inputs):
        return swish(inputs)


def run(logdir: str) -> None:
    rng = _common.start(42)
    x = rng.normal(size=(1024, 8)).astype("float32")
    y = (x[:, 0] * x[:, 1] - x[:, 2] > 0).astype("float32")[:, None]
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(32, name="hidden"),
            Swish(name="swish"),
            keras.layers.Dense(1, activation="sigmoid", name="head"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=["accuracy"])
    _common.fit(model, x, y, logdir=logdir, name=NAME, epochs=3, batch_size=32)


if __name__ == "__main__":
    _common.main(run, __doc__)
