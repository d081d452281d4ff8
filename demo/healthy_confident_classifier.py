"""Healthy control: an easy, separable task the model learns to near-certainty.

Its sigmoid outputs approach 0 and 1 because the model is right, not because it is stuck: a
saturation detector must not mistake a confident, converged classifier for a saturated one.
"""

from __future__ import annotations

import keras

from tb_gradcause.demo import _common

NAME = "healthy_confident_classifier"
EXPECTED: list[dict] = []


def run(logdir: str) -> None:
    rng = _common.start(23)
    x = rng.normal(size=(2048, 8)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("float32")
    x[:, 0] += (2 * y - 1) * 1.5  # a clear margin between the classes
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(1, activation="sigmoid", name="output"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="binary_crossentropy", metrics=["accuracy"])
    _common.fit(model, x, y, logdir=logdir, name=NAME, epochs=6, batch_size=32)


if __name__ == "__main__":
    _common.main(run, __doc__)
