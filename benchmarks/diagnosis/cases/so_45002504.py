"""Logistic regression on raw heart-disease features (blood pressure ~140, age ~45) with GradientDescent(0.5): diverges."""

import keras
import numpy as np

from . import _common

SOURCE = (
    "Stack Overflow 45002504 (reproduced as StackOverflow/IPS-13 in Zhang et al., ISSTA 2018, "
    "TensorFlow-Program-Bugs; CS20SI assignment q2 on the heart.csv data)"
)
URL = "https://stackoverflow.com/questions/45002504"
FIX = "LEARNING_RATE = 0.01 instead of 0.5 (and the L2 factor BETA = 0.1 instead of 1)"
MECHANISM = (
    "The nine features are unscaled (sbp ~140, alcohol up to ~150, age ~45), so the cross-entropy "
    "curvature is in the thousands and a plain gradient step of 0.5 overshoots by orders of "
    "magnitude: the weights jump to huge values of alternating sign and the loss (cross-entropy plus "
    "the L2 term) rises from ~100 to thousands, where it oscillates with accuracy below chance."
)
HEALTHY = False
EXPECTED = [{"kind": "learning_rate_too_high", "layer": None}]
ACCEPTABLE = ["nan_inf", "exploding_gradient", "input_scale"]

SEED = 45
BETA = 1.0


def _heart_like(rng: np.random.Generator, n: int):
    """South-African heart-disease columns: sbp, tobacco, ldl, adiposity, famhist, typea, obesity, alcohol,
    age; label chd (~35 % positive), as two one-hot columns."""
    age = rng.uniform(15, 64, n)
    cols = [
        rng.normal(120 + 0.5 * age, 18),
        rng.gamma(1.0, 3.6, n),
        rng.normal(4.7, 2.0, n).clip(1, 15),
        rng.normal(25, 7.8, n).clip(6, 43),
        rng.integers(0, 2, n),
        rng.normal(53, 9.8, n).clip(13, 78),
        rng.normal(26, 4.2, n).clip(14, 47),
        rng.gamma(0.6, 29, n).clip(0, 148),
        age,
    ]
    x = np.stack(cols, axis=1).astype("float32")
    risk = 0.05 * (age - 43) + 0.08 * (cols[1] - 3.6) + 0.15 * (cols[2] - 4.7) + 0.9 * cols[4] - 0.45
    chd = (rng.random(n) < 1 / (1 + np.exp(-risk))).astype(int)
    return x, np.eye(2, dtype="float32")[chd]


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(SEED)
    x, y = _heart_like(rng, 364)  # heart_train.csv
    model = keras.Sequential(
        [
            keras.Input(shape=(9,), name="X"),
            keras.layers.Dense(
                2,
                kernel_initializer=keras.initializers.TruncatedNormal(stddev=1.0),
                kernel_regularizer=keras.regularizers.L2(0.5 * BETA),  # BETA * tf.nn.l2_loss(w)
                name="score",
            ),
        ],
        name="logistic_regression",
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.5),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    _common.fit(model, x, y, callbacks, epochs=5, batch_size=7, shuffle=True)
