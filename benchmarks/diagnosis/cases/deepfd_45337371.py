"""Binary classifier ending in Dense(1, activation='softmax'): the output is constant 1, accuracy stays at chance."""

import keras
import numpy as np

SOURCE = (
    "DeepFD benchmark case 22 (Stack Overflow question 45337371); program as "
    "copied in DeepLocalize's benchmark, Benchmark/StackOverflow/"
)
URL = "https://stackoverflow.com/questions/45337371"
FIX = "DeepFD's patch changes the output activation from softmax to sigmoid (fault label: activation)."
MECHANISM = (
    "softmax over a single unit is identically 1, so the model's output does not depend on its "
    "input and its gradient with respect to the input is exactly zero (what the question observes); "
    "accuracy stays at chance. Keras 3's binary cross-entropy reads the cached pre-softmax logit, so "
    "the training loss still falls while the output stays constant."
)
HEALTHY = False
EXPECTED = [{"kind": "disconnected_gradient", "layer": "output"}]
ACCEPTABLE = []

SEED = 45337371 % 10000


def run(run_dir: str, callbacks: list) -> None:
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    num_features = 5
    x = rng.random((1000, num_features)).astype("float32")  # np.random.rand(n, num_features)
    y = (x.sum(axis=1, keepdims=True) > num_features / 2).astype("float32")

    model = keras.Sequential(
        [
            keras.Input((num_features,), name="x"),
            keras.layers.Dense(60, activation="relu", name="dense_1"),
            keras.layers.Dense(50, activation="relu", name="dense_2"),
            keras.layers.Dense(1, activation="softmax", name="output"),
        ],
        name="so_45337371",
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=10, epochs=5, callbacks=callbacks, verbose=0)
