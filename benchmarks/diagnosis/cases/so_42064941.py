"""float16 conv net trained with Adam's default epsilon 1e-8, which rounds to 0 in float16: 0/0 -> NaN weights."""

import keras
import numpy as np
from keras import ops

from . import _common

SOURCE = (
    "Stack Overflow 42064941 (reproduced as StackOverflow/IPS-10 in Zhang et al., ISSTA 2018, TensorFlow-Program-Bugs)"
)
URL = "https://stackoverflow.com/questions/42064941"
FIX = "AdamOptimizer(1e-3, epsilon=1e-4): an epsilon that float16 can represent"
MECHANISM = (
    "All variables and the optimizer slots are float16, where Adam's epsilon 1e-8 rounds to 0. "
    "Wherever a gradient is 0 (here every kernel entry: zero-initialised weights on a zero input "
    "behind a ReLU), the update m / (sqrt(v) + eps) is 0 / 0 = NaN: every weight is NaN after the "
    "first step. (The question saw a NaN loss; under fit's XLA compilation ReLU maps the NaN "
    "pre-activations to 0, so here the reported loss stays 0 while the weights are NaN.)"
)
HEALTHY = False
EXPECTED = [{"kind": "nan_inf", "layer": None}]
ACCEPTABLE = ["dead_relu", "disconnected_gradient"]

SEED = 42


def mean_output(y_true, y_pred):
    return ops.mean(y_pred, axis=(1, 2, 3))  # loss = tf.reduce_mean(net)


def run(run_dir: str, callbacks: list) -> None:
    _common.start(SEED)
    x = np.zeros((80, 16, 16, 3), "float16")  # val = np.zeros(shape), shape (4, 16, 16, 3)
    model = keras.Sequential(
        [
            keras.Input(shape=(16, 16, 3), dtype="float16", name="input"),
            # slim.conv2d: SAME padding, ReLU, zero weights as in the question
            keras.layers.Conv2D(
                16, 3, padding="same", activation="relu", kernel_initializer="zeros", dtype="float16", name="conv"
            ),
        ],
        name="float16_broken",
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3, epsilon=1e-8), loss=mean_output)
    _common.fit(model, x, np.zeros((80, 1), "float16"), callbacks, epochs=1, batch_size=4, shuffle=False)
