"""Healthy: the keras-io "Simple MNIST convnet" recipe on synthetic MNIST-shaped digits."""

from __future__ import annotations

import keras

from . import _common

SOURCE = "keras-io example 'Simple MNIST convnet' (fchollet)"
URL = "https://keras.io/examples/vision/mnist_convnet/"
FIX = ""
MECHANISM = (
    "The reference small CNN (two Conv2D+ReLU+MaxPool blocks, Dropout 0.5, softmax, Adam) on "
    "[0, 1] images; it reaches ~99 % on MNIST. Awkward: most input pixels are exactly 0 (the border "
    "always), Dropout makes the logged batch statistics noisy, and a 10-class softmax is confident."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(101)
    x, labels = _common.mnist_like(rng, 3000)
    y = _common.one_hot(labels, 10)
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu", name="conv_1"),
            keras.layers.MaxPooling2D(pool_size=(2, 2), name="pool_1"),
            keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu", name="conv_2"),
            keras.layers.MaxPooling2D(pool_size=(2, 2), name="pool_2"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dropout(0.5, name="dropout"),
            keras.layers.Dense(10, activation="softmax", name="output"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    # original: 60,000 images, batch 128, 15 epochs; here 3,000 synthetic images, batch 64, 3 epochs
    _common.fit(model, x, y, callbacks, batch_size=64, epochs=3, validation_split=0.1)
