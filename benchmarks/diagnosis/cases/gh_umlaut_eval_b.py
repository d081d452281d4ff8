"""UMLAUT's user-study program B: a CIFAR-10 convnet without non-linearities trained by Adam(learning_rate=-1e3)."""

import keras

from . import _common

SOURCE = (
    "GitHub BerkeleyHCI/umlaut, user_eval/eval_b.py (a program with planted bugs from the UMLAUT user "
    "evaluation, Schoop et al., CHI 2021); umlaut_example.py marks the same bugs with their fixes"
)
URL = "https://github.com/BerkeleyHCI/umlaut/blob/master/user_eval/eval_b.py"
FIX = (
    "umlaut_example.py's annotations: a positive, ordinary learning rate instead of Adam(learning_rate=-1e3) "
    "('negative learning rate'), and activation='relu' instead of 'linear' in the conv and dense layers"
)
MECHANISM = (
    "A negative learning rate of magnitude 1000 turns Adam into gradient ascent with steps of ~1000 per "
    "weight: the first update multiplies the weights by orders of magnitude in the direction that raises "
    "the loss, the logits overflow and the loss becomes inf/NaN within a few steps. (The missing "
    "activations make the network linear, a second planted bug outside the tool's scope.)"
)
HEALTHY = False
EXPECTED = [{"kind": "learning_rate_too_high", "layer": None}]
ACCEPTABLE = ["nan_inf", "exploding_gradient"]

SEED = 2


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(SEED)
    x, labels = _common.cifar_like(rng, 2048)  # CIFAR-10: 50,000 images
    # the program: 64, 64, 128, 128 filters and Dense(128) x 2; here half as wide
    model = keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3), dtype="float32", name="image"),
            keras.layers.Conv2D(32, 3, activation="linear", name="conv_1"),
            keras.layers.Conv2D(32, 3, activation="linear", name="conv_2"),
            keras.layers.MaxPool2D(2, name="pool_1"),
            keras.layers.Dropout(0.2, name="dropout_1"),
            keras.layers.Conv2D(64, 3, activation="linear", name="conv_3"),
            keras.layers.Conv2D(64, 3, activation="linear", name="conv_4"),
            keras.layers.MaxPool2D(2, name="pool_2"),
            keras.layers.Dropout(0.2, name="dropout_2"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(64, name="dense_1"),
            keras.layers.Dense(64, name="dense_2"),
            keras.layers.Dropout(0.2, name="dropout_3"),
            keras.layers.Dense(10, name="logits"),
        ],
        name="eval_b",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=-1e3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    _common.fit(model, x, labels, callbacks, epochs=3, batch_size=128)  # the program: 10 epochs
