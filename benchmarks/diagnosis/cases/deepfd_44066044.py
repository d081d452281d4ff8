"""Packet classifier fed raw packet fields (IP addresses as integers ~3.2e9, window sizes ~5e5): it cannot learn."""

import keras
import numpy as np

SOURCE = (
    "DeepFD benchmark case 23 (Stack Overflow question 44066044); program as "
    "copied in DeepLocalize's benchmark, Benchmark/StackOverflow/"
)
URL = "https://stackoverflow.com/questions/44066044"
FIX = "DeepFD's patch adds X = preprocessing.scale(X) before training (fault label: missing preprocessing)."
MECHANISM = (
    "The 11 features are raw packet fields: source/destination IPv4 addresses as integers (~3.2e9), "
    "TCP window sizes (~5e5), ports, flags and zeros. The informative columns are the source host (a "
    "few units on top of 3.2e9, below float32 resolution) and the window size (~1000 on top of 5e5), "
    "so the first layer's pre-activations are ~1e8 and alike for every packet: the ReLU output unit "
    "dies at 0 in the first steps, the loss freezes and every packet gets the same prediction."
)
HEALTHY = False
EXPECTED = [{"kind": "input_scale", "layer": "input"}]
ACCEPTABLE = ["dead_relu", "exploding_gradient", "learning_rate_too_high"]

SEED = 4


def _packets(rng, n):
    """Rows shaped like NetworkPackets.csv: 11 packet fields and a 0/1 label (attack = source host .781)."""
    label = (rng.random(n) < 0.6).astype(int)
    src = 3232235000 + np.where(label == 1, 781, rng.choice([773, 778], n))
    dst = np.full(n, 3232235779)
    proto, ttl = np.full(n, 6), np.full(n, 128)
    window = np.where(label == 1, rng.choice([8192, 525558, 525568], n), rng.choice([524032, 524288, 524544], n))
    port = rng.choice([502, 55783, 55924, 56783], n)
    has_payload = rng.random(n) < 0.5
    f7 = np.where(has_payload, 12, 0)
    f8 = np.where(has_payload, rng.choice([0, 61, 65280], n), 0)
    f9 = np.where(has_payload, np.where(label == 1, 5, 6), 0)
    f10 = np.zeros(n)
    f11 = np.where(has_payload, np.where(label == 1, rng.integers(100, 103, n), rng.integers(206, 208, n)), 0)
    x = np.stack([src, dst, proto, ttl, window, port, f7, f8, f9, f10, f11], axis=1).astype("float64")
    return x.astype("float32"), label.astype("float32").reshape(-1, 1)


def run(run_dir: str, callbacks: list) -> None:
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    x, y = _packets(rng, 210)  # the question's file has 21 such rows

    normal = keras.initializers.RandomNormal(stddev=0.05)  # kernel_initializer='normal'
    model = keras.Sequential(
        [
            keras.Input((11,), name="packet"),
            keras.layers.Dense(12, kernel_initializer=normal, name="dense_1"),
            keras.layers.Activation("relu", name="relu_1"),
            keras.layers.Dense(12, kernel_initializer=normal, name="dense_2"),
            keras.layers.Activation("relu", name="relu_2"),
            keras.layers.Dense(1, kernel_initializer=normal, name="dense_out"),
            keras.layers.Activation("relu", name="relu_out"),
        ],
        name="so_44066044",
    )
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x, y, batch_size=5, epochs=10, callbacks=callbacks, verbose=0)
