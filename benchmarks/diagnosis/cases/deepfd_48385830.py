"""MNIST MLP with N(0, 1) initial weights, no activations, MSE loss and SGD(lr=3.0): the loss overflows."""

import keras
import numpy as np

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
    yy, xx = np.mgrid[0:28, 0:28]
    templates = []
    for _ in range(10):
        img = np.zeros((28, 28))
        for _ in range(4):
            cy, cx = rng.uniform(8, 20, 2)
            img += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * rng.uniform(1.5, 3.0) ** 2))
        templates.append(img / img.max())
    labels = rng.integers(0, 10, n)
    x = np.empty((n, 28, 28), "float32")
    for i, c in enumerate(labels):
        dy, dx = rng.integers(-2, 3, 2)
        img = np.roll(np.roll(templates[c], dy, 0), dx, 1) * rng.uniform(0.7, 1.0)
        x[i] = np.where(img > 0.2, img, 0.0)
    return x, labels


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
