"""One-weight linear regression y = 2x on x = 0..199 with SGD(lr=0.001), batch 1: the weights go NaN."""

import keras
import numpy as np

from . import _common

SOURCE = "GitHub keras-team/keras issue 3040 (simple linear regression NaNs after a few iterations)"
URL = "https://github.com/keras-team/keras/issues/3040"
FIX = "a smaller learning rate (the reporter: 'realized my learning rate was too high')"
MECHANISM = (
    "With inputs up to 199 the MSE curvature is ~2*x^2 ~ 8e4, so a step of 0.001 overshoots by a "
    "factor of ~80 each update: the weight oscillates with growing amplitude until it overflows "
    "and the loss turns NaN within the first epoch."
)
HEALTHY = False
EXPECTED = [{"kind": "learning_rate_too_high", "layer": None}]
ACCEPTABLE = ["exploding_gradient", "nan_inf", "input_scale"]

SEED = 3040


def run(run_dir: str, callbacks: list) -> None:
    _common.start(SEED)
    x = np.arange(200, dtype="float32")[:, None]
    y = 2.0 * x
    model = keras.Sequential(
        [keras.Input(shape=(1,), name="x"), keras.layers.Dense(1, name="dense")], name="linear_regression"
    )
    # SGD(lr=0.001, decay=1e-6, momentum=0, nesterov=False); the decay is negligible over 200 steps
    model.compile(loss="mean_squared_error", optimizer=keras.optimizers.SGD(learning_rate=0.001))
    _common.fit(model, x, y, callbacks, epochs=1, batch_size=1, shuffle=True)
