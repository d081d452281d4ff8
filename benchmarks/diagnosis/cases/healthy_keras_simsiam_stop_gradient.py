"""Healthy: the keras-io SimSiam recipe, whose loss compares each view's prediction with the other
view's projection behind `stop_gradient` (the target branch), ported from a custom train_step to fit()."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from . import _common

SOURCE = "keras-io example 'Self-supervised contrastive learning with SimSiam' (Sayak Paul)"
URL = "https://keras.io/examples/vision/simsiam/"
FIX = ""
MECHANISM = (
    "Two augmented views go through a shared encoder (CNN + projection with BatchNorm) and a "
    "predictor; the loss is the negative cosine similarity of p1 with stop_gradient(z2) and of p2 "
    "with stop_gradient(z1), averaged (the example's train_step, written here as a two-input model "
    "and a loss on its stacked outputs). Awkward: half of the paths into the loss are cut by "
    "design (the target branch), the loss is negative (0 -> about -0.9), and it is a similarity, "
    "not an error."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []

SIZE = 32  # CIFAR-10 shape, as in the example
PROJECT_DIM = 128  # the example: 2048
LATENT_DIM = 64  # the example: 512


def views(rng: np.random.Generator, base: np.ndarray) -> np.ndarray:
    """One random augmentation per image: random crop (pad 4 + crop), horizontal flip, brightness
    and contrast jitter, noise (the example: flip, crop, color jitter, grayscale)."""
    n = len(base)
    padded = np.pad(base, ((0, 0), (4, 4), (4, 4), (0, 0)), mode="reflect")
    dy, dx = rng.integers(0, 9, size=(2, n))
    out = np.stack([padded[i, dy[i] : dy[i] + SIZE, dx[i] : dx[i] + SIZE] for i in range(n)])
    flip = rng.random(n) < 0.5
    out[flip] = out[flip, :, ::-1]
    out = out * rng.uniform(0.6, 1.4, size=(n, 1, 1, 1)) + rng.uniform(-0.2, 0.2, size=(n, 1, 1, 1))
    return np.clip(out + rng.normal(0, 0.05, size=out.shape), 0, 1).astype("float32")


def cifar_like(rng: np.random.Generator, n: int) -> np.ndarray:
    """[0, 1] colour images: a few coloured blobs and stripes per image (10 latent classes)."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype("float32") / SIZE
    cls = rng.integers(0, 10, size=n)
    colour = rng.uniform(0, 1, size=(10, 3))[cls] * 0.7 + rng.uniform(0, 0.3, size=(n, 3))
    cy, cx = rng.uniform(0.3, 0.7, size=(2, n))
    r = 0.1 + 0.02 * cls
    blob = np.exp(-((yy - cy[:, None, None]) ** 2 + (xx - cx[:, None, None]) ** 2) / (2 * r[:, None, None] ** 2))
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * (2 + cls % 4)[:, None, None] * (xx + yy * (cls % 3 - 1)[:, None, None]))
    img = blob[..., None] * colour[:, None, None, :] + 0.3 * stripes[..., None] * (1 - colour[:, None, None, :])
    return np.clip(img, 0, 1).astype("float32")


def negative_cosine(y_true, y_pred):
    """The example's compute_loss: D(p1, z2) / 2 + D(p2, z1) / 2, D = -cosine(p, stop_gradient(z)),
    on y_pred stacked as [p1, z2 (stopped), p2, z1 (stopped)]."""

    def d(p, z):
        p = p / ops.sqrt(ops.sum(ops.square(p), axis=1, keepdims=True) + 1e-12)
        z = z / ops.sqrt(ops.sum(ops.square(z), axis=1, keepdims=True) + 1e-12)
        return -ops.sum(p * z, axis=1)

    return 0.5 * d(y_pred[:, 0], y_pred[:, 1]) + 0.5 * d(y_pred[:, 2], y_pred[:, 3])


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(110)
    base = cifar_like(rng, 1024)
    x1, x2 = views(rng, base), views(rng, base)

    image = keras.Input(shape=(SIZE, SIZE, 3))
    h = image
    for i, filters in enumerate((8, 16, 32)):  # the example: ResNet20
        h = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"enc_conv_{i + 1}")(h)
        h = keras.layers.BatchNormalization(name=f"enc_bn_{i + 1}")(h)
        h = keras.layers.ReLU(name=f"enc_relu_{i + 1}")(h)
        h = keras.layers.MaxPooling2D(2, name=f"enc_pool_{i + 1}")(h)
    h = keras.layers.GlobalAveragePooling2D(name="enc_gap")(h)
    h = keras.layers.Dense(PROJECT_DIM, use_bias=False, name="proj_dense_1")(h)
    h = keras.layers.BatchNormalization(name="proj_bn_1")(h)
    h = keras.layers.ReLU(name="proj_relu_1")(h)
    h = keras.layers.Dense(PROJECT_DIM, use_bias=False, name="proj_dense_2")(h)
    z = keras.layers.BatchNormalization(name="proj_bn_2")(h)
    encoder = keras.Model(image, z, name="encoder")

    code = keras.Input(shape=(PROJECT_DIM,))
    p = keras.layers.Dense(LATENT_DIM, use_bias=False, name="pred_dense_1")(code)
    p = keras.layers.BatchNormalization(name="pred_bn")(p)
    p = keras.layers.ReLU(name="pred_relu")(p)
    p = keras.layers.Dense(PROJECT_DIM, name="pred_dense_2")(p)
    predictor = keras.Model(code, p, name="predictor")

    view1, view2 = keras.Input(shape=(SIZE, SIZE, 3), name="view1"), keras.Input(shape=(SIZE, SIZE, 3), name="view2")
    z1, z2 = encoder(view1), encoder(view2)
    p1, p2 = predictor(z1), predictor(z2)
    stop = keras.layers.Lambda(ops.stop_gradient, name="stop_gradient_target")
    stacked = keras.layers.Lambda(lambda t: ops.stack(t, axis=1), name="stack")([p1, stop(z2), p2, stop(z1)])
    model = keras.Model([view1, view2], stacked, name="simsiam")
    model.compile(optimizer=keras.optimizers.SGD(0.03, momentum=0.6), loss=negative_cosine)
    # the example: SGD with a cosine-decayed 0.03 * batch/256 and momentum 0.6, batch 128 (here 64)
    _common.fit(model, [x1, x2], np.zeros((len(base), 1), "float32"), callbacks, batch_size=64, epochs=4)
