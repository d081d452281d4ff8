"""A deep ReLU regressor initialised with N(0, 1) weights (an init copied from a from-scratch tutorial).

Each 64-wide layer multiplies the signal by about sqrt(64 / 2) = 5.7 on the way forward and again on
the way back, so the error signal reaching the first layer is ~10^4 times larger than at the output.
Plain SGD takes a step of that size: the loss is Inf at the second batch and the weights turn NaN.
"""

from __future__ import annotations

import keras

from tb_gradcause.demo import _common

NAME = "exploding_deep_init"
EXPECTED = [{"kind": "exploding_gradient", "layer": "dense_1"}, {"kind": "nan_inf", "layer": None}]
DEPTH = 6


def run(logdir: str) -> None:
    rng = _common.start(13)
    x = rng.normal(size=(2048, 16)).astype("float32")
    y = (x[:, :4] ** 2).sum(axis=1, keepdims=True).astype("float32") - 4.0
    init = keras.initializers.RandomNormal(stddev=1.0)
    hidden = [
        keras.layers.Dense(64, activation="relu", kernel_initializer=init, name=f"dense_{i}") for i in range(1, DEPTH)
    ]
    model = keras.Sequential(
        [keras.Input((16,)), *hidden, keras.layers.Dense(1, kernel_initializer=init, name="output")]
    )
    model.compile(optimizer="sgd", loss="mse")
    _common.fit(
        model, x, y, logdir=logdir, name=NAME, epochs=2, batch_size=32, callbacks=[keras.callbacks.TerminateOnNaN()]
    )


if __name__ == "__main__":
    _common.main(run, __doc__)
