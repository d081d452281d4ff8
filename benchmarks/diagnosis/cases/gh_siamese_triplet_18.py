"""Siamese MNIST net with the contrastive loss relu(margin - sqrt(d2))^2: identical images in a negative pair -> NaN."""

import keras
import numpy as np
from keras import ops

from . import _common

SOURCE = "GitHub adambielski/siamese-triplet issue 18 ('Siamese loss problem', ContrastiveLoss without epsilon)"
URL = "https://github.com/adambielski/siamese-triplet/issues/18"
FIX = (
    "add a small constant under the square root: relu(margin - (distances + eps).sqrt()) "
    "(the maintainer: 'Added the epsilon')"
)
MECHANISM = (
    "ContrastiveLoss takes sqrt of the squared embedding distance for dissimilar pairs. Two exactly "
    "identical samples in such a pair (here: blank images, present in every class) have distance 0, "
    "where d sqrt/dx = inf; times d(distance)/d(embedding) = 0 it makes the gradients NaN and the "
    "weights, then the loss, NaN."
)
HEALTHY = False
EXPECTED = [{"kind": "nan_inf", "layer": None}]
ACCEPTABLE = ["exploding_gradient"]

SEED = 18
MARGIN = 1.0


def contrastive_loss(target, y_pred):
    """losses.ContrastiveLoss of the repository before the fix; y_pred = [embedding1, embedding2]."""
    output1, output2 = y_pred[:, :2], y_pred[:, 2:]
    target = target[:, 0]
    distances = ops.sum(ops.square(output2 - output1), axis=1)  # squared distances
    return 0.5 * (target * distances + (1 - target) * ops.square(ops.relu(MARGIN - ops.sqrt(distances))))


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(SEED)
    images, labels = _common.mnist_like(rng, 1200)
    images[rng.random(len(images)) < 0.06] = 0.0  # blank scans, in every class
    by_class = [np.flatnonzero(labels == c) for c in range(10)]
    left = np.arange(len(images))
    same = (rng.random(len(images)) < 0.5).astype("float32")  # SiameseMNIST: 50 % positive pairs
    right = np.array(
        [
            rng.choice(by_class[c]) if s else rng.choice(by_class[(c + rng.integers(1, 10)) % 10])
            for c, s in zip(labels, same)
        ]
    )
    embedding_net = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1), name="digit"),
            keras.layers.Conv2D(32, 5, name="conv_1"),
            keras.layers.PReLU(name="prelu_1"),
            keras.layers.MaxPooling2D(2, name="pool_1"),
            keras.layers.Conv2D(64, 5, name="conv_2"),
            keras.layers.PReLU(name="prelu_2"),
            keras.layers.MaxPooling2D(2, name="pool_2"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(256, name="fc_1"),
            keras.layers.PReLU(name="prelu_3"),
            keras.layers.Dense(256, name="fc_2"),
            keras.layers.PReLU(name="prelu_4"),
            keras.layers.Dense(2, name="embedding"),
        ],
        name="embedding_net",
    )
    x1 = keras.Input(shape=(28, 28, 1), name="x1")
    x2 = keras.Input(shape=(28, 28, 1), name="x2")
    pair = keras.layers.Concatenate(name="siamese_outputs")([embedding_net(x1), embedding_net(x2)])
    model = keras.Model([x1, x2], pair, name="siamese_net")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss=contrastive_loss)
    _common.fit(model, [images[left], images[right]], same[:, None], callbacks, epochs=2, batch_size=128, shuffle=True)
