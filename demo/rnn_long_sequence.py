"""A SimpleRNN asked to remember the first of 200 time steps.

The label is the sign of the first element of each sequence; the other 199 steps are noise. The error
signal decays along time through the tanh recurrence, so almost none of it reaches the early steps
and the loss stays at chance level, although the per-variable gradient norms look unremarkable.
"""

from __future__ import annotations

import keras

from tb_gradcause.demo import _common

NAME = "rnn_long_sequence"
EXPECTED = [{"kind": "vanishing_gradient", "layer": "rnn"}]
STEPS = 200


def run(logdir: str) -> None:
    rng = _common.start(9)
    x = rng.normal(size=(1024, STEPS, 1)).astype("float32")
    y = (x[:, 0, 0] > 0).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((STEPS, 1)),
            keras.layers.SimpleRNN(16, name="rnn"),
            keras.layers.Dense(1, activation="sigmoid", name="output"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    _common.fit(model, x, y, logdir=logdir, name=NAME, epochs=3, batch_size=32)


if __name__ == "__main__":
    _common.main(run, __doc__)
