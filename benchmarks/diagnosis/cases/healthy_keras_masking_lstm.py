"""Healthy: the keras-io masking recipe, Embedding(mask_zero=True) feeding an LSTM over padded sequences."""

from __future__ import annotations

import keras

from . import _common

SOURCE = "keras-io guide 'Understanding masking & padding' (Embedding(input_dim=5000, output_dim=16, mask_zero=True) -> LSTM(32)), with a sigmoid classifier head"
URL = "https://keras.io/guides/understanding_masking_and_padding/"
FIX = ""
MECHANISM = (
    "Variable-length token sequences (6 to 60 tokens) post-padded with 0 to 60; the Embedding's "
    "mask makes the LSTM skip padded steps. Awkward: the padding row of the embedding never gets "
    "a gradient, most of the 5000 rows get none in a given batch, and up to 90 % of a sequence's "
    "time steps are masked (no gradient along them)."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(111)
    x, y = _common.text_like(rng, 2000, 5000, 60, min_length=6, padding="post")
    model = keras.Sequential(
        [
            keras.Input(shape=(60,), dtype="int32"),
            keras.layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True, name="embedding"),
            keras.layers.LSTM(32, name="lstm"),
            keras.layers.Dense(1, activation="sigmoid", name="output"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    _common.fit(model, x, y.astype("float32"), callbacks, batch_size=64, epochs=4)
