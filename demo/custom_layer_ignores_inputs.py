"""Seed example 3: a custom affine layer whose `call` never uses `inputs`.

`ScaleShift` should return `inputs * gamma + beta`, but a debugging placeholder was left in: it scales a
tensor of zeros shaped like `inputs`. Its output is the same for every sample, the layers before it get
no gradient at all, and `gamma` gets only exact zeros.
"""

from __future__ import annotations

import keras
from keras import ops

from tb_gradcause.demo import _common

NAME = "custom_layer_ignores_inputs"
EXPECTED = [{"kind": "disconnected_gradient", "layer": "scale_shift"}]


class ScaleShift(keras.layers.Layer):
    """Learned per-feature scale and shift (buggy: ignores its inputs)."""

    def build(self, input_shape: tuple) -> None:
        self.gamma = self.add_weight(shape=input_shape[-1:], initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=input_shape[-1:], initializer="zeros", name="beta")

    def call(self, inputs):
        out = ops.zeros_like(inputs)  # placeholder left in from debugging
        return out * self.gamma + self.beta  # meant: inputs * self.gamma + self.beta


def run(logdir: str) -> None:
    rng = _common.start(3)
    x = rng.normal(size=(2048, 16)).astype("float32")
    y = (x[:, :4].sum(axis=1) > 0).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((16,)),
            keras.layers.Dense(32, activation="relu", name="hidden"),
            ScaleShift(name="scale_shift"),
            keras.layers.Dense(1, activation="sigmoid", name="output"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    _common.fit(model, x, y, logdir=logdir, name=NAME, epochs=4, batch_size=32)


if __name__ == "__main__":
    _common.main(run, __doc__)
