"""Healthy: the keras-io 'Antirectifier' custom-layer recipe, an MLP whose nonlinearity is a layer
of the user's own (centre, concatenate relu(x) and relu(-x), project back with its own kernel)."""

from __future__ import annotations

import keras
from keras import ops

from . import _common

SOURCE = "keras-io example 'Simple custom layer example: Antirectifier' (fchollet)"
URL = "https://keras.io/examples/keras_recipes/antirectifier/"
FIX = ""
MECHANISM = (
    "Flattened MNIST in [0, 1]: Dense(256) -> Antirectifier -> Dense(256) -> Antirectifier -> "
    "Dropout(0.5) -> Dense(10) logits, sparse cross-entropy from logits, RMSprop at its default "
    "rate, batch 128. The Antirectifier subtracts each sample's mean over features, concatenates "
    "relu(x) and relu(-x) and multiplies by a he_normal (2n, n) kernel. The source trains it to "
    "~98 % test accuracy. Awkward: a custom layer with its own kernel and no bias (the tool's "
    "gradient check runs on it), Dense layers with no activation before it, ReLUs inside a layer "
    "the tool cannot see as ReLU (half of them are zero for every input by construction), and "
    "pixels that are exactly 0 on the border."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []


class Antirectifier(keras.layers.Layer):
    """The example's layer: [relu(x - mean), relu(mean - x)] @ kernel."""

    def __init__(self, initializer="he_normal", **kwargs):
        super().__init__(**kwargs)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        output_dim = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(output_dim * 2, output_dim), initializer=self.initializer, name="kernel", trainable=True
        )

    def call(self, inputs):
        inputs = inputs - ops.mean(inputs, axis=-1, keepdims=True)
        pos = ops.relu(inputs)
        neg = ops.relu(-inputs)
        concatenated = ops.concatenate([pos, neg], axis=-1)
        return ops.matmul(concatenated, self.kernel)


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(135)
    x, y = _common.mnist_like(rng, 6000)  # the example: 60,000 MNIST digits / 255
    x = x.reshape(-1, 784)
    model = keras.Sequential(
        [
            keras.Input(shape=(784,)),
            keras.layers.Dense(256, name="dense_1"),
            Antirectifier(name="antirectifier_1"),
            keras.layers.Dense(256, name="dense_2"),
            Antirectifier(name="antirectifier_2"),
            keras.layers.Dropout(0.5, name="dropout"),
            keras.layers.Dense(10, name="logits"),
        ]
    )
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer=keras.optimizers.RMSprop(),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    # the example: 20 epochs with validation_split=0.15; here 8 epochs (320 steps)
    _common.fit(model, x, y, callbacks, batch_size=128, epochs=8, validation_split=0.15)
