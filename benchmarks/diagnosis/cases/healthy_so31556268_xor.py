"""Healthy: the correct version of Stack Overflow 31556268 (DeepLocalize benchmark), XOR with a 2-4-1 sigmoid MLP."""

from __future__ import annotations

import keras
import numpy as np

from . import _common

SOURCE = "DeepLocalize benchmark, Stack Overflow 31556268, 'Correct Code' (Benchmark/StackOverflow/31556268)"
URL = "https://stackoverflow.com/questions/31556268"
FIX = ""
MECHANISM = (
    "XOR's four points, Dense(4) + sigmoid -> Dense(1) + sigmoid (separate Activation layers), "
    "MSE loss, Adam, one batch of 4 per epoch (the buggy version used SGD and could not leave the "
    "plateau). Awkward: sigmoid + MSE on XOR sits on a plateau (loss ~0.25) for many steps "
    "before it falls; thousands of steps of the same 4-sample batch."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []


def run(run_dir: str, callbacks: list) -> None:
    _common.start(106)
    x = np.array([[1, 1], [1, 0], [0, 0], [0, 1]], dtype="float32")
    y = np.array([[0], [1], [0], [1]], dtype="float32")
    model = keras.Sequential(
        [
            keras.Input(shape=(2,)),
            keras.layers.Dense(4, kernel_initializer="glorot_uniform", name="hidden"),
            keras.layers.Activation("sigmoid", name="hidden_sigmoid"),
            keras.layers.Dense(1, kernel_initializer="glorot_uniform", name="output"),
            keras.layers.Activation("sigmoid", name="output_sigmoid"),
        ]
    )
    model.compile(loss="mse", optimizer="adam", metrics=["acc"])
    # original: 10,000 epochs of one batch of the 4 samples (shuffled: the order inside a full
    # batch does not change its gradient); here 2,500 such steps, as 5 epochs of the 4 samples
    # repeated 500 times in order (Keras' per-epoch overhead made 1-step epochs too slow)
    _common.fit(model, np.tile(x, (500, 1)), np.tile(y, (500, 1)), callbacks, epochs=5, batch_size=4, shuffle=False)
