"""Nielsen-style MNIST net [784, 30, 10] switched from sigmoid to ReLU but kept N(0,1) weights and eta = 3.0: accuracy stuck."""

import keras
from keras import ops

from . import _common

SOURCE = (
    "GitHub MichalDanielDobrzanski/DeepLearningPython issue 13 ('replace sigmoid with relu, but useless'; "
    "network.py of 'Neural Networks and Deep Learning')"
)
URL = "https://github.com/MichalDanielDobrzanski/DeepLearningPython/issues/13"
FIX = (
    "the answer: a learning rate of 0.01 instead of 3.0, and weights and biases initialised 10x smaller "
    "(randn * 0.1); the reporter's net then reaches 9677 / 10000"
)
MECHANISM = (
    "Sigmoid's small slope and bounded output made eta = 3.0 and N(0, 1) initial weights workable; "
    "with ReLU the pre-activations and the quadratic-cost gradients are unbounded, the first large "
    "steps push units far negative, they die, and the outputs stop depending on the input: the "
    "accuracy freezes at the frequency of one class."
)
HEALTHY = False
EXPECTED = [{"kind": "learning_rate_too_high", "layer": None}]
ACCEPTABLE = ["dead_relu", "exploding_gradient", "nan_inf", "disconnected_gradient"]

SEED = 13


def quadratic_cost(y_true, y_pred):
    return 0.5 * ops.sum(ops.square(y_pred - y_true), axis=-1)


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(SEED)
    images, labels = _common.mnist_like(rng, 3000)
    x, y = images.reshape(len(images), 784), _common.one_hot(labels, 10)
    randn = keras.initializers.RandomNormal(stddev=1.0)  # np.random.randn
    model = keras.Sequential(
        [
            keras.Input(shape=(784,), name="pixels"),
            keras.layers.Dense(30, activation="relu", kernel_initializer=randn, bias_initializer=randn, name="hidden"),
            keras.layers.Dense(10, activation="relu", kernel_initializer=randn, bias_initializer=randn, name="output"),
        ],
        name="network",
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=3.0), loss=quadratic_cost, metrics=["accuracy"])
    _common.fit(model, x, y, callbacks, epochs=2, batch_size=10, shuffle=True)
