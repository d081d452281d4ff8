"""Quadratic fit A*x^2 + B*x + C to (0,0),(1,1),(2,4),(3,9) with summed squares and GradientDescent(0.01): diverges."""

import keras
import numpy as np
from keras import ops

from . import _common

SOURCE = (
    "Stack Overflow 46577203 (reproduced as StackOverflow/IPS-17 in Zhang et al., ISSTA 2018, TensorFlow-Program-Bugs)"
)
URL = "https://stackoverflow.com/questions/46577203"
FIX = "GradientDescentOptimizer(0.001) instead of 0.01"
MECHANISM = (
    "The loss is the sum (not the mean) of squared errors over the four points and the x^2 feature "
    "reaches 9, so the largest curvature is ~2 * sum(x^4) ~ 200: a step of 0.01 is just past the "
    "stability limit 2/200, the coefficients oscillate with growing amplitude and the loss blows up "
    "instead of reaching 0."
)
HEALTHY = False
EXPECTED = [{"kind": "learning_rate_too_high", "layer": None}]
ACCEPTABLE = ["nan_inf", "exploding_gradient", "input_scale"]

SEED = 203


def sum_of_squares(y_true, y_pred):
    return ops.sum(ops.square(y_pred - y_true)) * ops.ones_like(y_pred[:, 0])  # tf.reduce_sum over the batch


def run(run_dir: str, callbacks: list) -> None:
    _common.start(SEED)
    x_train = np.array([0, 1, 2, 3], "float32")
    features = np.stack([x_train**2, x_train], axis=1)  # A * x**2 + B * x (+ C as the bias)
    y_train = np.array([0, 1, 4, 9], "float32")[:, None]
    steps = 100
    model = keras.Sequential(
        [
            keras.Input(shape=(2,), name="x_powers"),
            keras.layers.Dense(1, kernel_initializer="zeros", bias_initializer="zeros", name="model"),
        ],
        name="quadratic",
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss=sum_of_squares)
    _common.fit(
        model,
        np.tile(features, (steps, 1)),
        np.tile(y_train, (steps, 1)),
        callbacks,
        epochs=1,
        batch_size=4,
        shuffle=False,
    )
