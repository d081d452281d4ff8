"""Healthy: the keras-io 'Bidirectional LSTM on IMDB' recipe, two stacked Bidirectional LSTMs over
pre-padded reviews, without masking."""

from __future__ import annotations

import keras

from . import _common

SOURCE = "keras-io example 'Bidirectional LSTM on IMDB' (fchollet)"
URL = "https://keras.io/examples/nlp/bidirectional_lstm_imdb/"
FIX = ""
MECHANISM = (
    "Reviews as word ids of a 20,000-word vocabulary, cut or zero-padded at the front "
    "(pad_sequences' default 'pre') to a fixed length; Embedding(20000, 128) -> "
    "Bidirectional(LSTM(64, return_sequences=True)) -> Bidirectional(LSTM(64)) -> Dense(1, sigmoid), "
    "binary cross-entropy, Adam at its default rate; the source reports ~85 % validation accuracy "
    "after 2 epochs. Awkward: no mask, so the LSTMs read up to 75 % padding (the backward LSTM "
    "reads it last), most of the 20,000 embedding rows get no gradient in a batch, and the "
    "Bidirectional wrapper holds two recurrent layers."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []

MAX_FEATURES = 20000
MAXLEN = 80  # the example: 200


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(132)
    # the example: 25,000 IMDB reviews (median ~170 words, many longer than 200, so cut)
    x, y = _common.text_like(rng, 2000, MAX_FEATURES, MAXLEN, min_length=20, padding="pre")

    inputs = keras.Input(shape=(None,), dtype="int32")
    h = keras.layers.Embedding(MAX_FEATURES, 128, name="embedding")(inputs)
    h = keras.layers.Bidirectional(keras.layers.LSTM(64, return_sequences=True), name="bilstm_1")(h)
    h = keras.layers.Bidirectional(keras.layers.LSTM(64), name="bilstm_2")(h)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="output")(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    _common.fit(model, x, y.astype("float32"), callbacks, batch_size=32, epochs=2)  # as the example
