"""Healthy: the keras-io "Image classification from scratch" small Xception (residual blocks of
SeparableConv2D + BatchNormalization), scaled down."""

from __future__ import annotations

import keras
import numpy as np

from . import _common

SOURCE = "keras-io example 'Image classification from scratch' (Cats vs Dogs, make_model: a small Xception)"
URL = "https://keras.io/examples/vision/image_classification_from_scratch/"
FIX = ""
MECHANISM = (
    "Rescaling(1/255) -> Conv2D + BN + ReLU -> residual blocks (three in the example, two here) (ReLU, SeparableConv2D, BN x2, "
    "MaxPool, a strided 1x1 Conv2D on the shortcut, Add) -> SeparableConv2D + BN + ReLU -> GAP -> "
    "Dropout(0.25) -> Dense(1) logit; Adam(3e-4), from_logits BCE. Awkward: BatchNorm rescales "
    "the backward signal at every block, residual additions give the gradient two paths, and "
    "pre-activation ReLUs sit at block inputs."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []

SIZE = 32  # the example: 180x180
# the example: blocks of 256, 512, 728 (first conv 128, last 1024). Here two blocks: with
# GradCauseCallback, building the instrumented train step of the three-block model took ~100 CPU s
# (first two steps) against ~20 s without the callback, too long for the benchmark
WIDTHS = (16, 32)


def pets_like(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """[0, 255] RGB images of two classes: class 1 has round blobs, class 0 elongated ones; random
    colours, positions and background clutter."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype("float32") / SIZE
    labels = rng.integers(0, 2, size=n)
    img = rng.uniform(0, 80, size=(n, 1, 1, 3)) + rng.normal(0, 20, size=(n, SIZE, SIZE, 3))
    for _ in range(2):
        cy, cx = rng.uniform(0.25, 0.75, size=(2, n))
        sy = np.where(labels == 1, 0.12, 0.05) * rng.uniform(0.8, 1.2, size=n)
        sx = np.where(labels == 1, 0.12, 0.25) * rng.uniform(0.8, 1.2, size=n)
        blob = np.exp(
            -(((yy - cy[:, None, None]) / sy[:, None, None]) ** 2 + ((xx - cx[:, None, None]) / sx[:, None, None]) ** 2)
            / 2
        )
        img += blob[..., None] * rng.uniform(80, 175, size=(n, 1, 1, 3))
    return np.clip(img, 0, 255).astype("float32"), labels.astype("float32")


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(113)
    x_train, y_train = pets_like(rng, 1280)
    inputs = keras.Input(shape=(SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1.0 / 255, name="rescaling")(inputs)
    x = keras.layers.Conv2D(WIDTHS[0], 3, strides=2, padding="same", name="entry_conv")(x)
    x = keras.layers.BatchNormalization(name="entry_bn")(x)
    x = keras.layers.Activation("relu", name="entry_relu")(x)
    previous = x
    for i, size in enumerate(WIDTHS, start=1):
        x = keras.layers.Activation("relu", name=f"block{i}_relu_a")(x)
        x = keras.layers.SeparableConv2D(size, 3, padding="same", name=f"block{i}_sepconv_a")(x)
        x = keras.layers.BatchNormalization(name=f"block{i}_bn_a")(x)
        x = keras.layers.Activation("relu", name=f"block{i}_relu_b")(x)
        x = keras.layers.SeparableConv2D(size, 3, padding="same", name=f"block{i}_sepconv_b")(x)
        x = keras.layers.BatchNormalization(name=f"block{i}_bn_b")(x)
        x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"block{i}_pool")(x)
        residual = keras.layers.Conv2D(size, 1, strides=2, padding="same", name=f"block{i}_shortcut")(previous)
        x = keras.layers.add([x, residual], name=f"block{i}_add")
        previous = x
    x = keras.layers.SeparableConv2D(64, 3, padding="same", name="exit_sepconv")(x)
    x = keras.layers.BatchNormalization(name="exit_bn")(x)
    x = keras.layers.Activation("relu", name="exit_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dropout(0.25, name="dropout")(x)
    outputs = keras.layers.Dense(1, activation=None, name="logit")(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-4),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(name="acc")],
    )
    # original: ~23,000 images of 180x180, batch 128, 25 epochs; here 1,280 of 32x32, batch 64, 4 epochs
    _common.fit(model, x_train, y_train, callbacks, batch_size=64, epochs=4)
