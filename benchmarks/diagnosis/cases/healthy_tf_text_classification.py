"""Healthy: the TensorFlow "Basic text classification" recipe on synthetic IMDB-shaped reviews."""

from __future__ import annotations

import keras

from . import _common

SOURCE = "TensorFlow tutorial 'Basic text classification' (IMDB sentiment, Embedding + pooling)"
URL = "https://www.tensorflow.org/tutorials/keras/text_classification"
FIX = ""
MECHANISM = (
    "Embedding(10000, 16) -> Dropout -> GlobalAveragePooling1D -> Dropout -> Dense(1) logit with "
    "from_logits BCE and Adam, as in the tutorial (~87 % on IMDB). Awkward: each batch touches a "
    "small share of the 10,000 embedding rows (sparse gradients, rare words never seen), padding "
    "id 0 is averaged in, and the loss falls slowly at first (0.69 plateau) before it drops."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []

MAX_FEATURES = 10000
SEQUENCE_LENGTH = 250


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(102)
    x, y = _common.text_like(rng, 4000, MAX_FEATURES, SEQUENCE_LENGTH, min_length=40)
    model = keras.Sequential(
        [
            keras.Input(shape=(SEQUENCE_LENGTH,), dtype="int32"),
            keras.layers.Embedding(MAX_FEATURES, 16, name="embedding"),
            keras.layers.Dropout(0.2, name="dropout_1"),
            keras.layers.GlobalAveragePooling1D(name="pool"),
            keras.layers.Dropout(0.2, name="dropout_2"),
            keras.layers.Dense(1, name="logit"),
        ]
    )
    model.compile(
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        optimizer="adam",
        metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)],
    )
    # original: 20,000 reviews, batch 32, 10 epochs; here 4,000 synthetic reviews, 5 epochs
    _common.fit(model, x, y.astype("float32"), callbacks, batch_size=32, epochs=5)
