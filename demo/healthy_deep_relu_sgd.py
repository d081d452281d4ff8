"""Healthy control: an eight-layer ReLU MLP with He initialisation trained by SGD with momentum."""

from __future__ import annotations

import keras
import numpy as np

from tb_gradcause.demo import _common

NAME = "healthy_deep_relu_sgd"
EXPECTED: list[dict] = []
DEPTH = 8


def run(logdir: str) -> None:
    rng = _common.start(26)
    x = rng.normal(size=(2048, 16)).astype("float32")
    y = (np.sin(2 * x[:, 0]) + x[:, 1] * x[:, 2] > 0).astype("float32")
    hidden = [
        keras.layers.Dense(64, activation="relu", kernel_initializer="he_normal", name=f"dense_{i}")
        for i in range(1, DEPTH + 1)
    ]
    model = keras.Sequential([keras.Input((16,)), *hidden, keras.layers.Dense(1, activation="sigmoid", name="output")])
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="binary_crossentropy", metrics=["accuracy"])
    _common.fit(model, x, y, logdir=logdir, name=NAME, epochs=4, batch_size=32)


if __name__ == "__main__":
    _common.main(run, __doc__)
