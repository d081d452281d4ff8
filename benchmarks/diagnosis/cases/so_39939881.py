"""Eight-point linear regression (x in [-8, 8]) with plain GradientDescent(0.1): the fit diverges to inf/NaN."""

import keras
import numpy as np

from . import _common

SOURCE = (
    "Stack Overflow 39939881 (reproduced as StackOverflow/IPS-5 in Zhang et al., ISSTA 2018, TensorFlow-Program-Bugs)"
)
URL = "https://stackoverflow.com/questions/39939881"
FIX = "AdamOptimizer(1e-1) instead of GradientDescentOptimizer(1e-1)"
MECHANISM = (
    "For MSE on x uniform in [-8, 8] the curvature along the slope is 2*mean(x^2) ~ 40, so a "
    "gradient step of 0.1 multiplies the slope error by about -3 every iteration: W and B oscillate "
    "with growing amplitude and overflow to inf, then NaN, within the 100 steps."
)
HEALTHY = False
EXPECTED = [{"kind": "learning_rate_too_high", "layer": None}]
ACCEPTABLE = ["nan_inf", "exploding_gradient"]

SEED = 881


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(SEED)
    w, b = rng.uniform(-8, 8, 2)
    x = rng.uniform(-8, 8, 8).astype("float32")
    y = (w * x + b + rng.uniform(-1, 1, 8)).astype("float32")
    steps = 100  # 100 full-batch steps
    model = keras.Sequential(
        [
            keras.Input(shape=(1,), name="x"),
            keras.layers.Dense(1, kernel_initializer="zeros", bias_initializer="zeros", name="y_"),
        ],
        name="simple_regression",
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mean_squared_error")
    _common.fit(
        model, np.tile(x, steps)[:, None], np.tile(y, steps)[:, None], callbacks, epochs=1, batch_size=8, shuffle=False
    )
