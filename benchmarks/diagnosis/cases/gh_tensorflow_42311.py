"""GAN-style generator behind a non-differentiable 'paste a square' Lambda with a tf.custom_gradient returning 0: nothing learns."""

import keras
import numpy as np
import tensorflow as tf

from . import _common

SOURCE = (
    "GitHub tensorflow/tensorflow issue 42311 ('Lambda layer with custom function gives gradient error'; "
    "the reporter's follow-up to issue 42244 about the ImagePaste layer of a GAN)"
)
URL = "https://github.com/tensorflow/tensorflow/issues/42311"
FIX = (
    "none was accepted in the thread (closed as stalled). The reporter's @tf.custom_gradient returned 0.0, "
    "which blocks every gradient; the paste op needs a non-zero surrogate gradient (e.g. straight-through) "
    "or a differentiable soft rasterisation for the generator to learn"
)
MECHANISM = (
    "The Lambda turns the generator's box coordinates into a square on a canvas with comparisons, "
    "which have no gradient; the custom gradient written to get past 'No gradients provided' returns "
    "zeros, so every generator weight receives an exactly-zero gradient and the loss never changes."
)
HEALTHY = False
EXPECTED = [{"kind": "disconnected_gradient", "layer": "image_paste"}]
ACCEPTABLE = ["wrong_gradient", "vanishing_gradient"]

SEED = 42311
CANVAS = 24  # the canvas is 72 x 72


@tf.custom_gradient
def paste_square(positions):
    """positions (B, 4) = top-left and bottom-right corners in pixels -> (B, CANVAS, CANVAS, 1) canvas."""
    pos = tf.reshape(positions, [-1, 2, 2])
    idx = tf.range(CANVAS, dtype=positions.dtype)
    rows = tf.logical_and(idx[None, :] >= pos[:, 0, 0:1], idx[None, :] <= pos[:, 1, 0:1])
    cols = tf.logical_and(idx[None, :] >= pos[:, 0, 1:2], idx[None, :] <= pos[:, 1, 1:2])
    canvas = tf.cast(tf.logical_and(rows[:, :, None], cols[:, None, :]), positions.dtype)

    def grad(upstream):
        return tf.zeros_like(positions)  # "setting the gradient to be ... 0.0"

    return canvas[..., None], grad


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(SEED)
    n, z_dim = 2048, 16
    z = rng.normal(size=(n, z_dim)).astype("float32")
    # the discriminator of the GAN step, frozen while the generator trains: it scores squares near the centre
    disc = keras.Sequential(
        [
            keras.Input(shape=(CANVAS, CANVAS, 1), name="canvas"),
            keras.layers.Conv2D(8, 5, strides=2, activation="relu", name="d_conv"),
            keras.layers.Flatten(name="d_flatten"),
            keras.layers.Dense(1, activation="sigmoid", name="d_out"),
        ],
        name="discriminator",
    )
    disc.trainable = False
    noise = keras.Input(shape=(z_dim,), name="noise")
    h = keras.layers.Dense(64, activation="relu", name="g_dense_1")(noise)
    h = keras.layers.Dense(4, activation="sigmoid", name="g_corners")(h)
    corners = keras.layers.Rescaling(CANVAS - 1, name="g_pixels")(h)
    canvas = keras.layers.Lambda(paste_square, output_shape=(CANVAS, CANVAS, 1), name="image_paste")(corners)
    gan = keras.Model(noise, disc(canvas), name="gan")
    gan.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    _common.fit(gan, z, np.ones((n, 1), "float32"), callbacks, epochs=3, batch_size=64, shuffle=True)
