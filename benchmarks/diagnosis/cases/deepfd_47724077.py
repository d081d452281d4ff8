"""Income classifier on the raw UCI Adult columns (fnlwgt ~1e5, capital-gain up to 99999) without scaling."""

import keras
import numpy as np

SOURCE = (
    "DeepFD benchmark case 14 (Stack Overflow question 47724077); program as "
    "copied in DeepLocalize's benchmark, Benchmark/StackOverflow/"
)
URL = "https://stackoverflow.com/questions/47724077"
FIX = (
    "DeepFD's patch standardises X with StandardScaler (and tries SGD / Adam(lr=0.01)); fault labels: "
    "missing preprocessing, optimizer, learning rate, epoch."
)
MECHANISM = (
    "The 14 Adult columns are fed raw: fnlwgt in the hundreds of thousands and capital-gain up to "
    "99999 beside label codes and 0/1 flags. The first layer's pre-activations are dominated by "
    "those two columns, the cross-entropy starts in the thousands and the softmax flips between "
    "saturated extremes: accuracy hovers around 50 % where the standardised program reaches ~84 %."
)
HEALTHY = False
EXPECTED = [{"kind": "input_scale", "layer": "input"}]
ACCEPTABLE = ["dead_relu", "exploding_gradient", "learning_rate_too_high", "saturated_activation"]

SEED = 47724077 % 10000


def _adult_like(rng, n):
    """Columns in the order and ranges of adult.data, categorical columns label-encoded."""
    age = rng.integers(17, 91, n)
    workclass = rng.integers(0, 9, n)
    fnlwgt = np.clip(rng.lognormal(12.0, 0.55, n), 12285, 1484705).round()
    education_num = rng.integers(1, 17, n)
    education = (education_num + rng.integers(0, 2, n)) % 16
    marital = rng.integers(0, 7, n)
    occupation = rng.integers(0, 15, n)
    relationship = rng.integers(0, 6, n)
    race = rng.integers(0, 5, n)
    sex = rng.integers(0, 2, n)
    capital_gain = np.where(rng.random(n) < 0.08, rng.integers(100, 99999, n), 0)
    capital_loss = np.where(rng.random(n) < 0.05, rng.integers(100, 4356, n), 0)
    hours = np.clip(rng.normal(40, 12, n), 1, 99).round()
    country = rng.integers(0, 42, n)
    x = np.stack(
        [
            age,
            workclass,
            fnlwgt,
            education,
            education_num,
            marital,
            occupation,
            relationship,
            race,
            sex,
            capital_gain,
            capital_loss,
            hours,
            country,
        ],
        axis=1,
    ).astype("float32")
    score = (
        0.08 * (age - 38)
        + 0.45 * (education_num - 10)
        + 0.06 * (hours - 40)
        + 0.8 * sex
        + 2.5 * (capital_gain > 5000)
        + 0.6 * (marital == 2)
        - 1.4
    )
    income = (score + rng.logistic(0, 1, n) > 0).astype(int)  # ~25 % earn >50K
    return x, income


def run(run_dir: str, callbacks: list) -> None:
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    x, income = _adult_like(rng, 3000)
    y = np.eye(2, dtype="float32")[income]

    model = keras.Sequential(
        [
            keras.Input((14,), name="adult"),
            keras.layers.Dense(21, name="dense_1"),
            keras.layers.Activation("relu", name="relu_1"),
            keras.layers.Dense(2, name="dense_out"),
            keras.layers.Activation("softmax", name="softmax_out"),
        ],
        name="so_47724077",
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x, y, batch_size=100, epochs=10, callbacks=callbacks, verbose=0)
