"""Healthy: the keras-io transfer-learning recipe: a pretrained base frozen with `trainable = False`
and called with `training=False`, a new head trained on top."""

from __future__ import annotations

import keras
import numpy as np

from . import _common

SOURCE = "keras-io guide 'Transfer learning & fine-tuning', the typical transfer-learning workflow (frozen Xception base, new head)"
URL = "https://keras.io/guides/transfer_learning/"
FIX = ""
MECHANISM = (
    "A convolutional base (Conv+BatchNorm+ReLU blocks) is first pretrained on a related 10-class "
    "task (no callbacks, standing in for ImageNet weights, which cannot be downloaded here), then "
    "frozen (`base.trainable = False`, called with `training=False` so BatchNorm stays in "
    "inference mode); Rescaling to [-1, 1], GlobalAveragePooling2D, Dropout(0.2) and a Dense(1) "
    "logit are trained with from_logits BCE and Adam. Awkward: most of the network gets no "
    "gradient at all, by design."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []

SIZE = 32  # the guide resizes to 150x150 for Xception


def images(rng: np.random.Generator, n: int, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """RGB images in [0, 255]: a class-specific colour pattern (stripes of a class frequency and
    orientation) under noise."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype("float32") / SIZE
    labels = rng.integers(0, n_classes, size=n)
    angle = labels * np.pi / n_classes + rng.normal(0, 0.1, size=n)
    freq = 3 + (labels % 3) * 2
    phase = rng.uniform(0, 2 * np.pi, size=n)
    wave = np.sin(
        2 * np.pi * freq[:, None, None] * (np.cos(angle)[:, None, None] * xx + np.sin(angle)[:, None, None] * yy)
        + phase[:, None, None]
    )
    tint = np.stack([np.sin(labels), np.cos(labels), np.sin(2 * labels)], axis=1)[:, None, None, :]
    x = 127.5 + 60 * wave[..., None] * (0.6 + 0.4 * tint) + rng.normal(0, 25, size=(n, SIZE, SIZE, 3))
    return np.clip(x, 0, 255).astype("float32"), labels


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(109)
    base = keras.Sequential(
        [keras.Input(shape=(SIZE, SIZE, 3))]
        + [
            layer
            for i, filters in enumerate((16, 32, 64))
            for layer in (
                keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"base_conv_{i + 1}"),
                keras.layers.BatchNormalization(name=f"base_bn_{i + 1}"),
                keras.layers.ReLU(name=f"base_relu_{i + 1}"),
                keras.layers.MaxPooling2D(2, name=f"base_pool_{i + 1}"),
            )
        ],
        name="base_model",
    )
    # "pretraining" of the base on a related 10-class task (stands in for the ImageNet weights)
    pre_x, pre_y = images(rng, 1000, 10)
    pretrain = keras.Sequential(
        [
            keras.Input(shape=(SIZE, SIZE, 3)),
            keras.layers.Rescaling(1 / 127.5, offset=-1),
            base,
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    pretrain.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    pretrain.fit(pre_x, pre_y, batch_size=64, epochs=4, verbose=0)  # its loss falls to ~0.02

    # the guide's workflow from here on
    base.trainable = False
    inputs = keras.Input(shape=(SIZE, SIZE, 3))
    x = keras.layers.Rescaling(scale=1 / 127.5, offset=-1, name="rescaling")(inputs)
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(0.2, name="dropout")(x)
    outputs = keras.layers.Dense(1, name="logit")(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy()],
    )
    # new task, as cats vs dogs is for ImageNet: a binary grouping of the pretraining classes
    new_x, new_labels = images(rng, 1200, 10)
    new_y = (new_labels < 5).astype("float32")
    _common.fit(model, new_x, new_y, callbacks, batch_size=32, epochs=8, validation_split=0.1)  # the guide: 20 epochs
