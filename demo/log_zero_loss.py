"""A hand-written binary cross-entropy without an epsilon, on a task the model learns to certainty.

Adam at 0.03 drives the logits of easy samples past ~17 (after 33-736 steps over five seeds; step 78
with this one); there the float32 sigmoid returns exactly 1.0, `log(1 - p)` is -Inf, `0 * -Inf` is
NaN, and the loss and every gradient turn NaN although no layer output is ever non-finite. Keras' own
`binary_crossentropy` clips `p` (or uses the logits) for exactly this reason.
"""

from __future__ import annotations

import keras
from keras import ops

from tb_gradcause.demo import _common

NAME = "log_zero_loss"
EXPECTED = [{"kind": "nan_inf", "layer": None}]


def bce(y_true, y_pred):
    """Binary cross-entropy as in the textbook (buggy: log(0) when the sigmoid saturates)."""
    return -ops.mean(y_true * ops.log(y_pred) + (1.0 - y_true) * ops.log(1.0 - y_pred), axis=-1)


def run(logdir: str) -> None:
    rng = _common.start(15)
    x = rng.normal(size=(2048, 8)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("float32")[:, None]
    x[:, 0] += (2 * y[:, 0] - 1) * 4.0  # well separated classes
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(1, activation="sigmoid", name="output"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.03), loss=bce)
    _common.fit(
        model, x, y, logdir=logdir, name=NAME, epochs=15, batch_size=32, callbacks=[keras.callbacks.TerminateOnNaN()]
    )


if __name__ == "__main__":
    _common.main(run, __doc__)
