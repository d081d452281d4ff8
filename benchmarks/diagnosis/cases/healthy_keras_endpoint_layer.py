"""Healthy: the keras-io 'endpoint layer' recipe, a logistic regression whose loss is added by a
layer of the user's own (`add_loss`) that receives the targets and sample weights as model inputs."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from . import _common

SOURCE = "keras-io example 'Endpoint layer pattern' (fchollet), its Functional-API model"
URL = "https://keras.io/examples/keras_recipes/endpoint_layer_pattern/"
FIX = ""
MECHANISM = (
    "Dense(1) logits on 764 uniform [0, 1) features; a LogisticEndpoint layer gets the logits, the "
    "targets and the sample weights (all three model inputs), adds the weighted binary "
    "cross-entropy from logits with add_loss and returns softmax(logits) for predict(); compiled "
    "with Adam(1e-3) and no loss, fit for 2 epochs on 1,000 rows, as in the example. Awkward: the "
    "example's data are pure noise (uniform targets in [0, 1), uniform sample weights), so the "
    "loss can only fall from its initial level to the targets' own entropy and then stays flat; "
    "the loss comes from add_loss, not compile; the model's output is a softmax over one unit, "
    "1.0 whatever the input, which feeds no loss (the example's choice: the loss reads the logits)."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []


class LogisticEndpoint(keras.layers.Layer):
    """Adds the training loss from (targets, logits, sample_weight); returns softmax(logits)."""

    def __init__(self, name=None):
        super().__init__(name=name)
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
        self.accuracy_fn = keras.metrics.BinaryAccuracy(name="accuracy")

    def call(self, logits, targets=None, sample_weight=None):
        if targets is not None:
            self.add_loss(self.loss_fn(targets, logits, sample_weight))
            self.accuracy_fn.update_state(targets, logits, sample_weight)  # the example: add_metric (Keras 2)
        return ops.softmax(logits)


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(136)
    inputs = keras.Input((764,), name="inputs")
    logits = keras.layers.Dense(1, name="logits")(inputs)
    targets = keras.Input((1,), name="targets")
    sample_weight = keras.Input((1,), name="sample_weight")
    preds = LogisticEndpoint(name="endpoint")(logits, targets, sample_weight)
    model = keras.Model([inputs, targets, sample_weight], preds)

    data = {  # as in the example (np.random.random)
        "inputs": rng.random((1000, 764)),
        "targets": rng.random((1000, 1)),
        "sample_weight": rng.random((1000, 1)),
    }
    model.compile(keras.optimizers.Adam(1e-3))
    model.fit(data, epochs=2, verbose=0, callbacks=list(callbacks))
    assert np.isfinite(model.predict(data, verbose=0)).all()
