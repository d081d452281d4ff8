"""House prices in thousands of dollars regressed with plain SGD at its default learning rate.

The targets (100-500) were not scaled, so the first errors are in the hundreds; each SGD step
overshoots further (gradient norms ~350, ~3e4, ~1e10, then Inf) and the weights turn NaN within
six batches, before a second regular logging step: the loss, logged every step, shows the blow-up.
"""

from __future__ import annotations

import keras
import numpy as np

from tb_gradcause.demo import _common

NAME = "unscaled_target_sgd"
EXPECTED = [{"kind": "nan_inf", "layer": None}]


def run(logdir: str) -> None:
    rng = _common.start(7)
    x = rng.normal(size=(2048, 8)).astype("float32")  # standardised house features
    price = 100.0 * (3.0 + x[:, :3] @ np.array([1.0, 0.5, -0.7]) + 0.3 * x[:, 3] ** 2)
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(32, activation="relu", name="hidden_1"),
            keras.layers.Dense(32, activation="relu", name="hidden_2"),
            keras.layers.Dense(1, name="price"),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    _common.fit(
        model,
        x,
        price.astype("float32"),
        logdir=logdir,
        name=NAME,
        epochs=2,
        batch_size=32,
        callbacks=[keras.callbacks.TerminateOnNaN()],
    )


if __name__ == "__main__":
    _common.main(run, __doc__)
