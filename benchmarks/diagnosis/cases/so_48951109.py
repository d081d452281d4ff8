"""Binary classifier with a hand-written binary cross-entropy on a sigmoid output: log(1 - 1) -> NaN loss."""

import keras
from keras import ops

from . import _common

SOURCE = "Stack Overflow 48951109 (Keras custom binary cross-entropy loss function gives NaN)"
URL = "https://stackoverflow.com/questions/48951109"
FIX = (
    "compute the loss from the logits in the stable form max(x, 0) - x*z + log(1 + exp(-|x|)) "
    "(tf.nn.sigmoid_cross_entropy_with_logits), or clip p away from 0 and 1 as Keras' own loss does"
)
MECHANISM = (
    "-(y*log(p) + (1-y)*log(1-p)) is evaluated on the sigmoid output. Once a logit passes ~17 "
    "the sigmoid rounds to exactly 1.0 in float32 (or 0.0 below ~-88), the log gives -inf, "
    "0 * -inf = NaN, and after a few iterations the loss is NaN."
)
HEALTHY = False
EXPECTED = [{"kind": "nan_inf", "layer": None}]
ACCEPTABLE = ["saturated_activation"]

SEED = 109


def my_custom_loss(y_true, y_pred):
    t_loss = (-1) * (y_true * ops.log(y_pred) + (1 - y_true) * ops.log(1 - y_pred))
    return ops.mean(t_loss, axis=-1)


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(SEED)
    n = 2000
    x = rng.normal(size=(n, 20)).astype("float32")
    y = (x[:, :5].sum(axis=1) + 0.5 * x[:, 5] * x[:, 6] > 0).astype("float32")[:, None]
    model = keras.Sequential(
        [
            keras.Input(shape=(20,), name="features"),
            keras.layers.Dense(64, activation="relu", name="dense_1"),
            keras.layers.Dense(64, activation="relu", name="dense_2"),
            keras.layers.Dense(1, activation="sigmoid", name="output"),
        ],
        name="binary_classifier",
    )
    model.compile(optimizer="adam", loss=my_custom_loss, metrics=["accuracy"])
    _common.fit(model, x, y, callbacks, epochs=10, batch_size=32, shuffle=True)
