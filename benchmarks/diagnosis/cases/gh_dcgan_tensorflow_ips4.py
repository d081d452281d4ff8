"""Conditional DCGAN on MNIST whose generator feeds z, not h0, into g_h1_lin: g_h0_lin and g_bn0 never learn."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from . import _common

SOURCE = (
    "GitHub carpedm20/DCGAN-tensorflow, model.py generator with y_dim (MNIST); reproduced as Github/IPS-4 "
    "in Zhang et al., ISSTA 2018, TensorFlow-Program-Bugs (buggy/fix pair)"
)
URL = "https://github.com/ForeverZyh/TensorFlow-Program-Bugs/tree/master/Github/IPS-4"
FIX = (
    "h1 = relu(g_bn1(linear(h0, gf_dim*2*s4*s4, 'g_h1_lin'))) instead of linear(z, ...): the second "
    "generator layer reads the first one's output"
)
MECHANISM = (
    "The generator computes h0 = relu(g_bn0(g_h0_lin([z, y]))) and concatenates y to it, then builds "
    "h1 from [z, y] again, so h0 reaches neither the image nor the loss. The variables of g_h0_lin and "
    "g_bn0 get no gradient (None) at every step: the generator is one layer shallower than written "
    "and its first fully connected layer stays at its initialisation. Both versions of the program "
    "also pass the discriminator's sigmoid output as the `logits` of sigmoid_cross_entropy_with_logits "
    "(its return values are unpacked in swapped order); the port keeps that quirk."
)
HEALTHY = False
EXPECTED = [{"kind": "disconnected_gradient", "layer": "g_h0_lin"}]
ACCEPTABLE: list = []

SEED = 4
# the original: batch 64, z_dim 100, gf_dim 64, df_dim 64, gfc_dim 1024, dfc_dim 1024, 25 epochs of
# 70k MNIST digits; here 2048 digits, 3 epochs and narrower layers
BATCH, Z_DIM, Y_DIM, GF_DIM, DF_DIM, GFC_DIM, DFC_DIM = 64, 100, 10, 16, 16, 256, 256


def _linear(units, name):
    return keras.layers.Dense(
        units,
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.02),
        bias_initializer="zeros",
        name=name,
    )


def _conv(filters, name):
    return keras.layers.Conv2D(
        filters,
        5,
        strides=2,
        padding="same",
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        name=name,
    )


def _deconv(filters, name):
    return keras.layers.Conv2DTranspose(
        filters,
        5,
        strides=2,
        padding="same",
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.02),
        name=name,
    )


def _bn(name):
    return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=name)


def _cond_concat(x, y):
    """conv_cond_concat: the one-hot label as extra constant channels."""
    yb = ops.reshape(y, (-1, 1, 1, Y_DIM)) * ops.ones_like(x[..., :1])
    return ops.concatenate([x, yb], axis=-1)


class Generator(keras.Model):
    def __init__(self):
        super().__init__(name="generator")
        self.g_h0_lin = _linear(GFC_DIM, "g_h0_lin")
        self.g_bn0 = _bn("g_bn0")
        self.g_h1_lin = _linear(GF_DIM * 2 * 7 * 7, "g_h1_lin")
        self.g_bn1 = _bn("g_bn1")
        self.g_h2 = _deconv(GF_DIM * 2, "g_h2")
        self.g_bn2 = _bn("g_bn2")
        self.g_h3 = _deconv(1, "g_h3")

    def call(self, inputs, training=False):
        z, y = inputs
        z = ops.concatenate([z, y], axis=1)
        h0 = ops.relu(self.g_bn0(self.g_h0_lin(z), training=training))
        h0 = ops.concatenate([h0, y], axis=1)  # noqa: F841 -- computed and never used: the bug
        h1 = ops.relu(self.g_bn1(self.g_h1_lin(z), training=training))  # the bug: z instead of h0
        h1 = _cond_concat(ops.reshape(h1, (-1, 7, 7, GF_DIM * 2)), y)
        h2 = _cond_concat(ops.relu(self.g_bn2(self.g_h2(h1), training=training)), y)
        return ops.sigmoid(self.g_h3(h2))


class Discriminator(keras.Model):
    def __init__(self):
        super().__init__(name="discriminator")
        self.d_h0_conv = _conv(1 + Y_DIM, "d_h0_conv")
        self.d_h1_conv = _conv(DF_DIM + Y_DIM, "d_h1_conv")
        self.d_bn1 = _bn("d_bn1")
        self.d_h2_lin = _linear(DFC_DIM, "d_h2_lin")
        self.d_bn2 = _bn("d_bn2")
        self.d_h3_lin = _linear(1, "d_h3_lin")

    def call(self, inputs, training=False):
        image, y = inputs
        h0 = _cond_concat(ops.leaky_relu(self.d_h0_conv(_cond_concat(image, y)), 0.2), y)
        h1 = ops.leaky_relu(self.d_bn1(self.d_h1_conv(h0), training=training), 0.2)
        h1 = ops.concatenate([ops.reshape(h1, (-1, 7 * 7 * (DF_DIM + Y_DIM))), y], axis=1)
        h2 = ops.leaky_relu(self.d_bn2(self.d_h2_lin(h1), training=training), 0.2)
        h3 = self.d_h3_lin(ops.concatenate([h2, y], axis=1))
        return ops.sigmoid(h3), h3


def _sigmoid_xent(logits, labels):
    return ops.mean(ops.maximum(logits, 0) - logits * labels + ops.log1p(ops.exp(-ops.abs(logits))))


class DCGAN(keras.Model):
    def __init__(self):
        super().__init__(name="dcgan")
        self.generator = Generator()
        self.discriminator = Discriminator()
        self.seed_generator = keras.random.SeedGenerator(SEED)

    def compile(self):
        super().compile()
        self.d_optim = keras.optimizers.Adam(2e-4, beta_1=0.5)
        self.g_optim = keras.optimizers.Adam(2e-4, beta_1=0.5)
        self.d_loss_metric = keras.metrics.Mean(name="d_loss")
        self.g_loss_metric = keras.metrics.Mean(name="g_loss")

    @property
    def metrics(self):
        return [self.d_loss_metric, self.g_loss_metric]

    def _g_loss(self, z, y):
        d_logits_, _ = self.discriminator((self.generator((z, y), training=True), y), training=True)  # swapped
        return _sigmoid_xent(d_logits_, ops.ones_like(d_logits_))

    def _g_step(self, z, y):
        with tf.GradientTape() as tape:
            g_loss = self._g_loss(z, y)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optim.apply_gradients(zip(grads, self.generator.trainable_weights))
        return g_loss

    def train_step(self, data):
        images, y = data
        z = keras.random.uniform((ops.shape(images)[0], Z_DIM), -1.0, 1.0, seed=self.seed_generator)
        with tf.GradientTape() as tape:
            d_logits, _ = self.discriminator((images, y), training=True)  # the original's swapped unpacking
            d_logits_, _ = self.discriminator((self.generator((z, y), training=True), y), training=True)
            d_loss = _sigmoid_xent(d_logits, ops.ones_like(d_logits)) + _sigmoid_xent(
                d_logits_, ops.zeros_like(d_logits_)
            )
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optim.apply_gradients(zip(grads, self.discriminator.trainable_weights))
        self._g_step(z, y)
        g_loss = self._g_step(z, y)  # "run g_optim twice to make sure that d_loss does not go to zero"
        self.d_loss_metric.update_state(d_loss)
        self.g_loss_metric.update_state(g_loss)
        return {"d_loss": self.d_loss_metric.result(), "g_loss": self.g_loss_metric.result()}


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(SEED)
    x, labels = _common.mnist_like(rng, 2048)  # MNIST / 255
    y = _common.one_hot(labels, Y_DIM)
    gan = DCGAN()
    gan.compile()
    z, y0 = np.zeros((BATCH, Z_DIM), "float32"), y[:BATCH]
    gan.discriminator((gan.generator((z, y0)), y0))  # build both eagerly, as the TF1 graph did
    dataset = tf.data.Dataset.from_tensor_slices((x.astype(np.float32), y)).shuffle(2048, seed=SEED).batch(BATCH)
    gan.fit(dataset, epochs=3, verbose=0, callbacks=list(callbacks))
