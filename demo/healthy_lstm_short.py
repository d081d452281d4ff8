"""Healthy control: an LSTM summing the signs of short (12-step) sequences."""

from __future__ import annotations

import keras

from tb_gradcause.demo import _common

NAME = "healthy_lstm_short"
EXPECTED: list[dict] = []
STEPS = 12


def run(logdir: str) -> None:
    rng = _common.start(22)
    x = rng.normal(size=(1024, STEPS, 2)).astype("float32")
    y = (x[:, :, 0].sum(axis=1) > x[:, :, 1].sum(axis=1)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((STEPS, 2)),
            keras.layers.LSTM(16, name="lstm"),
            keras.layers.Dense(1, activation="sigmoid", name="output"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    _common.fit(model, x, y, logdir=logdir, name=NAME, epochs=4, batch_size=32)


if __name__ == "__main__":
    _common.main(run, __doc__)
