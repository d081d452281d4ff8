"""Healthy control: a well-scaled ReLU MLP on standardised features, trained with Adam."""

from __future__ import annotations

import keras
import numpy as np

from tb_gradcause.demo import _common

NAME = "healthy_mlp_adam"
EXPECTED: list[dict] = []


def run(logdir: str) -> None:
    rng = _common.start(20)
    x = rng.normal(size=(2048, 16)).astype("float32")
    y = (np.sin(x[:, 0]) + x[:, 1] * x[:, 2] > 0).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((16,)),
            keras.layers.Dense(64, activation="relu", name="hidden_1"),
            keras.layers.Dense(32, activation="relu", name="hidden_2"),
            keras.layers.Dense(1, activation="sigmoid", name="output"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    _common.fit(model, x, y, logdir=logdir, name=NAME, epochs=4, batch_size=32)


if __name__ == "__main__":
    _common.main(run, __doc__)
