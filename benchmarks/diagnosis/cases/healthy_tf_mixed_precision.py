"""Healthy: the TensorFlow mixed-precision guide's model under the "mixed_float16" policy (float16
compute, float32 variables, a float32 softmax, dynamic loss scaling)."""

from __future__ import annotations

import keras

from . import _common

SOURCE = "TensorFlow guide 'Mixed precision' (the MNIST Dense model with a float32 softmax, RMSprop)"
URL = "https://www.tensorflow.org/guide/mixed_precision"
FIX = ""
MECHANISM = (
    "Policy mixed_float16: Dense(4096, relu) x2 in float16 (here 512 units: float16 matmuls are "
    "emulated on CPU), Dense(10) and a separate float32 softmax Activation as the guide insists; "
    "Keras wraps RMSprop in a LossScaleOptimizer. Awkward: the loss scaler starts at 2^15 and "
    "may skip early steps whose scaled gradients overflow to Inf (by design, not a fault), and "
    "float16 activations have coarse resolution."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(117)
    x, labels = _common.mnist_like(rng, 6000)
    x = x.reshape(len(x), 784)
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        inputs = keras.Input(shape=(784,), name="digits")
        h = keras.layers.Dense(512, activation="relu", name="dense_1")(inputs)
        h = keras.layers.Dense(512, activation="relu", name="dense_2")(h)
        h = keras.layers.Dense(10, name="dense_logits")(h)
        outputs = keras.layers.Activation("softmax", dtype="float32", name="predictions")(h)
        model = keras.Model(inputs=inputs, outputs=outputs)
        model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.RMSprop(), metrics=["accuracy"])
        # original: 60,000 images, batch 8192, 5 epochs; here 6,000, batch 128, 4 epochs
        _common.fit(model, x, labels, callbacks, batch_size=128, epochs=4, validation_split=0.2)
    finally:
        keras.mixed_precision.set_global_policy("float32")
