"""Conv1D binary classifier ending in Dense(1) + softmax: a one-unit softmax is constant 1, nothing learns."""

import keras

from . import _common

SOURCE = "defect4ML bug 086 (Stack Overflow question 45378493)"
URL = "https://stackoverflow.com/questions/45378493"
FIX = "use Activation('sigmoid') on the single output unit (binary_crossentropy) instead of 'softmax'"
MECHANISM = (
    "Softmax over a single unit is exp(z)/exp(z) = 1 for every input: the output ignores the "
    "network, so every prediction is the positive class and accuracy stays at the positive rate. "
    "(Keras 2 clipped that 1 inside binary_crossentropy and no weight got a gradient; Keras 3's "
    "binary_crossentropy reads the logit behind the softmax, so the loss still falls while the "
    "model's output never changes.)"
)
HEALTHY = False
EXPECTED = [{"kind": "disconnected_gradient", "layer": "output_softmax"}]
ACCEPTABLE = ["saturated_activation"]

SEED = 86


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(SEED)
    n = 1200  # the original has 6000 samples
    x = rng.normal(size=(n, 10, 4)).astype("float32")  # 10 time steps x 4 channels
    y = (x[:, 2:6, 0].sum(axis=1) - x[:, 4:8, 2].sum(axis=1) > 0).astype("float32")[:, None]
    model = keras.Sequential(
        [
            keras.Input(shape=(10, 4), name="sequence"),
            keras.layers.Conv1D(16, 4, padding="same", name="conv1d_1"),
            keras.layers.BatchNormalization(name="bn_1"),
            keras.layers.LeakyReLU(name="leaky_1"),
            keras.layers.Dropout(0.2, name="drop_1"),
            keras.layers.Conv1D(8, 4, padding="same", name="conv1d_2"),
            keras.layers.BatchNormalization(name="bn_2"),
            keras.layers.LeakyReLU(name="leaky_2"),
            keras.layers.Dropout(0.2, name="drop_2"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(64, name="dense_64"),
            keras.layers.BatchNormalization(name="bn_3"),
            keras.layers.LeakyReLU(name="leaky_3"),
            keras.layers.Dense(1, name="dense_out"),
            keras.layers.Activation("softmax", name="output_softmax"),
        ],
        name="conv1d_classifier",
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    _common.fit(model, x, y, callbacks, epochs=10, batch_size=128, shuffle=True)
