"""8-bit permutation learned by three Dense(8)+sigmoid layers, N(0, 0.05) weights, MSE and SGD(0.01): the loss stalls."""

import keras
import numpy as np

from . import _common

SOURCE = (
    "DeepFD benchmark case 12 (Stack Overflow question 39217567); program as copied in DeepLocalize's "
    "benchmark, Benchmark/StackOverflow/39217567"
)
URL = "https://stackoverflow.com/questions/39217567"
FIX = (
    "DeepFD's patch replaces the sigmoid of the two hidden Dense layers with ReLU (fault labels: "
    "activation, batch size); DeepLocalize's correct version also trains with batch size 1 and "
    "binary cross-entropy"
)
MECHANISM = (
    "With Keras' 'normal' initialisation (stddev 0.05) each Dense(8) multiplies the backward signal by "
    "about 0.05 * sqrt(8), and each sigmoid by at most 0.25: the first layer receives a few thousandths "
    "of the gradient of the last, plain SGD at 0.01 on the MSE of outputs near 0.5 barely moves it, and "
    "the loss sits at the variance of the targets (0.25)."
)
HEALTHY = False
EXPECTED = [{"kind": "vanishing_gradient", "layer": "hidden_1"}]
ACCEPTABLE = ["saturated_activation"]

SEED = 39217567 % 10000
DIM = 8


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(SEED)
    # every 8-bit vector, mapped to a shuffled copy of the same set, as in the question
    x = ((np.arange(2**DIM)[:, None] >> np.arange(DIM - 1, -1, -1)) & 1).astype("float32")
    y = x[rng.permutation(len(x))]
    normal = keras.initializers.RandomNormal(stddev=0.05)  # Keras 1's init='normal'
    model = keras.Sequential(
        [
            keras.Input((DIM,), name="bits"),
            keras.layers.Dense(DIM, kernel_initializer=normal, name="hidden_1"),
            keras.layers.Activation("sigmoid", name="sigmoid_1"),
            keras.layers.Dense(DIM, kernel_initializer=normal, name="hidden_2"),
            keras.layers.Activation("sigmoid", name="sigmoid_2"),
            keras.layers.Dense(DIM, kernel_initializer=normal, name="output"),
            keras.layers.Activation("sigmoid", name="sigmoid_out"),
        ],
        name="so_39217567",
    )
    model.compile(loss="mse", optimizer=keras.optimizers.SGD(learning_rate=0.01), metrics=["accuracy"])
    # the question: nb_epoch=1000 (6 batches of 50 per epoch); here 250
    _common.fit(model, x, y, callbacks, epochs=250, batch_size=50)
