"""Seed example 1: logistic regression on raw 0-255 pixel values (the author forgot to divide by 255).

The logits reach the thousands, so the sigmoid output pins at exactly 0 or 1 from the first batch on
and binary cross-entropy swings between 0 and huge values instead of falling.
"""

from __future__ import annotations

import keras

from tb_gradcause.demo import _common

NAME = "sigmoid_bce_saturation"
# The bug is the unscaled input (every feature in the hundreds); the saturated sigmoid is its symptom.
EXPECTED = [{"kind": "saturated_activation", "layer": "output"}, {"kind": "input_scale", "layer": "input"}]


def run(logdir: str) -> None:
    rng = _common.start(1)
    images = rng.integers(0, 256, size=(2048, 64)).astype("float32")  # 8x8 grey images, raw intensities
    labels = (images[:, :32].mean(axis=1) > images[:, 32:].mean(axis=1)).astype("float32")
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(1, activation="sigmoid", name="output")])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    _common.fit(model, images, labels, logdir=logdir, name=NAME, epochs=4, batch_size=32)


if __name__ == "__main__":
    _common.main(run, __doc__)
