"""MNIST MLP trained on raw 0-255 pixels with plain SGD: the unscaled inputs wreck training."""

import keras
import numpy as np

from . import _common

SOURCE = (
    "DeepFD benchmark case 8 (Stack Overflow question 55328966); program as "
    "copied in DeepLocalize's benchmark, Benchmark/StackOverflow/"
)
URL = "https://stackoverflow.com/questions/55328966"
FIX = (
    "DeepFD's patch divides the pixels by 255, changes the sigmoid output to softmax and SGD to Adam; "
    "fault labels: missing preprocessing, activation, optimizer."
)
MECHANISM = (
    "The pixels go into the network unscaled (0-255), through an extra linear 784-unit layer, so the "
    "pre-activations reach the hundreds: the sigmoid outputs of several classes saturate at exactly "
    "1.0 and tie, and accuracy stays near 40 % on data the patched program learns to ~90 %."
)
HEALTHY = False
EXPECTED = [{"kind": "input_scale", "layer": "input"}]
ACCEPTABLE = ["saturated_activation", "exploding_gradient", "learning_rate_too_high", "dead_relu"]

SEED = 55328966 % 10000


def _mnist_like(rng, n):
    """Digit-like 28x28 images with MNIST's raw pixel range (integers 0-255, dark background): one blurred
    stroke template per class, shifted by up to 2 pixels."""
    x, labels = _common.stroke_digits(rng, n)
    return np.round(255 * x).astype("float32"), labels


def run(run_dir: str, callbacks: list) -> None:
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    x, labels = _mnist_like(rng, 2000)  # the question uses 5000 rows of mnist_train.csv
    x = x.reshape(-1, 784)  # x_train.values: no /255
    y = np.eye(10, dtype="float32")[labels]

    l2 = keras.regularizers.L2(0.0)  # lambda_ = 0
    model = keras.Sequential(
        [
            keras.Input((784,), name="pixels"),
            keras.layers.Dense(784, name="dense_in"),
            keras.layers.Dense(50, kernel_regularizer=l2, name="hidden"),
            keras.layers.Activation("relu", name="relu"),
            keras.layers.Dense(10, kernel_regularizer=l2, name="dense_out"),
            keras.layers.Activation("sigmoid", name="sigmoid_out"),
        ],
        name="so_55328966",
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.0001), loss="categorical_crossentropy", metrics=["accuracy"]
    )
    model.fit(x, y, batch_size=32, epochs=3, callbacks=callbacks, verbose=0)
