"""A ReLU layer whose biases were initialised to -3 (meant as a sparsity prior).

With standardised inputs and Glorot weights each unit's pre-activation has a standard deviation near
1, so a bias of -3 leaves almost every unit at zero for every sample: those units pass no gradient
and never recover.
"""

from __future__ import annotations

import keras

from tb_gradcause.demo import _common

NAME = "dead_relu_bias"
EXPECTED = [{"kind": "dead_relu", "layer": "hidden"}]


def run(logdir: str) -> None:
    rng = _common.start(10)
    x = rng.normal(size=(2048, 16)).astype("float32")
    y = (x[:, :4] @ [1.0, -1.0, 0.5, 2.0] > 0).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((16,)),
            keras.layers.Dense(
                64, activation="relu", bias_initializer=keras.initializers.Constant(-3.0), name="hidden"
            ),
            keras.layers.Dense(1, activation="sigmoid", name="output"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    _common.fit(model, x, y, logdir=logdir, name=NAME, epochs=4, batch_size=32)


if __name__ == "__main__":
    _common.main(run, __doc__)
