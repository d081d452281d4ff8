"""Linear regression y = 2t + 4 on t = 0..99 with GradientDescent(0.5): the weights diverge to inf/NaN."""

import keras
import numpy as np

from . import _common

SOURCE = (
    "Stack Overflow 43636736 (reproduced as StackOverflow/IPS-15 in Zhang et al., ISSTA 2018, TensorFlow-Program-Bugs)"
)
URL = "https://stackoverflow.com/questions/43636736"
FIX = "GradientDescentOptimizer(0.0005) instead of 0.5"
MECHANISM = (
    "The inputs are t = 0..99 and a constant 1, so the MSE curvature along the slope is ~mean(t^2) "
    "~ 3300: a step of 0.5 overshoots by a factor of ~1600 every iteration, the weights oscillate "
    "with exploding amplitude and overflow to inf, then NaN, within a few dozen steps."
)
HEALTHY = False
EXPECTED = [{"kind": "learning_rate_too_high", "layer": None}]
ACCEPTABLE = ["nan_inf", "exploding_gradient", "input_scale"]

SEED = 736
T = 100


def half_mse(y_true, y_pred):
    return 0.5 * keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)  # (1 / 2T) * sum((Y - Yhat)^2)


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(SEED)
    noise = 10 * rng.random(T).astype("float32")
    x = np.stack([np.arange(T), np.ones(T)], axis=1).astype("float32")  # rows (t, 1)
    y = (x @ np.array([2.0, 4.0]) + noise).astype("float32")[:, None]
    steps = 100  # 100 full-batch steps
    model = keras.Sequential(
        [
            keras.Input(shape=(2,), name="X"),
            keras.layers.Dense(1, use_bias=False, kernel_initializer="ones", name="W"),
        ],
        name="linear_regression",
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5), loss=half_mse)
    _common.fit(model, np.tile(x, (steps, 1)), np.tile(y, (steps, 1)), callbacks, epochs=1, batch_size=T, shuffle=False)
