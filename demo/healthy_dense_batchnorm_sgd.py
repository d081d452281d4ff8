"""Healthy control: Dense -> BatchNorm -> ReLU -> Dropout blocks regressing a standardised target with SGD
and momentum. The Dense biases (Keras' default) sit right before BatchNorm, which subtracts them
again, so their gradients are ~0 by design: that is waste, not a bug.
"""

from __future__ import annotations

import keras
import numpy as np

from tb_gradcause.demo import _common

NAME = "healthy_dense_batchnorm_sgd"
EXPECTED: list[dict] = []


def run(logdir: str) -> None:
    rng = _common.start(25)
    x = rng.normal(size=(2048, 12)).astype("float32")
    y = np.tanh(x[:, :3] @ [1.0, -0.5, 0.8]) + 0.5 * x[:, 3] * x[:, 4]
    y = ((y - y.mean()) / y.std()).astype("float32")
    blocks = []
    for i in (1, 2):
        blocks += [
            keras.layers.Dense(64, name=f"dense_{i}"),
            keras.layers.BatchNormalization(name=f"bn_{i}"),
            keras.layers.ReLU(name=f"relu_{i}"),
            keras.layers.Dropout(0.1, name=f"dropout_{i}"),
        ]
    model = keras.Sequential([keras.Input((12,)), *blocks, keras.layers.Dense(1, name="output")])
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="mse")
    _common.fit(model, x, y, logdir=logdir, name=NAME, epochs=4, batch_size=32)


if __name__ == "__main__":
    _common.main(run, __doc__)
