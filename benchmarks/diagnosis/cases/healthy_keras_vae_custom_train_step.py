"""Healthy: the keras-io VAE recipe, whose own `train_step` computes the reconstruction and KL loss by
hand (no compiled loss, no `compute_loss`) and applies it with `self.optimizer`."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from . import _common

SOURCE = "keras-io example 'Variational AutoEncoder' (fchollet)"
URL = "https://keras.io/examples/generative/vae/"
FIX = ""
MECHANISM = (
    "A convolutional encoder gives z_mean and z_log_var, a sampling layer draws z with the "
    "reparameterization trick, a transposed-convolution decoder reconstructs the image; the loss is "
    "the summed binary cross-entropy plus the KL term, computed inside the model's own train_step. "
    "Awkward: the loss is in the hundreds and falls fast at first, the sampling layer is a custom "
    "layer with randomness, and the model is compiled without a loss."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []

LATENT_DIM = 2  # as in the example


class Sampling(keras.layers.Layer):
    """z = z_mean + exp(z_log_var / 2) * epsilon, as in the example."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        epsilon = keras.random.normal(shape=ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


class VAE(keras.Model):
    def __init__(self, encoder: keras.Model, decoder: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker]

    def train_step(self, data):
        with tf.GradientTape() as tape:
            z_mean, z_log_var, z = self.encoder(data)
            reconstruction = self.decoder(z)
            reconstruction_loss = ops.mean(ops.sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2)))
            kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
            total_loss = reconstruction_loss + ops.mean(ops.sum(kl_loss, axis=1))
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(total_loss)
        return {"loss": self.total_loss_tracker.result()}


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(120)
    x, _ = _common.mnist_like(rng, 2048)  # the example: MNIST train + test, scaled to [0, 1]

    image = keras.Input(shape=(28, 28, 1))
    h = keras.layers.Conv2D(16, 3, activation="relu", strides=2, padding="same", name="enc_conv_1")(image)
    h = keras.layers.Conv2D(32, 3, activation="relu", strides=2, padding="same", name="enc_conv_2")(h)
    h = keras.layers.Flatten(name="enc_flatten")(h)
    h = keras.layers.Dense(16, activation="relu", name="enc_dense")(h)
    z_mean = keras.layers.Dense(LATENT_DIM, name="z_mean")(h)
    z_log_var = keras.layers.Dense(LATENT_DIM, name="z_log_var")(h)
    z = Sampling(name="sampling")([z_mean, z_log_var])
    encoder = keras.Model(image, [z_mean, z_log_var, z], name="encoder")  # the example: 32/64 filters

    code = keras.Input(shape=(LATENT_DIM,))
    h = keras.layers.Dense(7 * 7 * 32, activation="relu", name="dec_dense")(code)
    h = keras.layers.Reshape((7, 7, 32), name="dec_reshape")(h)
    h = keras.layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same", name="dec_deconv_1")(h)
    h = keras.layers.Conv2DTranspose(16, 3, activation="relu", strides=2, padding="same", name="dec_deconv_2")(h)
    out = keras.layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same", name="dec_out")(h)
    decoder = keras.Model(code, out, name="decoder")

    vae = VAE(encoder, decoder, name="vae")
    vae.compile(optimizer=keras.optimizers.Adam())
    vae.fit(x, epochs=4, batch_size=64, verbose=0, callbacks=list(callbacks))  # the example: 30 epochs, 128
