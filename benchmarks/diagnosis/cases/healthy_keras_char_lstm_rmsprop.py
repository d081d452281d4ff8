"""Healthy: the keras-io character-level text generation recipe, one LSTM(128) predicting the next
character with a softmax, trained by RMSprop at 0.01 (10x its default)."""

from __future__ import annotations

import keras
import numpy as np

from . import _common

SOURCE = "keras-io example 'Character-level text generation with LSTM' (fchollet)"
URL = "https://keras.io/examples/generative/lstm_character_level_text_generation/"
FIX = ""
MECHANISM = (
    "Nietzsche's text lower-cased, cut into 40-character windows every 3 characters, one-hot (bool) "
    "over its ~57 characters; LSTM(128) -> Dense(chars, softmax), categorical cross-entropy, "
    "RMSprop(learning_rate=0.01), batch 128; the source says the generated text becomes locally "
    "coherent after ~20 epochs. Awkward: a learning rate 10x RMSprop's default, one-hot boolean "
    "inputs with most features 0 (rare characters almost never 1), a softmax over ~40-60 classes "
    "whose loss falls fast and then slowly, and heavily overlapping training windows."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []

MAXLEN, STEP = 40, 3  # as in the example
N_CHARS = 36000  # the example: ~600,000 characters of Nietzsche


def pseudo_text(rng: np.random.Generator, n_chars: int) -> str:
    """Lower-case English-like text: Zipf-distributed words of letters with English letter
    frequencies, spaces, commas, full stops, line breaks, a few digits and quotes."""
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    letter_p = 1.0 / np.arange(1, 27) ** 0.9
    letter_p /= letter_p.sum()
    words = ["".join(rng.choice(list(letters), size=rng.integers(1, 10), p=letter_p)) for _ in range(600)]
    word_p = 1.0 / np.arange(1, len(words) + 1) ** 1.05
    word_p /= word_p.sum()
    out: list[str] = []
    size = 0
    while size < n_chars:
        word = words[rng.choice(len(words), p=word_p)]
        if rng.random() < 0.01:
            word = str(rng.integers(1, 100))
        if rng.random() < 0.02:
            word = f'"{word}"'
        word += rng.choice([" ", ", ", ". ", "\n", "; ", "--"], p=[0.86, 0.06, 0.05, 0.01, 0.01, 0.01])
        out.append(word)
        size += len(word)
    return "".join(out)[:n_chars]


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(139)
    text = pseudo_text(rng, N_CHARS)
    chars = sorted(set(text))
    char_indices = {c: i for i, c in enumerate(chars)}
    starts = range(0, len(text) - MAXLEN, STEP)
    x = np.zeros((len(starts), MAXLEN, len(chars)), dtype=bool)
    y = np.zeros((len(starts), len(chars)), dtype=bool)
    for i, start in enumerate(starts):
        for t, char in enumerate(text[start : start + MAXLEN]):
            x[i, t, char_indices[char]] = True
        y[i, char_indices[text[start + MAXLEN]]] = True

    model = keras.Sequential(
        [
            keras.Input(shape=(MAXLEN, len(chars))),
            keras.layers.LSTM(128, name="lstm"),
            keras.layers.Dense(len(chars), activation="softmax", name="next_char"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.RMSprop(learning_rate=0.01))
    # the example: 40 one-epoch fits of ~200,000 windows; here one fit of 4 epochs of 12,000 (376 steps)
    _common.fit(model, x, y, callbacks, batch_size=128, epochs=4)
