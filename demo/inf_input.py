"""A derived feature divides by a count that is sometimes zero: a few rows carry +Inf into the model.

`spend_per_visit = spend / visits` is computed with numpy; customers with zero visits get Inf.
The first batch holding such a row turns the hidden layer's output and then every weight into NaN.
"""

from __future__ import annotations

import keras
import numpy as np

from tb_gradcause.demo import _common

NAME = "inf_input"
EXPECTED = [{"kind": "nan_inf", "layer": "input"}]


def run(logdir: str) -> None:
    rng = _common.start(6)
    n = 2048
    visits = rng.poisson(6.0, size=n).astype("float32")  # 0.25 % of customers never visited
    spend = rng.gamma(2.0, 20.0, size=n).astype("float32")  # online spend: also without visits
    other = rng.normal(size=(n, 6)).astype("float32")
    with np.errstate(divide="ignore"):
        spend_per_visit = spend / visits  # numpy: x / 0 = inf
    x = np.column_stack([other, visits / 6.0, spend_per_visit / 20.0]).astype("float32")
    y = (other[:, 0] + other[:, 1] > 0).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(1, activation="sigmoid", name="output"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    _common.fit(
        model, x, y, logdir=logdir, name=NAME, epochs=2, batch_size=32, callbacks=[keras.callbacks.TerminateOnNaN()]
    )


if __name__ == "__main__":
    _common.main(run, __doc__)
