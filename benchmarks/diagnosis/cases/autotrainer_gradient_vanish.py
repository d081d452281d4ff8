"""AUTOTRAINER's gradient-vanish demo: nine stacked 5-unit sigmoid layers on the two-circles problem."""

import keras
import numpy as np

SOURCE = (
    "AUTOTRAINER demo case Gradient_Vanish_Case (model.h5 + config.pkl: circle data, Adam lr=1e-3, "
    "batch 128, 300 epochs)"
)
URL = "https://github.com/shiningrain/AUTOTRAINER/tree/main/AutoTrainer/demo_case/Gradient_Vanish_Case"
FIX = (
    "AUTOTRAINER labels the run 'gradient vanish'; its repairs for that problem replace the sigmoid "
    "activations (ReLU / SELU / LeakyReLU with a matching initializer) or add BatchNormalization."
)
MECHANISM = (
    "Eight hidden layers of 5 sigmoid units: each sigmoid passes back at most 1/4 of the error "
    "signal, so the first layers' gradients are orders of magnitude smaller than the last ones' and "
    "the network does not get past chance accuracy on the circles."
)
HEALTHY = False
EXPECTED = [{"kind": "vanishing_gradient", "layer": "dense_1"}]
ACCEPTABLE = ["saturated_activation"]

SEED = 1


def _circles(rng, n=1000, noise=0.1, factor=0.8):
    """sklearn.datasets.make_circles: an outer (label 0) and inner (label 1) circle with Gaussian noise."""
    n_out = n // 2
    t_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0, 2 * np.pi, n - n_out, endpoint=False)
    x = np.concatenate(
        [np.stack([np.cos(t_out), np.sin(t_out)], 1), factor * np.stack([np.cos(t_in), np.sin(t_in)], 1)]
    )
    y = np.concatenate([np.zeros(n_out), np.ones(n - n_out)])
    order = rng.permutation(n)
    x = x[order] + rng.normal(0, noise, (n, 2))
    return x.astype("float32"), y[order].astype("float32").reshape(-1, 1)


def run(run_dir: str, callbacks: list) -> None:
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    x, y = _circles(rng)
    x, y = x[:700], y[:700]  # n_train = 700

    he_uniform = dict(
        kernel_initializer=keras.initializers.VarianceScaling(2.0, "fan_in", "uniform"), bias_initializer="zeros"
    )
    layers = [keras.Input((2,), name="xy")]
    for i in range(1, 9):
        layers.append(keras.layers.Dense(5, activation="sigmoid", name=f"dense_{i}", **he_uniform))
    layers.append(keras.layers.Dense(1, activation="sigmoid", name="output", **he_uniform))
    model = keras.Sequential(layers, name="autotrainer_gradient_vanish")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.001), loss="binary_crossentropy", metrics=["accuracy"]
    )
    # 300 epochs of 6 batches in the original; the 700 samples are repeated 10x to run a similar number of
    # 128-sample Adam steps (~1650) in 30 epochs.
    model.fit(np.tile(x, (10, 1)), np.tile(y, (10, 1)), batch_size=128, epochs=30, callbacks=callbacks, verbose=0)
