"""Healthy: the keras-io Real NVP normalizing flow, six affine coupling blocks of ReLU MLPs trained
on the negative log-likelihood in the model's own `train_step`."""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from . import _common

SOURCE = "keras-io example 'Density estimation using Real NVP' (Mandolini, Sanna, Zannini Quirini)"
URL = "https://keras.io/examples/generative/real_nvp/"
FIX = ""
MECHANISM = (
    "The two-moons data (3,000 points, noise 0.05) standardized per feature; six coupling blocks, "
    "each an s network (4 x Dense(256, relu) -- 64 here --, Dense(2, tanh)) and a t network (the same, "
    "Dense(2, linear) last), all kernels declared with an L2(0.01) regularizer; alternating masks; the loss "
    "is -mean(log N(z; 0, I) + log-det) in the model's own train_step (which never adds the "
    "regularizers' penalties: they have no effect), Adam(1e-4), batch 256, "
    "validation_split 0.2. The source shows the loss falling and the moons mapped to a Gaussian. "
    "Awkward: 60 Dense layers of which 48 are ReLU over 2 input features (some units dead), exp() of "
    "the tanh scales in the forward pass, a loss that is a log-density (no labels, could go "
    "negative), and half of every block's input masked to exactly 0."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []

OUTPUT_DIM, REG = 64, 0.01  # the example: 256 units, L2 0.01


def moons(rng: np.random.Generator, n: int, noise: float) -> np.ndarray:
    """sklearn's make_moons (two interleaved half circles, Gaussian noise), shuffled."""
    n_out = n // 2
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n - n_out)
    outer = np.column_stack([np.cos(t_out), np.sin(t_out)])
    inner = np.column_stack([1 - np.cos(t_in), 1 - np.sin(t_in) - 0.5])
    x = np.vstack([outer, inner]) + rng.normal(0, noise, (n, 2))
    return x[rng.permutation(n)].astype("float32")


def coupling(index: int) -> keras.Model:
    inputs = keras.Input(shape=(2,))
    t = s = inputs
    for j in range(1, 5):
        t = keras.layers.Dense(
            OUTPUT_DIM, activation="relu", kernel_regularizer=keras.regularizers.l2(REG), name=f"c{index}_t{j}"
        )(t)
        s = keras.layers.Dense(
            OUTPUT_DIM, activation="relu", kernel_regularizer=keras.regularizers.l2(REG), name=f"c{index}_s{j}"
        )(s)
    t = keras.layers.Dense(2, activation="linear", kernel_regularizer=keras.regularizers.l2(REG), name=f"c{index}_t5")(
        t
    )
    s = keras.layers.Dense(2, activation="tanh", kernel_regularizer=keras.regularizers.l2(REG), name=f"c{index}_s5")(s)
    return keras.Model(inputs=inputs, outputs=[s, t], name=f"coupling_{index}")


class RealNVP(keras.Model):
    """The example's model; log N(z; 0, I) written out (the example uses tensorflow_probability)."""

    def __init__(self, num_coupling_layers: int):
        super().__init__()
        self.num_coupling_layers = num_coupling_layers
        self.masks = np.array([[0, 1], [1, 0]] * (num_coupling_layers // 2), dtype="float32")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.layers_list = [coupling(i) for i in range(num_coupling_layers)]

    @property
    def metrics(self):
        return [self.loss_tracker]

    def call(self, x, training=True):
        log_det_inv = 0
        direction = -1 if training else 1
        for i in range(self.num_coupling_layers)[::direction]:
            x_masked = x * self.masks[i]
            reversed_mask = 1 - self.masks[i]
            s, t = self.layers_list[i](x_masked)
            s *= reversed_mask
            t *= reversed_mask
            gate = (direction - 1) / 2
            x = reversed_mask * (x * tf.exp(direction * s) + direction * t * tf.exp(gate * s)) + x_masked
            log_det_inv += gate * tf.reduce_sum(s, [1])
        return x, log_det_inv

    def log_loss(self, x):
        y, logdet = self(x)
        log_prob = -0.5 * tf.reduce_sum(tf.square(y), axis=1) - math.log(2 * math.pi)  # MultivariateNormalDiag
        return -tf.reduce_mean(log_prob + logdet)

    def train_step(self, data):
        with tf.GradientTape() as tape:
            loss = self.log_loss(data)  # sic: the L2 penalties (self.losses) are not added, as in the example
        g = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(g, self.trainable_variables))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        self.loss_tracker.update_state(self.log_loss(data))
        return {"loss": self.loss_tracker.result()}


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(140)
    data = moons(rng, 3000, noise=0.05)
    data = (data - data.mean(axis=0)) / data.std(axis=0)  # keras.layers.Normalization().adapt(data)
    model = RealNVP(num_coupling_layers=6)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.0001))
    # the example: 300 epochs (2,820 steps); here 40 (400 steps)
    model.fit(data, batch_size=256, epochs=40, verbose=0, validation_split=0.2, callbacks=list(callbacks))
