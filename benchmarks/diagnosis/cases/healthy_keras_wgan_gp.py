"""Healthy: the keras-io WGAN-GP recipe: a critic trained 3 times per generator step on the
Wasserstein loss plus a gradient penalty (a gradient of the critic inside the loss), in the model's
own `train_step`."""

from __future__ import annotations

import keras
import tensorflow as tf

from . import _common

SOURCE = "keras-io example 'WGAN-GP overriding Model.train_step' (A_K_Nain)"
URL = "https://keras.io/examples/generative/wgan_gp/"
FIX = ""
MECHANISM = (
    "Fashion-MNIST scaled to [-1, 1]; the critic zero-pads to 32x32, four 5x5 stride-2 convs with "
    "LeakyReLU(0.2) (dropout 0.3 after the 2nd and 3rd), dropout 0.2 and Dense(1) with no "
    "activation; the generator is Dense(4x4x256, no bias) -> BN -> LeakyReLU, then three "
    "UpSampling2D + 3x3 conv (no bias) + BN blocks, LeakyReLU twice and tanh last, cropped to "
    "28x28. Per batch the critic takes 3 Adam(2e-4, beta_1=0.5, beta_2=0.9) steps on "
    "mean(fake) - mean(real) + 10 x mean((||d critic / d interpolated image|| - 1)^2), then the "
    "generator one step on -mean(critic(fake)). The source shows the generated images improving "
    "over 20 epochs. Awkward: losses that are negative and move in either direction (no 'loss' "
    "key: d_loss, g_loss), a second-order gradient in the critic's loss, an unbounded critic "
    "output, two optimizers, three critic updates per training step."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []

NOISE_DIM = 128  # as in the example
WIDTH = 4  # the example's filter counts divided by this: critic 64-512 -> 16-128, generator 256-64 -> 64-16


class WGAN(keras.Model):
    """The example's model: critic steps with the gradient penalty, then a generator step."""

    def __init__(self, discriminator, generator, latent_dim, discriminator_extra_steps=3, gp_weight=10.0):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.d_steps = discriminator_extra_steps
        self.gp_weight = gp_weight

    def compile(self, d_optimizer, g_optimizer, d_loss_fn, g_loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.d_loss_fn = d_loss_fn
        self.g_loss_fn = g_loss_fn

    def gradient_penalty(self, batch_size, real_images, fake_images):
        alpha = tf.random.normal([batch_size, 1, 1, 1], 0.0, 1.0)  # sic: normal, as in the example
        interpolated = real_images + alpha * (fake_images - real_images)
        with tf.GradientTape() as gp_tape:
            gp_tape.watch(interpolated)
            pred = self.discriminator(interpolated, training=True)
        grads = gp_tape.gradient(pred, [interpolated])[0]
        norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]))
        return tf.reduce_mean((norm - 1.0) ** 2)

    def train_step(self, real_images):
        if isinstance(real_images, tuple):
            real_images = real_images[0]
        batch_size = tf.shape(real_images)[0]
        for _ in range(self.d_steps):
            random_latent_vectors = tf.random.normal(shape=(batch_size, self.latent_dim))
            with tf.GradientTape() as tape:
                fake_images = self.generator(random_latent_vectors, training=True)
                fake_logits = self.discriminator(fake_images, training=True)
                real_logits = self.discriminator(real_images, training=True)
                d_cost = self.d_loss_fn(real_img=real_logits, fake_img=fake_logits)
                gp = self.gradient_penalty(batch_size, real_images, fake_images)
                d_loss = d_cost + gp * self.gp_weight
            d_gradient = tape.gradient(d_loss, self.discriminator.trainable_variables)
            self.d_optimizer.apply_gradients(zip(d_gradient, self.discriminator.trainable_variables))

        random_latent_vectors = tf.random.normal(shape=(batch_size, self.latent_dim))
        with tf.GradientTape() as tape:
            generated_images = self.generator(random_latent_vectors, training=True)
            gen_img_logits = self.discriminator(generated_images, training=True)
            g_loss = self.g_loss_fn(gen_img_logits)
        gen_gradient = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(zip(gen_gradient, self.generator.trainable_variables))
        return {"d_loss": d_loss, "g_loss": g_loss}


def discriminator_loss(real_img, fake_img):
    return tf.reduce_mean(fake_img) - tf.reduce_mean(real_img)


def generator_loss(fake_img):
    return -tf.reduce_mean(fake_img)


def critic() -> keras.Model:
    image = keras.Input(shape=(28, 28, 1))
    x = keras.layers.ZeroPadding2D((2, 2), name="d_pad")(image)
    for i, (filters, dropout) in enumerate(zip((64, 128, 256, 512), (False, True, True, False)), start=1):
        x = keras.layers.Conv2D(filters // WIDTH, (5, 5), strides=(2, 2), padding="same", name=f"d_conv_{i}")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"d_lrelu_{i}")(x)
        if dropout:
            x = keras.layers.Dropout(0.3, name=f"d_dropout_{i}")(x)
    x = keras.layers.Flatten(name="d_flatten")(x)
    x = keras.layers.Dropout(0.2, name="d_dropout")(x)
    x = keras.layers.Dense(1, name="d_out")(x)
    return keras.Model(image, x, name="discriminator")


def generator() -> keras.Model:
    noise = keras.Input(shape=(NOISE_DIM,))
    x = keras.layers.Dense(4 * 4 * 256 // WIDTH, use_bias=False, name="g_dense")(noise)
    x = keras.layers.BatchNormalization(name="g_bn_0")(x)
    x = keras.layers.LeakyReLU(0.2, name="g_lrelu_0")(x)
    x = keras.layers.Reshape((4, 4, 256 // WIDTH), name="g_reshape")(x)
    for i, filters in enumerate((128 // WIDTH, 64 // WIDTH, 1), start=1):
        x = keras.layers.UpSampling2D((2, 2), name=f"g_up_{i}")(x)
        x = keras.layers.Conv2D(filters, (3, 3), padding="same", use_bias=False, name=f"g_conv_{i}")(x)
        x = keras.layers.BatchNormalization(name=f"g_bn_{i}")(x)
        if filters == 1:
            x = keras.layers.Activation("tanh", name="g_tanh")(x)
        else:
            x = keras.layers.LeakyReLU(0.2, name=f"g_lrelu_{i}")(x)
    x = keras.layers.Cropping2D((2, 2), name="g_crop")(x)
    return keras.Model(noise, x, name="generator")


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(137)
    x, _ = _common.mnist_like(rng, 1024)  # the example: 60,000 Fashion-MNIST images
    images = (x * 255.0 - 127.5) / 127.5  # as the example: [-1, 1], background exactly -1

    wgan = WGAN(discriminator=critic(), generator=generator(), latent_dim=NOISE_DIM, discriminator_extra_steps=3)
    wgan.compile(
        d_optimizer=keras.optimizers.Adam(learning_rate=0.0002, beta_1=0.5, beta_2=0.9),
        g_optimizer=keras.optimizers.Adam(learning_rate=0.0002, beta_1=0.5, beta_2=0.9),
        g_loss_fn=generator_loss,
        d_loss_fn=discriminator_loss,
    )
    # the example: batch 512, 20 epochs of 60,000 images; here batch 64, 4 epochs of 1,024 (64 steps)
    wgan.fit(images, batch_size=64, epochs=4, verbose=0, callbacks=list(callbacks))
