"""Regression of y = 5x^2 with a small ReLU MLP and SGD(lr=0.1): the first steps overshoot and the net dies."""

import keras
import numpy as np

SOURCE = (
    "DeepFD benchmark case 13 (Stack Overflow question 48934338); program as "
    "copied in DeepLocalize's benchmark, Benchmark/StackOverflow/"
)
URL = "https://stackoverflow.com/questions/48934338"
FIX = "DeepFD's patch lowers the SGD learning rate from 0.1 to 0.0001 (fault label: learning rate)."
MECHANISM = (
    "The targets reach 125 and the MSE gradients are correspondingly large; plain SGD with lr=0.1 "
    "overshoots: the loss spikes above its starting level (~2.9e3) in the first steps and the "
    "oversized updates knock the ReLU units dead, after which the network outputs a constant and the "
    "loss is stuck at "
    "the targets' variance (~1390, where lr=1e-4 reaches ~86)."
)
HEALTHY = False
EXPECTED = [{"kind": "learning_rate_too_high", "layer": None}]
ACCEPTABLE = ["exploding_gradient", "dead_relu"]

SEED = 7


def run(run_dir: str, callbacks: list) -> None:
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    x = np.arange(0.0, 5.0, 0.1, dtype="float32").reshape(-1, 1)
    y = (5 * x**2 + rng.standard_normal((50, 1)) ** 3).astype("float32")

    model = keras.Sequential(
        [
            keras.Input((1,), name="x"),
            keras.layers.Dense(50, name="dense_1"),
            keras.layers.Activation("relu", name="relu_1"),
            keras.layers.Dense(30, kernel_initializer=keras.initializers.RandomUniform(-0.05, 0.05), name="dense_2"),
            keras.layers.Activation("relu", name="relu_2"),
            keras.layers.Dense(1, name="dense_out"),
            keras.layers.Activation("linear", name="linear_out"),
        ],
        name="so_48934338",
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    # The original runs 1000 epochs of 2 batches; the 50 samples are repeated 20x so that fewer, longer
    # epochs give the same kind of 32-sample SGD steps (Keras' per-epoch overhead dominates otherwise).
    model.fit(np.tile(x, (20, 1)), np.tile(y, (20, 1)), batch_size=32, epochs=15, callbacks=callbacks, verbose=0)
