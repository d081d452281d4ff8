"""Binary classifier on unscaled features around 65-70 (an offset of ~67 over a spread of ~1.5): it does not learn."""

import keras
import numpy as np

SOURCE = (
    "DeepFD benchmark case 11 (Stack Overflow question 39525358); program as "
    "copied in DeepLocalize's benchmark, Benchmark/StackOverflow/"
)
URL = "https://stackoverflow.com/questions/39525358"
FIX = (
    "DeepFD's patch standardises X with StandardScaler (and raises Adam's learning rate to 0.1); "
    "fault labels: missing preprocessing, activation, learning rate."
)
MECHANISM = (
    "Each feature takes values like 65/68, 66/69, 67/70: a large common offset with a tiny "
    "informative difference. Unscaled, the first layer sees almost the same large vector for every "
    "sample, so small-initialised ReLU units either all fire or all die together and the class "
    "signal is drowned: accuracy stays at the majority rate."
)
HEALTHY = False
EXPECTED = [{"kind": "input_scale", "layer": "input"}]
ACCEPTABLE = ["dead_relu", "saturated_activation"]

SEED = 7


def run(run_dir: str, callbacks: list) -> None:
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    # 'sorted output.csv': three columns drawn from {65, 68}, {66, 69}, {67, 70}; the label is 1 when the
    # first column is 68. 20 rows, of which 67 % are used for training.
    n = 20
    label = (rng.random(n) < 0.4).astype("float32")
    c2 = np.where(rng.random(n) < 0.8, label, 1 - label)
    c3 = np.where(rng.random(n) < 0.7, label, 1 - label)
    x_all = np.stack([65 + 3 * label, 66 + 3 * c2, 67 + 3 * c3], axis=1).astype("float32")
    idx = rng.permutation(n)[: int(round(0.67 * n))]
    x, y = x_all[idx], label[idx].reshape(-1, 1)

    uniform = keras.initializers.RandomUniform(-0.05, 0.05)  # Keras 1 init='uniform'
    model = keras.Sequential(
        [
            keras.Input((3,), name="x"),
            keras.layers.Dense(12, kernel_initializer=uniform, name="dense_1"),
            keras.layers.Activation("relu", name="relu_1"),
            keras.layers.Dense(3, kernel_initializer=uniform, name="dense_2"),
            keras.layers.Activation("relu", name="relu_2"),
            keras.layers.Dense(1, kernel_initializer=uniform, name="dense_out"),
            keras.layers.Activation("sigmoid", name="sigmoid_out"),
        ],
        name="so_39525358",
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["acc"])
    # 150 epochs of batch_size=1 in the original; the 13 rows are repeated 10x to run the same number of
    # single-sample steps in 15 epochs (Keras' per-epoch overhead dominates otherwise).
    model.fit(np.tile(x, (10, 1)), np.tile(y, (10, 1)), batch_size=1, epochs=15, callbacks=callbacks, verbose=0)
