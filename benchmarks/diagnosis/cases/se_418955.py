"""Two linear Dense(1) layers fitting y = x**2 + 3 (up to ~9800) on standardised x with SGD(0.01): the loss diverges."""

import keras
import numpy as np

from . import _common

SOURCE = (
    "Cross Validated (stats.stackexchange.com) question 418955 ('Why is deep neural net with linear "
    "activation diverges?'); the asker's update names the cause"
)
URL = "https://stats.stackexchange.com/questions/418955"
FIX = (
    "scale the target (the asker: 'this particular behavior is caused by not scaled target variable'; "
    "training only works with a very small learning rate)"
)
MECHANISM = (
    "x is standardised but y = x**2 + 3 runs up to ~9800, so the first errors and gradients are in "
    "the thousands. In the product w2 * (w1 * x + b1) + b2 every step that enlarges b1 or w1 raises "
    "the curvature seen by w2 and vice versa: SGD(0.01) overshoots more at each step, the weights "
    "oscillate with growing amplitude and the loss explodes to inf/NaN."
)
HEALTHY = False
EXPECTED = [{"kind": "exploding_gradient", "layer": None}]
ACCEPTABLE = ["nan_inf", "learning_rate_too_high"]

SEED = 418955 % 10000


def run(run_dir: str, callbacks: list) -> None:
    _common.start(SEED)
    x = np.arange(100, dtype="float32")[:, None]
    y = x**2 + 3
    x_normed = (x - x.mean()) / x.std()
    model = keras.Sequential(
        [
            keras.Input((1,), name="x"),
            keras.layers.Dense(1, activation=None, name="dense_1"),
            keras.layers.Dense(1, activation=None, name="dense_2"),
        ],
        name="se_418955",
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="mse")  # 'sgd'
    _common.fit(model, x_normed, y, callbacks, epochs=50, batch_size=32)  # the question: 300 epochs
