"""Variational autoencoder on StandardScaler-ed MNIST pixels: rare pixels become huge inputs -> NaN cost."""

import keras
import numpy as np
from keras import ops

from . import _common

SOURCE = "defect4ML bug 006 (GitHub tensorflow/models, commit 55a34ae, autoencoder/VariationalAutoencoderRunner.py)"
URL = "https://github.com/tensorflow/models/commit/55a34ae"
FIX = (
    "scale the pixels with MinMaxScaler(feature_range=(0, 1)) instead of StandardScaler "
    "(the same commit also sizes the noise sample by the batch instead of a fixed 128)"
)
MECHANISM = (
    "StandardScaler divides each pixel by its standard deviation; pixels that are almost always 0 "
    "get a tiny deviation, so the few non-zero values become tens to hundreds. Through the linear "
    "z_log_sigma_sq layer they make exp(z_log_sigma_sq) overflow, and the cost turns NaN."
)
HEALTHY = False
EXPECTED = [{"kind": "input_scale", "layer": "input"}]
ACCEPTABLE = ["nan_inf", "exploding_gradient"]

SEED = 6
N_INPUT, N_HIDDEN = 784, 200


def standard_scale(x: np.ndarray) -> np.ndarray:
    """sklearn.preprocessing.StandardScaler().fit_transform(x) (a constant column keeps scale 1)."""
    std = x.std(axis=0)
    std[std == 0] = 1.0
    return ((x - x.mean(axis=0)) / std).astype("float32")


class Sampling(keras.layers.Layer):
    """z = z_mean + sqrt(exp(z_log_sigma_sq)) * eps, and the latent (KL) cost of the original."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(SEED)

    def call(self, inputs):
        z_mean, z_log_sigma_sq = inputs
        eps = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        latent = -0.5 * ops.sum(1 + z_log_sigma_sq - ops.square(z_mean) - ops.exp(z_log_sigma_sq), axis=1)
        self.add_loss(ops.mean(latent))
        return z_mean + ops.sqrt(ops.exp(z_log_sigma_sq)) * eps


def reconstruction_cost(y_true, y_pred):
    # 0.5 * tf.reduce_sum(tf.pow(reconstruction - x, 2)): summed over the whole batch
    return 0.5 * ops.sum(ops.square(y_pred - y_true)) * ops.ones_like(y_pred[:, 0])


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(SEED)
    pixels, _ = _common.mnist_like(rng, 16384)
    x = standard_scale(pixels.reshape(len(pixels), N_INPUT))
    inputs = keras.Input(shape=(N_INPUT,), name="x")
    z_mean = keras.layers.Dense(N_HIDDEN, kernel_initializer="glorot_uniform", name="z_mean")(inputs)
    z_log_sigma_sq = keras.layers.Dense(N_HIDDEN, kernel_initializer="glorot_uniform", name="z_log_sigma_sq")(inputs)
    z = Sampling(name="sampling")([z_mean, z_log_sigma_sq])
    reconstruction = keras.layers.Dense(N_INPUT, kernel_initializer="zeros", name="reconstruction")(z)
    model = keras.Model(inputs, reconstruction, name="variational_autoencoder")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001), loss=reconstruction_cost)
    _common.fit(model, x, x, callbacks, epochs=5, batch_size=128, shuffle=True)
