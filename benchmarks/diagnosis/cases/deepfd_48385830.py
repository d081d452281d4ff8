"""MNIST MLP with N(0, 1) initial weights, no activations, MSE loss and SGD(lr=3.0): the loss overflows."""

import keras
import numpy as np

from . import _common

SOURCE = (
    "DeepFD benchmark case 1 (Stack Overflow question 48385830); program as "
    "copied in DeepLocalize's benchmark, Benchmark/StackOverflow/"
)
URL = "https://stackoverflow.com/questions/48385830"
FIX = (
    "DeepFD's patch adds sigmoid to the hidden layer and softmax to the output and replaces the MSE loss "
    "with categorical cross-entropy; its fault labels are activation, loss and learning rate (SGD lr=3.0)."
)
MECHANISM = (
    "Two linear Dense layers initialised with N(0, 1) weights and biases produce outputs in the tens, "
    "and SGD with lr=3.0 on the MSE of those outputs overshoots: every step enlarges the weights "
    "until the loss overflows to inf/NaN within the first batches."
)
HEALTHY = False
EXPECTED = [{"kind": "learning_rate_too_high", "layer": None}]
ACCEPTABLE = ["nan_inf", "exploding_gradient"]

SEED = 48385830 % 10000


def _mnist_like(rng, n):
    """Digit-like 28x28 images in [0, 1] (MNIST after /255): one blurred stroke template per class,
    shifted by up to 2 pixels, with a dark background as in MNIST."""
    x, labels = _common.stroke_digits(rng, n)
    return x.astype("float32"), labels


def run(run_dir: str, callbacks: list) -> None:
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    x, labels = _mnist_like(rng, 2000)
    x = x.reshape(-1, 784)
    y = np.eye(10, dtype="float32")[labels]

    init = dict(
        kernel_initializer=keras.initializers.RandomNormal(stddev=1.0),
        bias_initializer=keras.initializers.RandomNormal(stddev=1.0),
    )
    model = keras.Sequential(
        [
            keras.Input((784,), name="pixels"),
            keras.layers.Dense(30, name="hidden", **init),
            keras.layers.Dense(10, name="output", **init),
        ],
        name="so_48385830",
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=3.0), loss="mean_squared_error", metrics=["accuracy"])
    model.fit(x, y, batch_size=10, epochs=2, callbacks=callbacks, verbose=0)
