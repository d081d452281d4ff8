"""Regression whose hand-computed MSE compares y_true (B,) with y_pred (B, 1): a (B, B) broadcast, the net learns the mean."""

import keras
import numpy as np
from keras import ops

from . import _common

SOURCE = (
    "GitHub keras-team/keras issue 16836 (MSE computed by hand in train_step is much worse than the "
    "compiled one); Keras 3 form: a keras.losses.Loss subclass, whose call() gets unaligned ranks "
    "(keras-team/keras issue 19662)"
)
URL = "https://github.com/keras-team/keras/issues/16836"
FIX = (
    "give y_true and y_pred the same shape before the subtraction (y_true[:, None], or y of shape (N, 1)), "
    "or pass the built-in loss to compile(), which aligns the ranks"
)
MECHANISM = (
    "y_true has shape (B,) and y_pred (B, 1); y_pred - y_true broadcasts to a (B, B) matrix of every "
    "prediction against every target. Its mean is minimised by predicting the batch mean for every "
    "sample, so the network ignores its input and the fit stays at the variance of y."
)
HEALTHY = False
EXPECTED = [{"kind": "loss_shape_mismatch", "layer": None}]
ACCEPTABLE = ["disconnected_gradient"]

SEED = 16836


class ManualMSE(keras.losses.Loss):
    """tf.keras.losses.mean_squared_error as it was written (mean(square(y_pred - y_true), axis=-1)),
    with no rank alignment."""

    def call(self, y_true, y_pred):
        return ops.mean(ops.square(y_pred - y_true), axis=-1)


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(SEED)
    n = 2048
    x = rng.normal(size=(n, 8)).astype("float32")
    y = (3 * x[:, 0] - 2 * x[:, 1] * x[:, 2] + np.sin(2 * x[:, 3]) + 0.1 * rng.normal(size=n)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input(shape=(8,), name="features"),
            keras.layers.Dense(64, activation="relu", name="dense_1"),
            keras.layers.Dense(64, activation="relu", name="dense_2"),
            keras.layers.Dense(1, name="prediction"),
        ],
        name="regressor",
    )
    model.compile(optimizer="adam", loss=ManualMSE(name="manual_mse"))
    _common.fit(model, x, y, callbacks, epochs=10, batch_size=32, shuffle=True)  # y: shape (n,)
