"""Ten stacked sigmoid layers trained with plain SGD.

The sigmoid's slope is at most 0.25, so the error signal shrinks by roughly that factor per layer on
its way back: the first layers' gradients are orders of magnitude below the last ones' and the loss
stays at chance level.
"""

from __future__ import annotations

import keras

from tb_gradcause.demo import _common

NAME = "vanishing_sigmoid_stack"
EXPECTED = [{"kind": "vanishing_gradient", "layer": "dense_1"}]
DEPTH = 10


def run(logdir: str) -> None:
    rng = _common.start(8)
    x = rng.normal(size=(2048, 16)).astype("float32")
    y = (x[:, 0] * x[:, 1] > 0).astype("float32")
    model = keras.Sequential(
        [keras.Input((16,))]
        + [keras.layers.Dense(32, activation="sigmoid", name=f"dense_{i}") for i in range(1, DEPTH + 1)]
        + [keras.layers.Dense(1, activation="sigmoid", name="output")]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="binary_crossentropy", metrics=["accuracy"])
    _common.fit(model, x, y, logdir=logdir, name=NAME, epochs=4, batch_size=32)


if __name__ == "__main__":
    _common.main(run, __doc__)
