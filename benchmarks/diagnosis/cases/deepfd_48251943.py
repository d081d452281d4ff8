"""Tiny regression net whose single output unit has a ReLU: the output unit dies and predicts 0 for everything."""

import keras
import numpy as np

SOURCE = (
    "DeepFD benchmark case 5 (Stack Overflow question 48251943); program as "
    "copied in DeepLocalize's benchmark, Benchmark/StackOverflow/"
)
URL = "https://stackoverflow.com/questions/48251943"
FIX = "DeepFD's patch changes the output activation from ReLU to tanh (fault label: activation)."
MECHANISM = (
    "The only output unit is a ReLU. When its pre-activation is negative for every sample (from the "
    "initialisation or after an SGD step), it outputs 0 with zero gradient: nothing below it learns "
    "again and every prediction is 0, the MSE frozen at mean(y^2). Whether it happens depends on the "
    "initialisation (1 seed in 8 in a scan of this port); SEED is one where it does."
)
HEALTHY = False
EXPECTED = [{"kind": "dead_relu", "layer": "relu_out"}]
ACCEPTABLE = ["disconnected_gradient", "vanishing_gradient"]

SEED = 8


def run(run_dir: str, callbacks: list) -> None:
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    # Book1.csv: 17 rows; X = columns 2-3, Y = column 1, values of order -1..3, mostly positive.
    x = rng.normal(0.6, 0.8, (17, 2)).astype("float32")
    y = (0.5 + 0.6 * x[:, 0] + 0.3 * x[:, 1] + rng.normal(0, 0.5, 17)).astype("float32").reshape(-1, 1)

    model = keras.Sequential(
        [
            keras.Input((2,), name="x"),
            keras.layers.Dense(4, name="dense_1"),
            keras.layers.Activation("relu", name="relu_1"),
            keras.layers.Dense(1, name="dense_out"),
            keras.layers.Activation("relu", name="relu_out"),
        ],
        name="so_48251943",
    )
    model.compile(loss="mean_squared_error", optimizer="sgd", metrics=["mse"])
    model.fit(x, y, batch_size=10, epochs=50, callbacks=callbacks, verbose=0)
