"""A tanh layer over 256 features initialised with N(0, 1) weights instead of a fan-in-scaled init.

Its pre-activations have a standard deviation of about sqrt(256) = 16, so nearly every output sits at
-1 or +1 where tanh's slope is ~0: the layer learns next to nothing.
"""

from __future__ import annotations

import keras

from tb_gradcause.demo import _common

NAME = "saturated_tanh_init"
EXPECTED = [{"kind": "saturated_activation", "layer": "hidden"}]


def run(logdir: str) -> None:
    rng = _common.start(11)
    x = rng.normal(size=(2048, 256)).astype("float32")
    y = (x[:, :8].sum(axis=1) > 0).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((256,)),
            keras.layers.Dense(
                64, activation="tanh", kernel_initializer=keras.initializers.RandomNormal(stddev=1.0), name="hidden"
            ),
            keras.layers.Dense(1, activation="sigmoid", name="output"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    _common.fit(model, x, y, logdir=logdir, name=NAME, epochs=4, batch_size=32)


if __name__ == "__main__":
    _common.main(run, __doc__)
