"""Facial-keypoint regression (96x96 images -> 30 coordinates) with a linear MLP trained by Adam(lr=0.1)."""

import keras
import numpy as np

SOURCE = (
    "DeepFD benchmark case 49 (GitHub project FacialKeypointsDetection, "
    "src/1_single_hidden_layer.py, as collected in DeepLocalize's benchmark)"
)
URL = "https://github.com/Wardat-ISU/DeepLocalize/tree/master/Benchmark/GitHub/Buggy%20Model/FacialKeypointsDetection"
FIX = (
    "DeepFD's patch replaces Adam(lr=0.1) with SGD(lr=0.01, momentum=0.9, nesterov=True, clipnorm=1) and "
    "trains longer; fault labels: optimizer, epoch."
)
MECHANISM = (
    "Adam normalises each step to ~lr per weight, so lr=0.1 moves every one of the 9216x50 first-layer "
    "weights by ~0.1 per step on inputs in [0, 1] whose targets lie in [-1, 1]: the outputs overshoot "
    "by orders of magnitude and the MSE jumps far above its starting level instead of converging."
)
HEALTHY = False
EXPECTED = [{"kind": "learning_rate_too_high", "layer": None}]
ACCEPTABLE = ["exploding_gradient", "nan_inf"]

SEED = 49


def _faces(rng, n, size=96):
    """Grey 96x96 'faces' in [0, 1] with 15 keypoints (30 coordinates scaled to [-1, 1] as (y - 48) / 48):
    a fixed layout moved, scaled and rotated slightly per image; each keypoint is drawn as a dark dot on a
    bright oval."""
    base = np.array(
        [
            [-0.35, -0.3],
            [0.35, -0.3],
            [-0.2, -0.3],
            [-0.5, -0.3],
            [0.2, -0.3],
            [0.5, -0.3],
            [-0.25, -0.45],
            [-0.55, -0.45],
            [0.25, -0.45],
            [0.55, -0.45],
            [0.0, 0.05],
            [-0.3, 0.45],
            [0.3, 0.45],
            [0.0, 0.35],
            [0.0, 0.55],
        ]
    )
    yy, xx = np.mgrid[0:size, 0:size]
    images = np.empty((n, size * size), "float32")
    targets = np.empty((n, 30), "float32")
    for i in range(n):
        a = rng.normal(0, 0.08)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        pts = base @ rot.T * rng.uniform(0.8, 1.1) + rng.normal(0, 0.06, 2)
        px = 48 + 48 * pts  # pixel coordinates (x, y)
        img = 0.3 + 0.5 * np.exp(-(((xx - px[10, 0]) / 40) ** 2 + ((yy - px[10, 1]) / 48) ** 2))
        for cx, cy in px:
            img -= 0.4 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 8.0)
        images[i] = np.clip(img + rng.normal(0, 0.03, img.shape), 0, 1).reshape(-1)
        targets[i] = pts.reshape(-1)
    return images, targets


def run(run_dir: str, callbacks: list) -> None:
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    x, y = _faces(rng, 640)  # the Kaggle training set has 2140 complete rows

    model = keras.Sequential(
        [
            keras.Input((9216,), name="pixels"),
            keras.layers.Dense(50, name="dense_1"),
            keras.layers.Dense(100, name="dense_2"),
            keras.layers.Dense(30, name="keypoints"),
        ],
        name="facial_keypoints",
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.1), loss="mean_squared_error")
    model.fit(x, y, batch_size=32, epochs=6, callbacks=callbacks, verbose=0)
