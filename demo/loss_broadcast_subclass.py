"""A robust regression loss written as a `keras.losses.Loss` subclass, fed targets of shape (N,).

Keras aligns y_true with y_pred for its own losses, not inside a subclass's `call`: the targets
(32,) minus the predictions (32, 1) broadcast to a (32, 32) matrix of every prediction against
every target. Its minimum is the batch's median target for every sample, so the model ignores its
input: the Huber loss stays at 0.62, 0.61, 0.61 over 3 epochs, where the same loss on targets of
shape (N, 1) falls to 0.51, 0.21, 0.11, while every gradient statistic looks normal.
"""

from __future__ import annotations

import keras
from keras import ops

from tb_gradcause.demo import _common

NAME = "loss_broadcast_subclass"
EXPECTED = [{"kind": "loss_shape_mismatch", "layer": None}]


class Huber(keras.losses.Loss):
    """Huber loss written by hand (delta 1), with no rank alignment."""

    def call(self, y_true, y_pred):
        error = ops.abs(y_pred - y_true)
        return ops.mean(ops.where(error < 1.0, 0.5 * ops.square(error), error - 0.5), axis=-1)


def run(logdir: str) -> None:
    rng = _common.start(21)
    x = rng.normal(size=(2048, 8)).astype("float32")
    y = (x[:, 0] - 0.5 * x[:, 1] + 0.8 * x[:, 2] * x[:, 3]).astype("float32")  # shape (2048,)
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(32, activation="relu", name="hidden_1"),
            keras.layers.Dense(32, activation="relu", name="hidden_2"),
            keras.layers.Dense(1, name="prediction"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=Huber(name="huber"))
    _common.fit(model, x, y, logdir=logdir, name=NAME, epochs=3, batch_size=32)


if __name__ == "__main__":
    _common.main(run, __doc__)
