"""Missing sensor readings exported as the sentinel -999 and fed to the model as if they were values.

The features are standardised, but 0.1 % of the cells hold -999 ("missing" in the CSV export). About
a quarter of the batches carry one: on those batches the first layer's pre-activations, the loss and
the gradients spike by orders of magnitude.
"""

from __future__ import annotations

import keras

from tb_gradcause.demo import _common

NAME = "sentinel_outliers"
EXPECTED = [{"kind": "input_scale", "layer": "input"}]
MISSING = -999.0


def run(logdir: str) -> None:
    rng = _common.start(14)
    x = rng.normal(size=(2048, 10)).astype("float32")
    y = (x @ rng.normal(size=10) + 0.1 * rng.normal(size=2048)).astype("float32")
    x[rng.random(x.shape) < 0.001] = MISSING
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
