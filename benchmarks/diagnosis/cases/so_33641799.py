"""MNIST softmax regression with the batch-summed cross-entropy and GradientDescent(0.01): the loss turns NaN."""

import keras
import numpy as np
from keras import ops

from . import _common

SOURCE = (
    "Stack Overflow 33641799 (reproduced as StackOverflow/IPS-14 in Zhang et al., ISSTA 2018, TensorFlow-Program-Bugs)"
)
URL = "https://stackoverflow.com/questions/33641799"
FIX = "GradientDescentOptimizer(0.005) instead of 0.01"
MECHANISM = (
    "-reduce_sum(y_ * log(y)) sums over the batch of 205, so the gradient is 205 times a "
    "per-sample mean and a step of 0.01 overshoots: the logits grow with alternating sign until a "
    "softmax probability underflows to 0, log(0) = -inf and the loss becomes NaN."
)
HEALTHY = False
EXPECTED = [{"kind": "learning_rate_too_high", "layer": None}]
ACCEPTABLE = ["nan_inf", "exploding_gradient", "saturated_activation"]

SEED = 33


def summed_cross_entropy(y_true, y_pred):
    return -ops.sum(y_true * ops.log(y_pred)) * ops.ones_like(y_pred[:, 0])  # batch sum, per-sample shape


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(SEED)
    images, labels = _common.mnist_like(rng, 4100)
    # flat-topped strokes as in MNIST (mean pixel ~0.10 here, 0.13 in MNIST)
    x, y = np.clip(2.5 * images.reshape(len(images), 784), 0, 1), _common.one_hot(labels, 10)
    model = keras.Sequential(
        [
            keras.Input(shape=(784,), name="x"),
            keras.layers.Dense(10, activation="softmax", kernel_initializer="zeros", name="softmax_regression"),
        ],
        name="mnist_softmax",
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss=summed_cross_entropy, metrics=["accuracy"])
    _common.fit(model, x, y, callbacks, epochs=5, batch_size=205, shuffle=True)
