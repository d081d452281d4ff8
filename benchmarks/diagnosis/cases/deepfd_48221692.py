"""Regression of y = x^2 + 3 (3..103) through a sigmoid output unit: the output pins at 1, the loss stalls."""

import keras
import numpy as np

SOURCE = (
    "DeepFD benchmark case 20 (Stack Overflow question 48221692); program as "
    "copied in DeepLocalize's benchmark, Benchmark/StackOverflow/"
)
URL = "https://stackoverflow.com/questions/48221692"
FIX = "DeepFD's patch changes the output activation from sigmoid to linear (fault label: activation)."
MECHANISM = (
    "The targets lie between 3 and 103 but the sigmoid output is bounded by 1, so gradient descent "
    "drives the output unit into saturation at 1 where its slope is ~0: the MSE stays near "
    "mean((y-1)^2) and the network cannot learn."
)
HEALTHY = False
EXPECTED = [{"kind": "saturated_activation", "layer": "sigmoid_out"}]
ACCEPTABLE = ["vanishing_gradient"]

SEED = 7


def run(run_dir: str, callbacks: list) -> None:
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    x_all = np.round(np.arange(-10.0, 10.05, 0.1), 1).astype("float32")  # Linear_Data.csv: x, x^2 + 3
    y_all = (x_all**2 + 3).astype("float32")
    idx = rng.permutation(len(x_all))[: int(0.75 * len(x_all))]  # train_test_split(test_size=0.25)
    x, y = x_all[idx].reshape(-1, 1), y_all[idx].reshape(-1, 1)

    model = keras.Sequential(
        [
            keras.Input((1,), name="x"),
            keras.layers.Dense(5, name="hidden"),
            keras.layers.Activation("sigmoid", name="sigmoid_hidden"),
            keras.layers.Dense(1, name="dense_out"),
            keras.layers.Activation("sigmoid", name="sigmoid_out"),
        ],
        name="so_48221692",
    )
    model.compile(optimizer="sgd", loss="mean_squared_error")
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
