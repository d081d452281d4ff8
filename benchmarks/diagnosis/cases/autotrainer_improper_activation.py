"""AUTOTRAINER's improper-activation demo: a 3-class blob classifier ending in Dense(3, relu) under cross-entropy."""

import keras
import numpy as np

SOURCE = (
    "AUTOTRAINER demo case Improper_Activation_case (demo_activation.py: 4x Dense(50, relu) + Dense(3, relu), "
    "categorical cross-entropy, Adam lr=1e-4, batch 256, 300 epochs on blob data)"
)
URL = "https://github.com/shiningrain/AUTOTRAINER/tree/main/AutoTrainer/demo_case/Improper_Activation_case"
FIX = (
    "The demo comments out the Softmax() output it should have; AUTOTRAINER flags the output activation as "
    "improper for a categorical cross-entropy loss ('activation_output') and repairs it with softmax."
)
MECHANISM = (
    "Cross-entropy normalises the three ReLU outputs by their sum. An output unit whose "
    "pre-activation is negative outputs exactly 0 with zero gradient, so classes whose unit is "
    "switched off for their own samples can never be predicted again; samples whose three outputs "
    "are all 0 make the loss 0/0."
)
HEALTHY = False
EXPECTED = [{"kind": "dead_relu", "layer": "output"}]
ACCEPTABLE = ["nan_inf"]

SEED = 2


def _blobs(rng, n=1000, std=2.0):
    """make_blobs(n_samples=1000, centers=3, n_features=2, cluster_std=2, random_state=2) as stored in
    AUTOTRAINER's data_blob.pkl: class centres near (-1.3, -9.6), (1.0, -1.5) and (-1.5, -3.7); one-hot."""
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

    he = dict(kernel_initializer="he_uniform")
    model = keras.Sequential(
        [
            keras.Input((2,), name="xy"),
            keras.layers.Dense(50, activation="relu", name="dense_1", **he),
            keras.layers.Dense(50, activation="relu", name="dense_2", **he),
            keras.layers.Dense(50, activation="relu", name="dense_3", **he),
            keras.layers.Dense(50, activation="relu", name="dense_4", **he),
            keras.layers.Dense(3, activation="relu", name="output"),
        ],
        name="autotrainer_improper_activation",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.0001), loss="categorical_crossentropy", metrics=["accuracy"]
    )
    # 300 epochs of 3 batches in the original; the 700 samples are repeated 10x to run ~840 Adam steps of
    # 256 samples in 30 epochs.
    model.fit(np.tile(x, (10, 1)), np.tile(y, (10, 1)), batch_size=256, epochs=30, callbacks=callbacks, verbose=0)
