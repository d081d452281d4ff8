"""Healthy: the keras-io credit-card-fraud recipe: a ReLU MLP on standardized, heavy-tailed
tabular features, 0.17 % positives, `class_weight` = 1 / class count, Adam(1e-2), batch 2048."""

from __future__ import annotations

import keras
import numpy as np

from . import _common

SOURCE = "keras-io example 'Imbalanced classification: credit card fraud detection' (fchollet)"
URL = "https://keras.io/examples/structured_data/imbalanced_classification/"
FIX = ""
MECHANISM = (
    "The Kaggle credit-card table: Time (seconds over two days), 28 PCA components V1-V28 and the "
    "Amount, 0.17 % frauds; standardized with the training set's mean and std; Dense(256, relu) x 3 "
    "with Dropout(0.3) after the 2nd and 3rd, Dense(1, sigmoid), binary cross-entropy, Adam(1e-2), "
    "batch 2048, 30 epochs, class_weight {0: 1/count_0, 1: 1/count_1}. The source catches 66 of 75 "
    "validation frauds. Awkward: the class weights make the loss ~1e-5 and its gradients tiny "
    "(Adam is scale-free), a few frauds per batch carry as much weight as the 2,000 other rows (the "
    "loss and the gradients jump with the batch's fraud count), standardized features with heavy "
    "tails (|x| up to tens of stds), and a learning rate 10x Adam's default."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []

N_ROWS = 30000  # the example: 284,807 transactions
FRAUD_RATE = 0.00172  # as in the data: 492 of 284,807
# PCA components: std of V1..V28 in the data falls from ~1.96 to ~0.33
PCA_STD = np.linspace(1.96, 0.33, 28)
# frauds differ most in these components (shift in their std units, roughly as in the data; each
# fraud by a random fraction of it, so some look like ordinary transactions)
FRAUD_SHIFT = {14: -7.0, 17: -6.0, 12: -5.5, 10: -5.0, 4: 3.0, 11: 3.0, 3: -4.0, 16: -4.0, 7: -3.0, 2: 2.0}


def transactions(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, 30) float32 raw columns [Time, V1..V28, Amount] in time order, and 0/1 targets (n, 1)."""
    time = np.sort(rng.uniform(0, 172792, n) + 20000 * np.sin(rng.uniform(0, 2 * np.pi, n)) ** 2)
    time = np.clip(time, 0, 172792)
    pca = rng.standard_t(3, size=(n, 28)) / np.sqrt(3.0) * PCA_STD  # heavy tails, unit-std t(3)
    fraud = rng.random(n) < FRAUD_RATE
    for component, shift in FRAUD_SHIFT.items():
        pca[fraud, component - 1] += shift * PCA_STD[component - 1] * rng.uniform(0.0, 1.2, fraud.sum())
    amount = np.minimum(np.round(rng.lognormal(3.0, 1.7, n), 2), 25691.16)  # median ~20, mean ~90
    features = np.column_stack([time, pca, amount]).astype("float32")
    return features, fraud.astype("uint8")[:, None]


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(138)
    features, targets = transactions(rng, N_ROWS)
    num_val = int(len(features) * 0.2)
    train_features, train_targets = features[:-num_val], targets[:-num_val]
    val_features, val_targets = features[-num_val:], targets[-num_val:]
    counts = np.bincount(train_targets[:, 0])
    mean = np.mean(train_features, axis=0)
    train_features -= mean
    val_features -= mean
    std = np.std(train_features, axis=0)
    train_features /= std
    val_features /= std

    model = keras.Sequential(
        [
            keras.Input(shape=train_features.shape[1:]),
            keras.layers.Dense(256, activation="relu", name="dense_1"),
            keras.layers.Dense(256, activation="relu", name="dense_2"),
            keras.layers.Dropout(0.3, name="dropout_1"),
            keras.layers.Dense(256, activation="relu", name="dense_3"),
            keras.layers.Dropout(0.3, name="dropout_2"),
            keras.layers.Dense(1, activation="sigmoid", name="output"),
        ]
    )
    metrics = [keras.metrics.FalseNegatives(name="fn"), keras.metrics.TruePositives(name="tp")]
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=metrics)
    _common.fit(
        model,
        train_features,
        train_targets,
        callbacks,
        batch_size=2048,
        epochs=30,  # as the example (12 steps per epoch here, 112 there)
        validation_data=(val_features, val_targets),
        class_weight={0: 1.0 / counts[0], 1: 1.0 / counts[1]},
    )
