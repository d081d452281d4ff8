"""Facial-keypoint regression MLP (96x96 pixels -> 30 coordinates) trained with Adam(lr=0.1): the loss blows up."""

import keras
import numpy as np

from . import _common

SOURCE = ("DeepLocalize benchmark, GitHub ShyamPoovaiah/FacialKeypointsDetection "
          "(src/1_single_hidden_layer.py, fix commit 6543925)")
URL = "https://github.com/ShyamPoovaiah/FacialKeypointsDetection/commit/654392560f25688822862126005f576b682e38ad"
FIX = ("compile with SGD(lr=0.01, decay=1e-6, momentum=0.9, nesterov=True, clipnorm=1) instead of "
       "Adam(lr=0.1)")
MECHANISM = ("Adam moves every weight by about lr = 0.1 per step whatever its gradient; with 9216 inputs in [0, 1] "
             "feeding three stacked linear layers, each step changes the 30 outputs by orders of magnitude "
             "more than the targets' range [-1, 1], so the mean squared error rises instead of falling.")
HEALTHY = False
EXPECTED = [{"kind": "learning_rate_too_high", "layer": None}]
ACCEPTABLE = ["exploding_gradient", "nan_inf"]

SEED = 96


def _faces(rng: np.random.Generator, n: int):
    """96x96 grey 'faces': a soft oval plus 15 keypoint blobs; targets are the keypoints scaled to [-1, 1]."""
    yy, xx = np.mgrid[0:96, 0:96].astype("float32")
    base = np.array([[30, 35], [66, 35], [24, 35], [38, 35], [58, 35], [72, 35], [26, 28], [40, 28],
                     [56, 28], [70, 28], [48, 55], [36, 72], [60, 72], [48, 68], [48, 78]], "float32")
    images = np.empty((n, 96 * 96), "float32")
    targets = np.empty((n, 30), "float32")
    for i in range(n):
        pts = base + rng.normal(0, 3, base.shape) + rng.normal(0, 4, (1, 2))
        img = 0.4 * np.exp(-(((xx - pts[:, 0].mean()) / 30) ** 2 + ((yy - pts[:, 1].mean()) / 38) ** 2))
        for px, py in pts:
            img += 0.5 * np.exp(-((xx - px) ** 2 + (yy - py) ** 2) / 8.0)
        images[i] = np.clip(img + rng.normal(0, 0.03, img.shape), 0, 1).ravel()
        targets[i] = ((pts - 48) / 48).ravel()                    # y = (y - 48) / 48
    return images, targets


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(SEED)
    x, y = _faces(rng, 512)                                      # the Kaggle set has 2140 complete rows
    model = keras.Sequential([
        keras.Input(shape=(9216,), name="pixels"),
        keras.layers.Dense(50, name="dense_50"),
        keras.layers.Dense(100, name="dense_100"),
        keras.layers.Dense(30, name="keypoints"),
    ], name="single_hidden_layer")
    model.compile(keras.optimizers.Adam(learning_rate=0.1), "mean_squared_error")
    _common.fit(model, x, y, callbacks, epochs=10, batch_size=32, shuffle=True)
