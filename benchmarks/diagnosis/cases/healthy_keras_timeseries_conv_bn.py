"""Healthy: the keras-io "Timeseries classification from scratch" fully convolutional network
(Conv1D + BatchNormalization + ReLU x3) on FordA-shaped series."""

from __future__ import annotations

import keras
import numpy as np

from . import _common

SOURCE = "keras-io example 'Timeseries classification from scratch' (FordA, make_model)"
URL = "https://keras.io/examples/timeseries/timeseries_classification_from_scratch/"
FIX = ""
MECHANISM = (
    "Standardized univariate series of 500 steps; three Conv1D(64, 3) + BatchNormalization + ReLU "
    "blocks, GlobalAveragePooling1D, Dense(2, softmax); Adam, sparse categorical cross-entropy. "
    "Awkward: convolutions without activation before BatchNorm (use_bias with BN), a single input "
    "channel, and BatchNorm between every pair of weighted layers."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []


def forda_like(rng: np.random.Generator, n: int, length: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Engine-noise-like series: a mix of a few sinusoids and noise; class 1 has an extra
    harmonic and more high-frequency energy. Each series is standardized, as FordA is."""
    t = np.arange(length, dtype="float32")
    labels = rng.integers(0, 2, size=n)
    f0 = rng.uniform(0.01, 0.03, size=(n, 1))
    x = np.sin(2 * np.pi * f0 * t + rng.uniform(0, 6.3, size=(n, 1)))
    x += 0.5 * np.sin(2 * np.pi * 3 * f0 * t) * labels[:, None]
    x += rng.normal(0, 0.6, size=(n, length)) * (1 + 0.3 * labels[:, None])
    x = (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)
    return x[..., None].astype("float32"), labels


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(114)
    x_train, y_train = forda_like(rng, 500)  # FordA: 3,601 training series of 500 steps
    inputs = keras.Input(shape=x_train.shape[1:])
    x = inputs
    for i in (1, 2, 3):
        x = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same", name=f"conv{i}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
    x = keras.layers.GlobalAveragePooling1D(name="gap")(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="output")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["sparse_categorical_accuracy"])
    # original: batch 32, up to 500 epochs with ReduceLROnPlateau/EarlyStopping; here 500 series, 5 epochs
    _common.fit(model, x_train, y_train, callbacks, batch_size=32, epochs=5, validation_split=0.2)
