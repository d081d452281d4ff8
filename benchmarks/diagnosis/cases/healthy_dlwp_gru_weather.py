"""Healthy: Deep Learning with Python's first recurrent baseline, GRU(32) on Jena-climate-shaped series."""

from __future__ import annotations

import keras
import numpy as np

from . import _common

SOURCE = (
    "F. Chollet, Deep Learning with Python (1st ed.), 6.3 'Advanced use of recurrent neural networks': "
    "a first recurrent baseline, GRU(32) -> Dense(1), RMSprop, MAE, on the Jena climate data"
)
URL = "https://github.com/fchollet/deep-learning-with-python-notebooks/blob/master/first_edition/6.3-advanced-usage-of-recurrent-neural-networks.ipynb"
FIX = ""
MECHANISM = (
    "14 weather features standardized with the training mean/std, windows of past hourly "
    "observations, target the (standardized) temperature 24 h later; GRU(32) -> Dense(1), "
    "RMSprop, MAE. Awkward: a recurrent layer over 72 time steps (gradients along time), "
    "strongly correlated inputs, and a loss that starts near its plateau and falls modestly."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []

LOOKBACK = 72  # the book: 10 days at one sample per hour (240); here 3 days
DELAY = 24


def jena_like(rng: np.random.Generator, hours: int) -> np.ndarray:
    """Hourly series of 14 correlated weather variables with daily and seasonal cycles, (hours, 14)."""
    t = np.arange(hours, dtype="float64")
    weather = np.cumsum(rng.normal(0, 0.15, size=hours))  # slow fronts
    weather -= np.convolve(weather, np.ones(500) / 500, mode="same")
    temp = 9 + 10 * np.sin(2 * np.pi * t / (24 * 365)) + 4 * np.sin(2 * np.pi * (t - 9) / 24) + 3 * weather
    temp += rng.normal(0, 0.4, size=hours)
    pressure = 990 - 2.5 * weather + rng.normal(0, 0.5, size=hours)
    rh = 75 - 2.0 * (temp - 9) + rng.normal(0, 4, size=hours)
    cols = [pressure, temp, temp + 273.15, temp - (100 - rh) / 5, rh]
    cols += [6 + 0.4 * temp + rng.normal(0, 0.3, size=hours) for _ in range(4)]  # vapour pressures etc.
    cols += [1.2 - 0.004 * temp + rng.normal(0, 0.002, size=hours)]  # density
    wind = np.abs(2 + 1.5 * weather + rng.normal(0, 1, size=hours))
    cols += [
        wind,
        wind * 1.6 + np.abs(rng.normal(0, 0.5, size=hours)),
        rng.uniform(0, 360, size=hours),
        1000 + 10 * temp,
    ]
    return np.stack(cols, axis=1)


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(108)
    data = jena_like(rng, 24 * 200)
    mean, std = data[:3000].mean(axis=0), data[:3000].std(axis=0)
    data = ((data - mean) / std).astype("float32")
    starts = rng.integers(0, len(data) - LOOKBACK - DELAY, size=1024)
    x = np.stack([data[s : s + LOOKBACK] for s in starts])
    y = np.array([data[s + LOOKBACK + DELAY - 1, 1] for s in starts], dtype="float32")
    model = keras.Sequential(
        [
            keras.Input(shape=(None, data.shape[-1])),
            keras.layers.GRU(32, name="gru"),
            keras.layers.Dense(1, name="output"),
        ]
    )
    model.compile(optimizer=keras.optimizers.RMSprop(), loss="mae")
    # original: batch 128, 500 steps x 20 epochs; here batch 64, 16 steps x 5 epochs
    _common.fit(model, x, y, callbacks, batch_size=64, epochs=5)
