"""Healthy: the keras-io 'addition RNN' recipe, an LSTM encoder whose last state is repeated as the
input of an LSTM decoder with a per-step softmax over characters."""

from __future__ import annotations

import keras
import numpy as np

from . import _common

SOURCE = "keras-io example 'Sequence to sequence learning for performing number addition' (Smerity and others)"
URL = "https://keras.io/examples/nlp/addition_rnn/"
FIX = ""
MECHANISM = (
    "'535+61' -> '596': queries of two numbers of 1 to 3 digits, space-padded to 7 characters and "
    "reversed, one-hot (bool) over 12 characters; LSTM(128) encoder, RepeatVector(4), LSTM(128) "
    "decoder with return_sequences, Dense(12, softmax) on every step, categorical cross-entropy, "
    "Adam at its default rate. The source reaches 99 % validation accuracy in about 30 epochs. "
    "Awkward: one-hot boolean inputs (most features exactly 0), a softmax per time step over a "
    "3-D target, the space character dominating the answers' padding, and a loss that plateaus "
    "for a while near the class-frequency entropy before the model learns carrying."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []

DIGITS = 3
MAXLEN = DIGITS + 1 + DIGITS
CHARS = sorted("0123456789+ ")
N_QUESTIONS = 6000  # the example: 50,000 (45,000 for training)


def encode(strings: list[str], rows: int) -> np.ndarray:
    """One-hot bool (n, rows, 12), as the example's CharacterTable."""
    index = {c: i for i, c in enumerate(CHARS)}
    out = np.zeros((len(strings), rows, len(CHARS)), dtype=bool)
    for n, s in enumerate(strings):
        for t, c in enumerate(s):
            out[n, t, index[c]] = True
    return out


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(131)
    questions, answers, seen = [], [], set()
    while len(questions) < N_QUESTIONS:  # the example's generator: unique unordered pairs
        a, b = (int("".join(rng.choice(list("0123456789"), size=rng.integers(1, DIGITS + 1)))) for _ in range(2))
        key = tuple(sorted((a, b)))
        if key in seen:
            continue
        seen.add(key)
        query = f"{a}+{b}"
        questions.append((query + " " * (MAXLEN - len(query)))[::-1])  # reversed, as REVERSE = True
        answer = str(a + b)
        answers.append(answer + " " * (DIGITS + 1 - len(answer)))
    x, y = encode(questions, MAXLEN), encode(answers, DIGITS + 1)
    order = rng.permutation(len(x))
    x, y = x[order], y[order]
    split = len(x) - len(x) // 10
    x_train, y_train = x[:split], y[:split]

    model = keras.Sequential(
        [
            keras.Input(shape=(MAXLEN, len(CHARS))),
            keras.layers.LSTM(128, name="encoder_lstm"),
            keras.layers.RepeatVector(DIGITS + 1, name="repeat"),
            keras.layers.LSTM(128, return_sequences=True, name="decoder_lstm"),
            keras.layers.Dense(len(CHARS), activation="softmax", name="char_softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    # the example: 29 one-epoch fits of batch 32; here one fit of 10 epochs (1,690 steps)
    _common.fit(model, x_train, y_train, callbacks, batch_size=32, epochs=10)
