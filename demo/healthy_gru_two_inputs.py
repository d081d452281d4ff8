"""Healthy control: a functional model with two inputs, a GRU over a 16-step series plus static features."""

from __future__ import annotations

import keras

from tb_gradcause.demo import _common

NAME = "healthy_gru_two_inputs"
EXPECTED: list[dict] = []
STEPS = 16


def run(logdir: str) -> None:
    rng = _common.start(27)
    series = rng.normal(size=(1024, STEPS, 3)).astype("float32")
    static = rng.normal(size=(1024, 4)).astype("float32")
    y = (series[:, -4:, 0].mean(axis=1) + static[:, 0] > 0).astype("float32")
    series_in = keras.Input((STEPS, 3), name="series")
    static_in = keras.Input((4,), name="static")
    summary = keras.layers.GRU(16, name="gru")(series_in)
    joined = keras.layers.Concatenate(name="join")([summary, static_in])
    hidden = keras.layers.Dense(16, activation="relu", name="hidden")(joined)
    output = keras.layers.Dense(1, activation="sigmoid", name="output")(hidden)
    model = keras.Model([series_in, static_in], output)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    _common.fit(model, [series, static], y, logdir=logdir, name=NAME, epochs=4, batch_size=32)


if __name__ == "__main__":
    _common.main(run, __doc__)
