"""AUTOTRAINER's dying-ReLU motivating example: a 34-layer, 128-unit ReLU MLP on MNIST trained with Adam."""

import keras
import numpy as np

from . import _common

SOURCE = (
    "AUTOTRAINER motivating example Motivation/DyingReLU (minist_relu_layer=34.h5: 34 Dense(128)+ReLU "
    "layers, glorot_uniform, softmax output; Adam lr=1e-3, batch 32, 50 epochs on MNIST)"
)
URL = "https://github.com/shiningrain/AUTOTRAINER/tree/main/Motivation/DyingReLU"
FIX = (
    "AUTOTRAINER labels the run 'dying ReLU' (it occurs in ~50 % of its runs of this model); its repairs "
    "for that problem add BatchNormalization, switch to He initialisation, or replace ReLU with "
    "LeakyReLU / ELU / SELU."
)
MECHANISM = (
    "34 plain ReLU layers with Glorot initialisation shrink the signal layer by layer (already ~30-40 % "
    "of the upper layers' units are off for every input at step 0), and the first Adam steps switch "
    "off most of the rest: 70-85 % of the units in the upper 20 layers end up dead, the layers below "
    "get almost no gradient and the loss sits at ln(10), accuracy at chance. Whether a run dies "
    "depends on the initialisation (3 of 4 seeds in a scan of this port, ~50 % in AUTOTRAINER's "
    "experiment); SEED is one where it does."
)
HEALTHY = False
EXPECTED = [{"kind": "dead_relu", "layer": None}]
ACCEPTABLE = ["vanishing_gradient", "disconnected_gradient"]

SEED = 1


def _mnist_like(rng, n):
    """Digit-like 28x28 images in [0, 1] (MNIST /255), flattened: one blurred stroke template per class,
    shifted by up to 2 pixels, dark background."""
    x, labels = _common.stroke_digits(rng, n)
    return x.reshape(n, 784).astype("float32"), labels


def run(run_dir: str, callbacks: list) -> None:
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    x, labels = _mnist_like(rng, 2000)
    y = np.eye(10, dtype="float32")[labels]

    layers = [keras.Input((784,), name="pixels")]
    for i in range(1, 35):
        layers.append(keras.layers.Dense(128, name=f"dense_{i}"))
        layers.append(keras.layers.Activation("relu", name=f"relu_{i}"))
    layers.append(keras.layers.Dense(10, activation="softmax", name="output"))
    model = keras.Sequential(layers, name="autotrainer_dying_relu")
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=32, epochs=2, callbacks=callbacks, verbose=0)
