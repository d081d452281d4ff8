"""Fitting y = x^4 for x in [-100, 100] with unscaled inputs and targets: sigmoid units saturate, the fit fails."""

import keras
import numpy as np

SOURCE = (
    "DeepFD benchmark case 17 (Stack Overflow question 52800582); program as "
    "copied in DeepLocalize's benchmark, Benchmark/StackOverflow/"
)
URL = "https://stackoverflow.com/questions/52800582"
FIX = (
    "The accepted answer / DeepFD's patch standardises x and y (StandardScaler) before training "
    "(fault label: missing preprocessing)."
)
MECHANISM = (
    "Inputs span [-100, 100] (targets up to 1e8), so the first Dense layer's pre-activations are in "
    "the tens and its sigmoid units saturate (near-zero slope), while the output layer would need "
    "huge weights to reach targets of 1e8: the loss stays astronomically high."
)
HEALTHY = False
EXPECTED = [{"kind": "input_scale", "layer": "input"}]
ACCEPTABLE = ["saturated_activation", "vanishing_gradient"]

SEED = 52800582 % 10000


def run(run_dir: str, callbacks: list) -> None:
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)
    x = np.arange(-100, 100, 0.5, dtype="float32").reshape(-1, 1)
    y = x**4

    model = keras.Sequential(
        [
            keras.Input((1,), name="x"),
            keras.layers.Dense(50, name="dense_1"),
            keras.layers.Activation("sigmoid", name="sigmoid_1"),
            keras.layers.Dense(50, name="dense_2"),
            keras.layers.Activation("elu", name="elu_2"),
            keras.layers.Dense(1, name="dense_out"),
        ],
        name="so_52800582",
    )
    model.compile(optimizer="adam", loss="mse")
    # Full-batch gradient descent for 1000 steps as in the original (epochs=1000, batch_size=len(x)); the
    # data are repeated 50x with shuffle=False so each batch is still the whole set, in 20 epochs
    # (Keras' per-epoch overhead would otherwise dominate the run time).
    model.fit(
        np.tile(x, (50, 1)),
        np.tile(y, (50, 1)),
        batch_size=len(x),
        epochs=20,
        shuffle=False,
        callbacks=callbacks,
        verbose=0,
    )
