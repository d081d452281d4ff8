"""Image CNN ending in Dense(1) + softmax for a binary label: the one-unit softmax outputs 1 for every image."""

import keras

from . import _common

SOURCE = "defect4ML bug 092 (Stack Overflow question 58844149)"
URL = "https://stackoverflow.com/questions/58844149"
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

SEED = 92
SIZE = 48  # the original images are 300x300


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(SEED)
    n = 400  # the original has 500 images
    x = rng.integers(0, 255, (n, SIZE, SIZE, 1)).astype("float32")
    y = rng.integers(0, 2, n).astype("float32")
    x[y == 1, : SIZE // 2, : SIZE // 2] *= 0.5  # a learnable difference: a darker quadrant
    x -= x.mean(axis=0)  # ImageDataGenerator(featurewise_center=True)
    model = keras.Sequential(
        [
            keras.Input(shape=(SIZE, SIZE, 1), name="image"),
            keras.layers.Conv2D(16, 11, padding="same", activation="relu", name="conv_1"),
            keras.layers.MaxPooling2D(pool_size=3, strides=2, name="pool_1"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv_2"),
            keras.layers.MaxPooling2D(pool_size=2, strides=2, name="pool_2"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv_3"),
            keras.layers.MaxPooling2D(pool_size=2, strides=2, name="pool_3"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(64, activation="relu", name="dense_hidden"),
            keras.layers.Dropout(0.2, name="dropout"),
            keras.layers.Dense(1, name="dense_out"),
            keras.layers.Activation("softmax", name="output_softmax"),
        ],
        name="image_classifier",
    )
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    _common.fit(model, x, y[:, None], callbacks, epochs=3, batch_size=8, shuffle=True)
