"""Healthy control: bag-of-embeddings text classifier (sparse Embedding gradients, many unused rows)."""

from __future__ import annotations

import keras
import numpy as np

from tb_gradcause.demo import _common

NAME = "healthy_embedding_text"
EXPECTED: list[dict] = []
VOCAB = 500
LENGTH = 20


def run(logdir: str) -> None:
    rng = _common.start(24)
    tokens = rng.integers(1, VOCAB, size=(2048, LENGTH))
    positive = np.arange(VOCAB) % 7 == 0  # "sentiment" words
    y = (positive[tokens].sum(axis=1) >= 3).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((LENGTH,), dtype="int32"),
            keras.layers.Embedding(VOCAB, 16, name="embedding"),
            keras.layers.GlobalAveragePooling1D(name="pool"),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(1, activation="sigmoid", name="output"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    _common.fit(model, tokens, y, logdir=logdir, name=NAME, epochs=4, batch_size=32)


if __name__ == "__main__":
    _common.main(run, __doc__)
