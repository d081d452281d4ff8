"""Healthy: the correct version of Stack Overflow 48385830 (DeepLocalize benchmark), Nielsen's 784-30-10
sigmoid network with N(0, 1) initialization and SGD at learning rate 3.0."""

from __future__ import annotations

import keras

from . import _common

SOURCE = "DeepLocalize benchmark, Stack Overflow 48385830, 'Correct Code' (Benchmark/StackOverflow/48385830)"
URL = "https://stackoverflow.com/questions/48385830"
FIX = ""
MECHANISM = (
    "Nielsen's book network: Dense(30, sigmoid) -> Dense(10, softmax), weights and biases "
    "N(0, 1), categorical cross-entropy, SGD(lr=3.0), batch 10 on [0, 1] pixels; it reaches ~95 % "
    "on MNIST. Very awkward on purpose: the learning rate is 300x Keras' default and N(0, 1) "
    "weights on 784 inputs put many hidden sigmoids near saturation from the start, yet the loss "
    "falls fast: a tool must not call either a fault here."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(107)
    x, labels = _common.mnist_like(rng, 6000)
    x = x.reshape(len(x), 784)
    y = _common.one_hot(labels, 10)
    normal = keras.initializers.RandomNormal(stddev=1)
    model = keras.Sequential(
        [
            keras.Input(shape=(784,)),
            keras.layers.Dense(
                30, activation="sigmoid", kernel_initializer=normal, bias_initializer=normal, name="hidden"
            ),
            keras.layers.Dense(
                10, activation="softmax", kernel_initializer=normal, bias_initializer=normal, name="output"
            ),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=3.0), loss="categorical_crossentropy", metrics=["accuracy"]
    )
    # original: 60,000 images, batch 10, 30 epochs; here 6,000 synthetic images, 1 epoch (600 steps)
    _common.fit(model, x, y, callbacks, batch_size=10, epochs=1)
