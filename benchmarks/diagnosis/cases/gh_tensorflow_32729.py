"""DQN head with a hand-written NoisyDense layer that builds its noisy kernel in build(): mu/sigma get no gradient."""

import keras
import numpy as np
from keras import ops

from . import _common

SOURCE = "GitHub tensorflow/tensorflow issue 32729 (NoisyDense: 'Variable noisy_dense/bias has None for gradient')"
URL = "https://github.com/tensorflow/tensorflow/issues/32729"
FIX = (
    "compute kernel = weight_mu + weight_sigma * weight_eps and bias = bias_mu + bias_sigma * bias_eps "
    "inside call() instead of build() (the reporter: moving the two lines into call makes the error go away)"
)
MECHANISM = (
    "build() runs once, eagerly: the noisy kernel and bias it computes are constant tensors, and "
    "call() multiplies by those constants. The trainable mu and sigma variables are not on the path "
    "from the loss, so their gradient is None at every step and the output layer never learns."
)
HEALTHY = False
EXPECTED = [{"kind": "disconnected_gradient", "layer": "noisy_dense"}]
ACCEPTABLE: list = []

SEED = 32729


class NoisyDense(keras.layers.Layer):
    """Factorised-noise dense layer as written in the issue (noise sampled once, in build)."""

    def __init__(self, units, std_init=0.5, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.std_init = std_init
        self.rng = np.random.default_rng(SEED)

    def reset_noise(self, in_features):
        scale = lambda v: np.sign(v) * np.sqrt(np.abs(v))  # noqa: E731
        eps_in = scale(self.rng.normal(size=in_features))
        eps_out = scale(self.rng.normal(size=self.units))
        self.weights_eps = np.outer(eps_in, eps_out).astype("float32")
        self.bias_eps = eps_out.astype("float32")

    def build(self, input_shape):
        n_in = input_shape[-1]
        self.reset_noise(n_in)
        mu_range = 1 / np.sqrt(n_in)
        mu_init = keras.initializers.RandomUniform(-mu_range, mu_range, seed=SEED)
        sigma_init = keras.initializers.Constant(self.std_init / np.sqrt(self.units))
        self.weight_mu = self.add_weight(shape=(n_in, self.units), initializer=mu_init, name="weight_mu")
        self.weight_sigma = self.add_weight(shape=(n_in, self.units), initializer=sigma_init, name="weight_sigma")
        self.bias_mu = self.add_weight(shape=(self.units,), initializer=mu_init, name="bias_mu")
        self.bias_sigma = self.add_weight(shape=(self.units,), initializer=sigma_init, name="bias_sigma")
        # the bug: the noisy weights are computed here, once, instead of in call()
        self.kernel = self.weight_mu + self.weight_sigma * self.weights_eps
        self.bias = self.bias_mu + self.bias_sigma * self.bias_eps

    def call(self, inputs):
        return ops.matmul(inputs, self.kernel) + self.bias


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(SEED)
    n, n_state, n_actions = 4096, 8, 3
    states = rng.normal(size=(n, n_state)).astype("float32")
    # n-step TD targets of a fixed reward model: what the Q-network should regress to
    w = rng.normal(size=(n_state, n_actions))
    q_targets = (np.tanh(states @ w) * 5 + 0.1 * rng.normal(size=(n, n_actions))).astype("float32")
    model = keras.Sequential(
        [
            keras.Input(shape=(n_state,), name="state"),
            keras.layers.Dense(64, activation="relu", name="hidden_1"),
            keras.layers.Dense(64, activation="relu", name="hidden_2"),
            NoisyDense(n_actions, name="noisy_dense"),
        ],
        name="noisy_q_network",
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="mse")
    _common.fit(model, states, q_targets, callbacks, epochs=5, batch_size=64, shuffle=True)
