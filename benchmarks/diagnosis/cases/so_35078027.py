"""MNIST MLP whose output layer lacks its sigmoid while the loss takes log(y_) and log(1 - y_): NaN from step 1."""

import keras
from keras import ops

from . import _common

SOURCE = (
    "Stack Overflow 35078027 (reproduced as StackOverflow/IPS-7 in Zhang et al., ISSTA 2018, TensorFlow-Program-Bugs)"
)
URL = "https://stackoverflow.com/questions/35078027"
FIX = (
    "put the sigmoid on the output (y_ = sigmoid(h1 @ W_out)) and clip y_ and 1 - y_ to [1e-10, 1] "
    "inside the logarithms (the fixed version also raises the learning rate to 0.5)"
)
MECHANISM = (
    "The cross-entropy -y*log(y_) - (1-y)*log(1-y_) is applied to an unbounded linear output: "
    "any output <= 0 or >= 1 puts the log of a non-positive number in the loss, which is NaN at "
    "once, and the NaN gradients then poison the weights."
)
HEALTHY = False
EXPECTED = [{"kind": "nan_inf", "layer": None}]
ACCEPTABLE = ["exploding_gradient", "saturated_activation"]

SEED = 35


def cross_entropy(y, y_):
    return ops.sum(-y * ops.log(y_) - (1 - y) * ops.log(1 - y_), axis=1)


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(SEED)
    images, labels = _common.mnist_like(rng, 3000)
    x, y = images.reshape(len(images), 784), _common.one_hot(labels, 10)
    normal = keras.initializers.RandomNormal(stddev=1.0)  # tf.random_normal
    model = keras.Sequential(
        [
            keras.Input(shape=(784,), name="x"),
            keras.layers.Dense(512, activation="sigmoid", use_bias=False, kernel_initializer=normal, name="h1"),
            keras.layers.Dense(10, use_bias=False, kernel_initializer=normal, name="y_"),  # no sigmoid
        ],
        name="mlp",
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss=cross_entropy, metrics=["accuracy"])
    _common.fit(model, x, y, callbacks, epochs=3, batch_size=100, shuffle=True)
