"""Poisson regression with an exponential output and a learning rate far too high for it.

Daily page views (mean ~60) are modelled as `exp(f(x))` (Keras' "exponential" activation with the
"poisson" loss). SGD at lr=0.2 overshoots on the first large counts, the log-rate jumps past ~88 and
`exp` overflows to Inf in the `rate` layer; the loss and then every weight turn NaN.
"""

from __future__ import annotations

import keras
import numpy as np

from tb_gradcause.demo import _common

NAME = "exp_overflow_nan"
EXPECTED = [{"kind": "nan_inf", "layer": "rate"}]


def run(logdir: str) -> None:
    rng = _common.start(5)
    x = rng.normal(size=(2048, 8)).astype("float32")
    counts = rng.poisson(np.exp(3.0 + x @ rng.normal(scale=0.5, size=8))).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(32, activation="relu", name="hidden"),
            keras.layers.Dense(1, activation="exponential", name="rate"),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.2), loss="poisson")
    _common.fit(
        model,
        x,
        counts,
        logdir=logdir,
        name=NAME,
        epochs=2,
        batch_size=32,
        callbacks=[keras.callbacks.TerminateOnNaN()],
    )


if __name__ == "__main__":
    _common.main(run, __doc__)
