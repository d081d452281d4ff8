"""A small classifier trained with Adam at learning_rate=0.5 (a typo for 5e-4).

Every update changes the weights by a large fraction of their size: the weights balloon and the loss
jumps up and down far above where it started instead of falling.
"""

from __future__ import annotations

import keras

from tb_gradcause.demo import _common

NAME = "lr_too_high"
EXPECTED = [{"kind": "learning_rate_too_high", "layer": None}]


def run(logdir: str) -> None:
    rng = _common.start(12)
    x = rng.normal(size=(2048, 16)).astype("float32")
    y = (x[:, :4] @ [1.0, -1.0, 0.5, 2.0] > 0).astype("int32") + (x[:, 4] > 1).astype("int32")
    model = keras.Sequential(
        [
            keras.Input((16,)),
            keras.layers.Dense(64, activation="relu", name="hidden_1"),
            keras.layers.Dense(64, activation="relu", name="hidden_2"),
            keras.layers.Dense(3, activation="softmax", name="output"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.5), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    _common.fit(model, x, y, logdir=logdir, name=NAME, epochs=4, batch_size=32)


if __name__ == "__main__":
    _common.main(run, __doc__)
