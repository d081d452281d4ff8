"""Healthy: the correct version of Stack Overflow 50306988 (DeepLocalize benchmark), a 2-2-1 sigmoid MLP."""

from __future__ import annotations

import keras
import numpy as np

from . import _common

SOURCE = "DeepLocalize benchmark, Stack Overflow 50306988, 'Correct Code' (Benchmark/StackOverflow/50306988)"
URL = "https://stackoverflow.com/questions/50306988"
FIX = ""
MECHANISM = (
    "Two uniform clusters in [0.2, 0.4]^2 and [0.5, 0.7]^2, shuffled, learnt by Dense(2, sigmoid) "
    "-> Dense(1, sigmoid) with BCE and Adam (the buggy version did not shuffle). Awkward: a tiny "
    "classic sigmoid net whose inputs all sit in a narrow positive band, so the loss falls slowly "
    "from 0.69 (Adam's default learning rate, 50 epochs)."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(105)
    n_samples, n_feats = 200, 2
    cls0 = rng.uniform(low=0.2, high=0.4, size=(n_samples, n_feats))
    cls1 = rng.uniform(low=0.5, high=0.7, size=(n_samples, n_feats))
    x = np.concatenate((cls0, cls1)).astype("float32")
    y = np.concatenate((np.zeros((n_samples,)), np.ones((n_samples,)))).astype("float32")
    order = rng.permutation(len(x))
    x, y = x[order], y[order]
    model = keras.Sequential(
        [
            keras.Input(shape=(n_feats,)),
            keras.layers.Dense(2, activation="sigmoid", name="hidden"),
            keras.layers.Dense(1, activation="sigmoid", name="output"),
        ]
    )
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    _common.fit(model, x, y, callbacks, epochs=50, batch_size=32)
