"""AUTOTRAINER's oscillating-loss demo: a 50-unit ReLU MLP on 3 Gaussian blobs, SGD(lr=0.01, momentum=0.9), batch 1."""

import keras
import numpy as np

SOURCE = (
    "AUTOTRAINER demo case Oscillating_Loss_Case (model.h5 + config.pkl: blob data, SGD lr=0.01 "
    "momentum=0.9, batch 1, 200 epochs)"
)
URL = "https://github.com/shiningrain/AUTOTRAINER/tree/main/AutoTrainer/demo_case/Oscillating_Loss_Case"
FIX = (
    "AUTOTRAINER labels the run 'oscillating (unstable) loss'; its first repair for that problem lowers "
    "the learning rate (SGD: 0.01 -> 0.001), the others enlarge the batch, change momentum or switch to Adam."
)
MECHANISM = (
    "The blob features are unscaled (|x| up to ~15) and every step uses one sample with momentum "
    "0.9, so the effective step is ~10x lr on a single example's gradient: the weights jump between "
    "the overlapping clusters' solutions and the epoch loss swings between ~0.85 and ~1.05 (accuracy "
    "55-66 %), where lr=0.001 descends steadily to ~0.5 (78 %)."
)
HEALTHY = False
EXPECTED = [{"kind": "learning_rate_too_high", "layer": None}]
ACCEPTABLE = ["exploding_gradient", "dead_relu"]

SEED = 2


def _blobs(rng, n=1000, std=2.0):
    """make_blobs(n_samples=1000, centers=3, n_features=2, cluster_std=2, random_state=2) as stored in
    AUTOTRAINER's data_blob.pkl: class centres near (-1.3, -9.6), (1.0, -1.5) and (-1.5, -3.7), the last two
    overlapping; one-hot labels."""
    c = np.array([[-1.3, -9.6], [1.0, -1.5], [-1.5, -3.7]])
    labels = rng.integers(0, 3, n)
    x = c[labels] + rng.normal(0, std, (n, 2))
    return x.astype("float32"), np.eye(3, dtype="float32")[labels]


def run(run_dir: str, callbacks: list) -> None:
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    x, y = _blobs(rng)
    x, y = x[:700], y[:700]  # n_train = 700

    model = keras.Sequential(
        [
            keras.Input((2,), name="xy"),
            keras.layers.Dense(
                50,
                activation="relu",
                name="hidden",
                kernel_initializer=keras.initializers.VarianceScaling(2.0, "fan_in", "uniform"),
            ),
            keras.layers.Dense(3, activation="softmax", name="output"),
        ],
        name="autotrainer_oscillating_loss",
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x, y, batch_size=1, epochs=6, callbacks=callbacks, verbose=0)  # 200 epochs in the original
