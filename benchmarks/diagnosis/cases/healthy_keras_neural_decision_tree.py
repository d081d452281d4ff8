"""Healthy: the keras-io deep neural decision tree (experiment 1): a depth-10 soft tree whose 1,024
sigmoid routing units are multiplied along each root-to-leaf path, on raw census features."""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from . import _common

SOURCE = "keras-io example 'Classification with Neural Decision Forests' (Khalid Salama), experiment 1"
URL = "https://keras.io/examples/structured_data/deep_neural_decision_forests/"
FIX = ""
MECHANISM = (
    "UCI Adult census rows: five numeric features as they are (age, education_num, capital_gain up "
    "to 99,999 and mostly 0, capital_loss, hours_per_week), eight categorical ids each embedded "
    "with the example's sizes (every Embedding takes the last lookup's vocabulary, 42 ids -> 6 "
    "dims), concatenated, BatchNorm, then a NeuralDecisionTree model: Dense(1024, sigmoid) routing "
    "decisions, the probability of each of the 1,024 leaves the product of 10 decisions along its "
    "path, a softmax over a learned (1024, 2) leaf table, the output their mixture (probabilities, "
    "not logits); sparse cross-entropy, Adam(0.01), batch 265, 10 epochs. The source reports ~82 % "
    "test accuracy. Awkward: leaf probabilities that are products of 10 sigmoids (mostly near 0), "
    "routing unit 0 never used (its kernel column gets no gradient), a custom Model used as a layer "
    "with a weight of its own, a learning rate 10x Adam's default, and 13 separate model inputs."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []

N_ROWS = 6000  # the example: 32,561 training rows
NUMERIC = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
VOCAB = {  # the training file's distinct values per categorical column
    "workclass": 9,
    "education": 16,
    "marital_status": 7,
    "occupation": 15,
    "relationship": 6,
    "race": 5,
    "gender": 2,
    "native_country": 42,
}


class NeuralDecisionTree(keras.Model):
    """The example's tree: sigmoid routing, leaf reach probabilities, softmax leaf classes."""

    def __init__(self, depth, num_features, used_features_rate, num_classes, rng):
        super().__init__()
        self.depth = depth
        self.num_leaves = 2**depth
        self.num_classes = num_classes
        num_used = int(num_features * used_features_rate)
        chosen = rng.choice(np.arange(num_features), num_used, replace=False)
        self.used_features_mask = ops.convert_to_tensor(np.eye(num_features)[chosen], dtype="float32")
        self.pi = self.add_weight(
            initializer="random_normal", shape=[self.num_leaves, self.num_classes], dtype="float32", trainable=True
        )
        self.decision_fn = keras.layers.Dense(units=self.num_leaves, activation="sigmoid", name="decision")

    def call(self, features):
        batch_size = ops.shape(features)[0]
        features = ops.matmul(features, ops.transpose(self.used_features_mask))
        decisions = ops.expand_dims(self.decision_fn(features), axis=2)
        decisions = ops.concatenate([decisions, 1 - decisions], axis=2)
        mu = ops.ones([batch_size, 1, 1])
        begin_idx, end_idx = 1, 2
        for level in range(self.depth):
            mu = ops.reshape(mu, [batch_size, -1, 1])
            mu = ops.tile(mu, (1, 1, 2))
            mu = mu * decisions[:, begin_idx:end_idx, :]
            begin_idx = end_idx
            end_idx = begin_idx + 2 ** (level + 1)
        mu = ops.reshape(mu, [batch_size, self.num_leaves])
        probabilities = keras.activations.softmax(self.pi)
        return ops.matmul(mu, probabilities)


def census(rng: np.random.Generator, n: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Adult-like rows: raw numeric columns, category ids, and the >50K label (~24 % positive)."""
    cols: dict[str, np.ndarray] = {key: rng.integers(0, size, n).astype("int32") for key, size in VOCAB.items()}
    cols["native_country"] = np.where(rng.random(n) < 0.9, 39, cols["native_country"]).astype("int32")  # US
    age = np.clip(rng.gamma(6.0, 6.5, n) + 17, 17, 90).round()
    education_num = np.clip(rng.normal(10, 2.6, n), 1, 16).round()
    hours = np.clip(rng.normal(40, 12, n), 1, 99).round()
    gain = np.where(rng.random(n) < 0.08, np.minimum(rng.lognormal(8.3, 1.0, n), 99999), 0).round()
    gain[rng.random(n) < 0.005] = 99999
    loss = np.where(rng.random(n) < 0.05, rng.normal(1900, 350, n).clip(155, 4356), 0).round()
    married = cols["marital_status"] == 2
    score = (
        0.08 * (education_num - 10)
        + 0.04 * (age - 38)
        + 0.03 * (hours - 40)
        + 1.6 * married
        + 2.0 * (gain > 5000)
        + 0.6 * (loss > 1800)
        + 0.3 * (cols["gender"] == 1)
        + rng.normal(0, 1.0, n)
    )
    labels = (score > np.quantile(score, 0.76)).astype("int32")
    for name, values in zip(NUMERIC, (age, education_num, gain, loss, hours)):
        cols[name] = values.astype("float32")
    return cols, labels


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(142)
    x, y = census(rng, N_ROWS)
    inputs = {name: keras.Input(name=name, shape=(), dtype="float32") for name in NUMERIC}
    inputs |= {name: keras.Input(name=name, shape=(), dtype="int32") for name in VOCAB}
    last_vocab = list(VOCAB.values())[-1]  # sic: the example sizes every Embedding by the last lookup
    encoded = []
    for name, value in inputs.items():
        if name in VOCAB:
            embedding = keras.layers.Embedding(last_vocab, int(math.sqrt(last_vocab)), name=f"embed_{name}")
            encoded.append(embedding(value))
        else:
            encoded.append(ops.expand_dims(value, -1))
    features = keras.layers.concatenate(encoded, name="features")
    features = keras.layers.BatchNormalization(name="bn")(features)
    tree = NeuralDecisionTree(10, features.shape[1], 1.0, 2, rng)
    model = keras.Model(inputs=inputs, outputs=tree(features))
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    _common.fit(model, x, y, callbacks, batch_size=265, epochs=10)  # as the example (23 steps per epoch here)
