"""Ames house prices (targets up to ~755,000) regressed with MSE and SGD(lr=0.1): the loss is NaN from epoch 1."""

import keras
import numpy as np

from . import _common

SOURCE = (
    "GitHub rstudio-conf-2020/dl-keras-tf issue 9 ('train/valid loss = NAN when loss = "
    '"mean_squared_error" due to exploding values\'), Ames mini-project'
)
URL = "https://github.com/rstudio-conf-2020/dl-keras-tf/issues/9"
FIX = (
    "train on a loss that is insensitive to the target's scale, loss = 'msle' as the exercise prescribes "
    "(or rescale Sale_Price)"
)
MECHANISM = (
    "The features are standardised but the target Sale_Price is not: errors of ~2e5 squared give a "
    "loss of ~4e10 and gradients of the same scale, so a plain SGD step of 0.1 throws the weights "
    "far away; the next errors are larger still and within a few steps the values overflow to NaN."
)
HEALTHY = False
EXPECTED = [{"kind": "exploding_gradient", "layer": None}]
ACCEPTABLE = ["nan_inf", "learning_rate_too_high"]

SEED = 9


def _ames_like(rng: np.random.Generator, n: int):
    """188 features after the recipe: 34 standardised numeric ones and 154 one-hot dummies;
    Sale_Price log-normal around 160,000 (range ~12,000 to ~755,000 in Ames)."""
    numeric = rng.normal(size=(n, 34))
    groups = [rng.integers(0, k, n) for k in (14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14)]
    dummies = np.concatenate([np.eye(14)[g] for g in groups], axis=1)  # 11 x 14 = 154 columns
    x = np.concatenate([numeric, dummies], axis=1).astype("float32")
    log_price = 12.0 + numeric[:, :8] @ rng.normal(0, 0.12, 8) + dummies @ rng.normal(0, 0.05, 154)
    y = np.clip(np.exp(log_price + rng.normal(0, 0.1, n)), 12_000, 755_000).astype("float32")
    return x, y


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(SEED)
    x, y = _ames_like(rng, 2051)  # 70 % of the 2930 Ames sales
    model = keras.Sequential(
        [
            keras.Input(shape=(188,), name="features"),
            keras.layers.Dense(128, activation="relu", name="hidden"),
            keras.layers.Dense(1, name="sale_price"),
        ],
        name="ames_regressor",
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mean_squared_error", metrics=["mae"])
    _common.fit(model, x, y, callbacks, epochs=3, batch_size=16, validation_split=0.2)
