"""Healthy: the Keras blog's simplest autoencoder on MNIST-shaped [0, 1] pixels."""

from __future__ import annotations

import keras

from . import _common

SOURCE = (
    "Keras blog 'Building Autoencoders in Keras' (F. Chollet), 'a simple autoencoder based on a fully-connected layer'"
)
URL = "https://blog.keras.io/building-autoencoders-in-keras.html"
FIX = ""
MECHANISM = (
    "784 -> Dense(32, relu) -> Dense(784, sigmoid) with per-pixel binary cross-entropy and Adam "
    "on [0, 1] pixels. Awkward: about half of the 784 input features are 0 in every image "
    "(the border), so their decoder units are pushed to sigmoid 0 (saturated by design) and "
    "their encoder weights get no gradient from the input side; a 32-unit ReLU code may have "
    "dead units."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(104)
    x, _ = _common.mnist_like(rng, 3000)
    x = x.reshape(len(x), 784)
    inputs = keras.Input(shape=(784,))
    encoded = keras.layers.Dense(32, activation="relu", name="encoder")(inputs)
    decoded = keras.layers.Dense(784, activation="sigmoid", name="decoder")(encoded)
    model = keras.Model(inputs, decoded, name="autoencoder")
    model.compile(optimizer="adam", loss="binary_crossentropy")
    # original: 60,000 images, batch 256, 50 epochs; here 3,000 synthetic images, batch 128, 8 epochs
    _common.fit(model, x, x, callbacks, epochs=8, batch_size=128, shuffle=True)
