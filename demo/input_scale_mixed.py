"""Seed example 2: five features scaled to 0-1 beside five raw ones in 0-1000 (areas in square metres).

The raw columns dominate every pre-activation and gradient; the 0-1 features barely move the weights.
"""

from __future__ import annotations

import keras
import numpy as np

from tb_gradcause.demo import _common

NAME = "input_scale_mixed"
EXPECTED = [{"kind": "input_scale", "layer": "input"}]


def run(logdir: str) -> None:
    rng = _common.start(2)
    scaled = rng.uniform(0.0, 1.0, size=(2048, 5))
    raw = rng.uniform(0.0, 1000.0, size=(2048, 5))
    x = np.concatenate([scaled, raw], axis=1).astype("float32")
    y = (scaled @ np.array([2.0, -1.0, 1.5, 0.5, -2.0]) + raw @ np.full(5, 1e-3)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((10,)),
            keras.layers.Dense(32, activation="relu", name="hidden"),
            keras.layers.Dense(1, name="output"),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    _common.fit(model, x, y, logdir=logdir, name=NAME, epochs=4, batch_size=32)


if __name__ == "__main__":
    _common.main(run, __doc__)
