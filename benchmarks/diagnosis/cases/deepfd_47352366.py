"""MNIST CNN whose 10-way output layer uses ReLU instead of softmax under categorical cross-entropy."""

import keras
import numpy as np

from . import _common

SOURCE = (
    "DeepFD benchmark case 25 (Stack Overflow question 47352366); program as "
    "copied in DeepLocalize's benchmark, Benchmark/StackOverflow/"
)
URL = "https://stackoverflow.com/questions/47352366"
FIX = (
    "DeepFD's patch changes the activation of the last Dense(10) layer from ReLU to softmax (fault "
    "label: activation; training longer changes little)."
)
MECHANISM = (
    "Categorical cross-entropy normalises the ReLU outputs by their sum. Output units whose "
    "pre-activation is negative give exactly 0 with zero gradient, so the class units switch off for "
    "more and more inputs; training creeps (~55 % after 150 steps where softmax reaches 99 %) until a "
    "sample whose 10 outputs are all 0 makes the loss 0/0 (step ~150 here): the weights turn NaN and "
    "accuracy drops to chance."
)
HEALTHY = False
EXPECTED = [{"kind": "dead_relu", "layer": "output"}]
ACCEPTABLE = ["nan_inf", "disconnected_gradient"]

SEED = 47352366 % 10000


def _mnist_like(rng, n):
    """Digit-like 28x28 images in [0, 1], flattened to 784 as input_data.read_data_sets returns them."""
    x, labels = _common.stroke_digits(rng, n)
    return x.reshape(n, 784).astype("float32"), labels


def run(run_dir: str, callbacks: list) -> None:
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    x, labels = _mnist_like(rng, 1500)
    y = np.eye(10, dtype="float32")[labels]

    bias = keras.initializers.Constant(0.1)
    # Scaled down from 32/64 conv filters and a 1024-unit dense layer to 16/32 and 256 for the CPU budget.
    model = keras.Sequential(
        [
            keras.Input((784,), name="pixels"),
            keras.layers.Reshape((28, 28, 1), name="to_image"),
            keras.layers.Conv2D(16, (5, 5), padding="same", activation="relu", bias_initializer=bias, name="conv_1"),
            keras.layers.MaxPooling2D(padding="same", name="pool_1"),
            keras.layers.Conv2D(32, (5, 5), padding="same", activation="relu", bias_initializer=bias, name="conv_2"),
            keras.layers.MaxPooling2D(padding="same", name="pool_2"),
            keras.layers.Reshape((1, 7 * 7 * 32), name="to_vector"),
            keras.layers.Dense(256, activation="relu", bias_initializer=bias, name="dense_1"),
            keras.layers.Dropout(0.5, name="dropout"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(10, activation="relu", name="output"),
        ],
        name="so_47352366",
    )
    model.compile(loss=keras.losses.categorical_crossentropy, optimizer="adam", metrics=["accuracy"])
    # The original runs 600 train_on_batch steps of 50 images; 8 epochs of 30 batches here.
    model.fit(x, y, batch_size=50, epochs=8, callbacks=callbacks, verbose=0)
