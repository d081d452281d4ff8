"""Healthy control: a small CNN with batch normalisation classifying synthetic 16x16 stripe images."""

from __future__ import annotations

import keras
import numpy as np

from tb_gradcause.demo import _common

NAME = "healthy_cnn_batchnorm"
EXPECTED: list[dict] = []


def run(logdir: str) -> None:
    rng = _common.start(21)
    n = 1024
    labels = rng.integers(0, 2, size=n)
    stripes = np.sin(np.arange(16) * np.pi / 2)  # period-4 stripes, horizontal or vertical by label
    images = np.where(labels[:, None, None] == 0, stripes[None, :, None], stripes[None, None, :])
    images = (images + rng.normal(scale=1.0, size=(n, 16, 16)))[..., None].astype("float32")
    model = keras.Sequential(
        [
            keras.Input((16, 16, 1)),
            keras.layers.Conv2D(8, 3, padding="same", use_bias=False, name="conv_1"),
            keras.layers.BatchNormalization(name="bn_1"),
            keras.layers.ReLU(name="relu_1"),
            keras.layers.MaxPooling2D(name="pool_1"),
            keras.layers.Conv2D(16, 3, padding="same", use_bias=False, name="conv_2"),
            keras.layers.BatchNormalization(name="bn_2"),
            keras.layers.ReLU(name="relu_2"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(2, activation="softmax", name="output"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    _common.fit(model, images, labels, logdir=logdir, name=NAME, epochs=3, batch_size=32)


if __name__ == "__main__":
    _common.main(run, __doc__)
