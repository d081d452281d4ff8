"""Healthy: the TensorFlow "Basic regression: Predict fuel efficiency" DNN on Auto-MPG-shaped data."""

from __future__ import annotations

import keras
import numpy as np

from . import _common

SOURCE = "TensorFlow tutorial 'Basic regression: Predict fuel efficiency' (Auto MPG, dnn_model)"
URL = "https://www.tensorflow.org/tutorials/keras/regression"
FIX = ""
MECHANISM = (
    "A Normalization layer adapted to the training features standardizes them inside the model, "
    "then Dense(64, relu) x2 -> Dense(1), MAE loss, Adam(0.001). Awkward: the model's raw inputs "
    "are badly scaled (weight ~3000 beside one-hot origin columns 0/1), which the first layer "
    "fixes by design; 251 samples, batches of 32, 100 epochs of small steps."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []


def auto_mpg_like(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Columns as in the tutorial after one-hot encoding 'Origin': Cylinders, Displacement,
    Horsepower, Weight, Acceleration, Model Year, Europe, Japan, USA; target MPG (~9-47)."""
    cylinders = rng.choice([4, 6, 8], size=n, p=[0.5, 0.25, 0.25]).astype("float32")
    displacement = cylinders * rng.uniform(20, 50, size=n)
    horsepower = 0.35 * displacement + rng.uniform(20, 70, size=n)
    weight = 1500 + 9 * displacement + rng.normal(0, 250, size=n)
    acceleration = 24 - 0.04 * horsepower + rng.normal(0, 1.5, size=n)
    year = rng.integers(70, 83, size=n).astype("float32")
    origin = rng.choice(3, size=n, p=[0.2, 0.2, 0.6])
    onehot = np.eye(3, dtype="float32")[origin]
    mpg = 47 - 0.006 * weight - 0.05 * horsepower + 0.7 * (year - 70) + 2 * onehot[:, 1] + rng.normal(0, 2, size=n)
    x = np.stack([cylinders, displacement, horsepower, weight, acceleration, year], axis=1)
    return np.concatenate([x, onehot], axis=1).astype("float32"), np.clip(mpg, 9, 47).astype("float32")


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(103)
    x, y = auto_mpg_like(rng, 314)  # the tutorial's training split: 314 cars
    normalizer = keras.layers.Normalization(axis=-1, name="normalization")
    normalizer.adapt(x)
    model = keras.Sequential(
        [
            keras.Input(shape=(9,)),
            normalizer,
            keras.layers.Dense(64, activation="relu", name="dense_1"),
            keras.layers.Dense(64, activation="relu", name="dense_2"),
            keras.layers.Dense(1, name="output"),
        ]
    )
    model.compile(loss="mean_absolute_error", optimizer=keras.optimizers.Adam(0.001))
    _common.fit(model, x, y, callbacks, validation_split=0.2, epochs=100)
