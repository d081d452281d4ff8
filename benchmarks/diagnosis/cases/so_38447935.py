"""Linear fit of 3 points where y_ has shape (3,) and the prediction (3, 1): the squared error broadcasts to (3, 3)."""

import keras
import numpy as np
from keras import ops

from . import _common

SOURCE = (
    "Stack Overflow 38447935 (reproduced as StackOverflow/UT-15 in Zhang et al., ISSTA 2018, TensorFlow-Program-Bugs)"
)
URL = "https://stackoverflow.com/questions/38447935"
FIX = "y_ = tf.expand_dims(y_, axis=1), so that y_ - y is (3, 1) and not (3, 3)"
MECHANISM = (
    "y_ - y with shapes (3,) and (3, 1) broadcasts to a 3x3 matrix of every target minus every "
    "prediction. Its mean is minimised by predicting the mean target (2) for every x, so the weights "
    "converge to w = [2, 0] instead of the exact fit w = [0, 1], and the error stays at 2/3."
)
HEALTHY = False
EXPECTED = [{"kind": "loss_shape_mismatch", "layer": None}]
ACCEPTABLE = ["disconnected_gradient"]

SEED = 38


class SquaredError(keras.losses.Loss):
    """error = tf.reduce_mean(tf.square(y_ - y)) written by hand (no rank alignment)."""

    def call(self, y_true, y_pred):
        return ops.mean(ops.square(y_true - y_pred), axis=-1)


def run(run_dir: str, callbacks: list) -> None:
    _common.start(SEED)
    x = np.array([[1.0, 1.0], [1.0, 2.0], [1.0, 3.0]], "float32")
    y_ = np.array([1.0, 2.0, 3.0], "float32")  # shape (3,)
    steps = 1500
    # the original runs 50000 full-batch Adam(1e-4) steps; lr x 100 reaches the same end point in 1500
    model = keras.Sequential(
        [
            keras.Input(shape=(2,), name="x"),
            keras.layers.Dense(
                1, use_bias=False, kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.1), name="w"
            ),
        ],
        name="fitting",
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2), loss=SquaredError(name="error"))
    _common.fit(model, np.tile(x, (steps, 1)), np.tile(y_, steps), callbacks, epochs=1, batch_size=3, shuffle=False)
