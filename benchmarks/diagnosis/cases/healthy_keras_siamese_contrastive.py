"""Healthy: the keras-io siamese network with a contrastive loss: one tanh convolutional tower on
both images of a pair, their Euclidean distance in a `Lambda`, BatchNorm and a sigmoid on it."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from . import _common

SOURCE = "keras-io example 'Image similarity estimation using a Siamese Network with a contrastive loss' (Mehdi)"
URL = "https://keras.io/examples/vision/siamese_contrastive/"
FIX = ""
MECHANISM = (
    "Pairs of MNIST digits (one of the same class, one of another class per image, label 1 / 0); "
    "a shared tower BatchNorm -> Conv(4, 5x5, tanh) -> AvgPool -> Conv(16, 5x5, tanh) -> AvgPool -> "
    "BatchNorm -> Dense(10, tanh) embeds each image, a Lambda takes sqrt(max(sum of squares, "
    "epsilon)) of their difference, BatchNorm and Dense(1, sigmoid) follow; the contrastive loss "
    "mean((1 - y) * p^2 + y * max(1 - p, 0)^2), RMSprop at its default rate, batch 16. The source "
    "reports the loss falling and ~99 % test accuracy. Awkward: the pixels are raw 0-255 floats "
    "(only the first BatchNorm normalizes them), a hand-written Lambda with a max and a sqrt (the "
    "tool's gradient check runs on it), one tower called twice (shared weights), tanh units, and a "
    "loss on a sigmoid output that is no cross-entropy."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []

N_IMAGES = 1000  # the example: 30,000 training images, hence 60,000 pairs


def euclidean_distance(vects):
    """sqrt(max(sum((x - y)^2), epsilon)) per pair, as in the example."""
    x, y = vects
    sum_square = ops.sum(ops.square(x - y), axis=1, keepdims=True)
    return ops.sqrt(ops.maximum(sum_square, keras.backend.epsilon()))


def contrastive_loss(y_true, y_pred, margin: float = 1.0):
    """mean((1 - y) * p^2 + y * max(margin - p, 0)^2), as in the example."""
    square_pred = ops.square(y_pred)
    margin_square = ops.square(ops.maximum(margin - y_pred, 0))
    return ops.mean((1 - y_true) * square_pred + y_true * margin_square)


def make_pairs(rng: np.random.Generator, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per image a pair with an image of its class (label 1) and one of another class (label 0)."""
    by_class = [np.flatnonzero(y == c) for c in range(10)]
    first, second, labels = [], [], []
    for i in range(len(x)):
        first.append(x[i])
        second.append(x[rng.choice(by_class[y[i]])])
        labels.append(1.0)
        other = (y[i] + rng.integers(1, 10)) % 10
        first.append(x[i])
        second.append(x[rng.choice(by_class[other])])
        labels.append(0.0)
    return np.stack(first), np.stack(second), np.asarray(labels, dtype="float32")


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(133)
    x, y = _common.mnist_like(rng, N_IMAGES)
    x = x * 255.0  # the example casts the uint8 pixels to float32 and does not rescale them
    x1, x2, labels = make_pairs(rng, x, y)

    image = keras.Input((28, 28, 1))
    h = keras.layers.BatchNormalization(name="bn_input")(image)
    h = keras.layers.Conv2D(4, (5, 5), activation="tanh", name="conv_1")(h)
    h = keras.layers.AveragePooling2D(pool_size=(2, 2), name="pool_1")(h)
    h = keras.layers.Conv2D(16, (5, 5), activation="tanh", name="conv_2")(h)
    h = keras.layers.AveragePooling2D(pool_size=(2, 2), name="pool_2")(h)
    h = keras.layers.Flatten(name="flatten")(h)
    h = keras.layers.BatchNormalization(name="bn_features")(h)
    h = keras.layers.Dense(10, activation="tanh", name="embedding")(h)
    tower = keras.Model(image, h, name="tower")

    input_1, input_2 = keras.Input((28, 28, 1), name="image_1"), keras.Input((28, 28, 1), name="image_2")
    distance = keras.layers.Lambda(euclidean_distance, name="distance")([tower(input_1), tower(input_2)])
    normal = keras.layers.BatchNormalization(name="bn_distance")(distance)
    output = keras.layers.Dense(1, activation="sigmoid", name="output")(normal)
    siamese = keras.Model(inputs=[input_1, input_2], outputs=output)
    siamese.compile(loss=contrastive_loss, optimizer="RMSprop", metrics=["accuracy"])
    # the example: 10 epochs of 60,000 pairs; here 5 epochs of 2,000 pairs (625 steps)
    _common.fit(siamese, [x1, x2], labels, callbacks, batch_size=16, epochs=5)
