"""Healthy: the keras-io DCGAN recipe, whose own `train_step` updates the discriminator with
`d_optimizer` and then the generator with `g_optimizer`; `model.optimizer` is never used."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from . import _common

SOURCE = "keras-io example 'DCGAN to generate face images' (fchollet)"
URL = "https://keras.io/examples/generative/dcgan_overriding_train_step/"
FIX = ""
MECHANISM = (
    "A convolutional discriminator learns real from generated images (labels with a little noise), "
    "then a transposed-convolution generator learns to fool it, each with its own Adam(1e-4), in "
    "the model's own train_step. Awkward: two losses that pull against each other (the "
    "discriminator's falls while the generator's rises), two optimizers, LeakyReLU everywhere and "
    "a sigmoid output; `compile` gets no optimizer and no loss of Keras' own."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []

LATENT_DIM = 32  # the example: 128
SIZE = 28  # the example: 64x64 CelebA faces


class GAN(keras.Model):
    def __init__(self, discriminator: keras.Model, generator: keras.Model, latent_dim: int):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.seed_generator = keras.random.SeedGenerator(1337)

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn
        self.d_loss_metric = keras.metrics.Mean(name="d_loss")
        self.g_loss_metric = keras.metrics.Mean(name="g_loss")

    @property
    def metrics(self):
        return [self.d_loss_metric, self.g_loss_metric]

    def train_step(self, real_images):
        batch_size = ops.shape(real_images)[0]
        z = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        generated = self.generator(z)
        combined = ops.concatenate([generated, real_images], axis=0)
        labels = ops.concatenate([ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0)
        labels += 0.05 * tf.random.uniform(tf.shape(labels))  # label noise, as in the example
        with tf.GradientTape() as tape:
            d_loss = self.loss_fn(labels, self.discriminator(combined))
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))

        z = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        misleading_labels = ops.zeros((batch_size, 1))
        with tf.GradientTape() as tape:
            g_loss = self.loss_fn(misleading_labels, self.discriminator(self.generator(z)))
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        self.d_loss_metric.update_state(d_loss)
        self.g_loss_metric.update_state(g_loss)
        return {"d_loss": self.d_loss_metric.result(), "g_loss": self.g_loss_metric.result()}


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(121)
    x, _ = _common.mnist_like(rng, 2048)  # the example: CelebA faces in [0, 1]
    images = x.astype(np.float32)

    discriminator = keras.Sequential(
        [
            keras.Input(shape=(SIZE, SIZE, 1)),
            keras.layers.Conv2D(16, 4, strides=2, padding="same", name="d_conv_1"),
            keras.layers.LeakyReLU(0.2, name="d_lrelu_1"),
            keras.layers.Conv2D(32, 4, strides=2, padding="same", name="d_conv_2"),
            keras.layers.LeakyReLU(0.2, name="d_lrelu_2"),
            keras.layers.Flatten(name="d_flatten"),
            keras.layers.Dropout(0.2, name="d_dropout"),
            keras.layers.Dense(1, activation="sigmoid", name="d_out"),
        ],
        name="discriminator",
    )
    generator = keras.Sequential(
        [
            keras.Input(shape=(LATENT_DIM,)),
            keras.layers.Dense(7 * 7 * 32, name="g_dense"),
            keras.layers.Reshape((7, 7, 32), name="g_reshape"),
            keras.layers.Conv2DTranspose(32, 4, strides=2, padding="same", name="g_deconv_1"),
            keras.layers.LeakyReLU(0.2, name="g_lrelu_1"),
            keras.layers.Conv2DTranspose(16, 4, strides=2, padding="same", name="g_deconv_2"),
            keras.layers.LeakyReLU(0.2, name="g_lrelu_2"),
            keras.layers.Conv2D(1, 5, padding="same", activation="sigmoid", name="g_out"),
        ],
        name="generator",
    )
    gan = GAN(discriminator, generator, LATENT_DIM)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(1e-4),
        g_optimizer=keras.optimizers.Adam(1e-4),
        loss_fn=keras.losses.BinaryCrossentropy(),
    )
    dataset = tf.data.Dataset.from_tensor_slices(images).shuffle(2048, seed=121).batch(64)
    gan.fit(dataset, epochs=4, verbose=0, callbacks=list(callbacks))  # the example: 1 epoch of 200k faces
