"""1-feature classifier (x ~ 15000-25000) ending in Dense(1) + softmax, trained on MAE: nothing moves."""

import keras
import numpy as np

SOURCE = (
    "DeepFD benchmark case 26 (Stack Overflow question 45442843); program as "
    "copied in DeepLocalize's benchmark, Benchmark/StackOverflow/"
)
URL = "https://stackoverflow.com/questions/45442843"
FIX = (
    "DeepFD's patch switches the loss from MAE to MSE and RMSprop to Adam; its fault labels are loss, "
    "optimizer, activation (the one-unit softmax output) and epoch."
)
MECHANISM = (
    "The output layer is a softmax over one unit, which is identically 1: the prediction ignores the "
    "input, the MAE is the constant fraction of negative labels and its gradient through the softmax "
    "is exactly 0, so no weight ever changes. (The single feature is also unscaled, ~2e4, and "
    "saturates the first sigmoid.)"
)
HEALTHY = False
EXPECTED = [{"kind": "disconnected_gradient", "layer": "softmax_out"}]
ACCEPTABLE = ["input_scale", "saturated_activation", "vanishing_gradient"]

SEED = 7


def run(run_dir: str, callbacks: list) -> None:
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    # dataset.csv: one integer feature in 15000-25000 and a 0/1 label; label 1 clusters around 17400,
    # label 0 around 22500 (std ~1400). The header line leaves 999 rows; the first 80 % train.
    n = 999
    label = (rng.random(n) < 0.49).astype("float32")
    x = np.clip(np.where(label == 1, rng.normal(17400, 1400, n), rng.normal(22500, 1450, n)), 15000, 25000)
    x = x.round().astype("float32").reshape(-1, 1)
    n_train = int(n * 0.8)
    x, y = x[:n_train], label[:n_train].reshape(-1, 1)

    model = keras.Sequential(
        [
            keras.Input((1,), name="x"),
            keras.layers.Dense(1, name="dense_1"),
            keras.layers.Activation("sigmoid", name="sigmoid_1"),
            keras.layers.Dense(1, kernel_initializer=keras.initializers.RandomNormal(stddev=0.05), name="dense_out"),
            keras.layers.Activation("softmax", name="softmax_out"),
        ],
        name="so_45442843",
    )
    model.compile(loss="mean_absolute_error", optimizer="rmsprop", metrics=["accuracy"])
    # 100 epochs of 4 batches in the original; the rows are repeated 10x to run the same steps in 10 epochs.
    model.fit(np.tile(x, (10, 1)), np.tile(y, (10, 1)), batch_size=200, epochs=10, callbacks=callbacks, verbose=0)
