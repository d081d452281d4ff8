"""A two-tower model whose `call` computes the second tower but forgets to use it.

The author meant to concatenate both towers before the head; `tower_b`'s kernel and bias never
receive a gradient (Keras only warns once), so that half of the model never trains.
"""

from __future__ import annotations

import keras

from tb_gradcause.demo import _common

NAME = "unused_branch"
EXPECTED = [{"kind": "disconnected_gradient", "layer": "tower_b"}]


class TwoTower(keras.Model):
    """User and item features in two towers, joined by a small head (buggy: drops tower_b)."""

    def __init__(self) -> None:
        super().__init__(name="two_tower")
        self.tower_a = keras.layers.Dense(16, activation="relu", name="tower_a")
        self.tower_b = keras.layers.Dense(16, activation="relu", name="tower_b")
        self.join = keras.layers.Concatenate(name="join")
        self.head = keras.layers.Dense(1, name="head")

    def call(self, inputs):
        a = self.tower_a(inputs[:, :8])
        b = self.tower_b(inputs[:, 8:])  # noqa: F841 (the bug: computed, then never used)
        joined = self.join([a, a])  # meant: self.join([a, b])
        return self.head(joined)


def run(logdir: str) -> None:
    rng = _common.start(4)
    x = rng.normal(size=(2048, 16)).astype("float32")
    y = (x[:, :8].sum(axis=1) * x[:, 8:].sum(axis=1) / 8).astype("float32")
    model = TwoTower()
    model.compile(optimizer="adam", loss="mse")
    _common.fit(model, x, y, logdir=logdir, name=NAME, epochs=4, batch_size=32)


if __name__ == "__main__":
    _common.main(run, __doc__)
