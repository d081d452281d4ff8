"""Healthy: the TensorFlow mixed-precision guide's model under the "mixed_float16" policy (float16
compute, float32 variables, a float32 softmax, dynamic loss scaling)."""

from __future__ import annotations

import os

# float16 training steps through oneDNN take 15x longer than without it on this CPU (0.46 s vs
# 0.03 s per step for 64 units); the option changes speed, not the model. Set before TensorFlow loads:
# the worker imports the case module before TensorFlow.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import keras  # noqa: E402

from . import _common  # noqa: E402

SOURCE = "TensorFlow guide 'Mixed precision' (the MNIST Dense model with a float32 softmax, RMSprop)"
URL = "https://www.tensorflow.org/guide/mixed_precision"
FIX = ""
MECHANISM = (
    "Policy mixed_float16: Dense(4096, relu) x2 in float16 (here 128 units: float16 is slow on "
    "CPU; oneDNN is turned off for this case for the same reason), Dense(10) and a separate float32 softmax Activation as the guide insists; "
    "Keras wraps RMSprop in a LossScaleOptimizer. Awkward: the loss scaler starts at 2^15 and "
    "may skip early steps whose scaled gradients overflow to Inf (by design, not a fault), and "
    "float16 activations have coarse resolution."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(117)
    x, labels = _common.mnist_like(rng, 3000)
    x = x.reshape(len(x), 784)
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        inputs = keras.Input(shape=(784,), name="digits")
        h = keras.layers.Dense(128, activation="relu", name="dense_1")(inputs)
        h = keras.layers.Dense(128, activation="relu", name="dense_2")(h)
        h = keras.layers.Dense(10, name="dense_logits")(h)
        outputs = keras.layers.Activation("softmax", dtype="float32", name="predictions")(h)
        model = keras.Model(inputs=inputs, outputs=outputs)
        model.compile(
            loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.RMSprop(), metrics=["accuracy"]
        )
        # original: 60,000 images, batch 8192, 5 epochs; here 3,000, batch 64, 4 epochs
        _common.fit(model, x, labels, callbacks, batch_size=64, epochs=4, validation_split=0.2)
    finally:
        keras.mixed_precision.set_global_policy("float32")
