"""Binary classifier (all-ones vs all-zeros vectors) with a one-unit softmax output: it never learns."""

import keras
import numpy as np

SOURCE = (
    "DeepFD benchmark case 10 (Stack Overflow question 31880720; program as copied in "
    "DeepLocalize's benchmark); also DeepDiagnosis' motivating example"
)
URL = "https://stackoverflow.com/questions/31880720"
FIX = (
    "DeepFD's patch replaces the softmax on the single output unit with sigmoid (and trains for more "
    "epochs); fault labels: activation, epoch."
)
MECHANISM = (
    "A softmax over one unit outputs 1 for every input, so the model's prediction ignores its input "
    "and accuracy stays at 50 %. In the original Keras the softmax's zero derivative also left every "
    "layer without gradient; Keras 3's binary cross-entropy reads the cached pre-softmax logit, so the "
    "loss still falls while the model's output stays constant."
)
HEALTHY = False
EXPECTED = [{"kind": "disconnected_gradient", "layer": "softmax_out"}]
ACCEPTABLE = ["vanishing_gradient"]

SEED = 31880720 % 10000


def run(run_dir: str, callbacks: list) -> None:
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)
    n = 300  # the original uses 10**4 of each
    x = np.concatenate([np.ones((n, 128)), np.zeros((n, 128))]).astype("float32")
    y = np.concatenate([np.ones(n), np.zeros(n)]).astype("float32").reshape(-1, 1)

    model = keras.Sequential(
        [
            keras.Input((128,), name="x"),
            keras.layers.Dense(50, activation="relu", name="dense_1"),
            keras.layers.Activation("relu", name="relu_1"),
            keras.layers.Dropout(0.2, name="dropout_1"),
            keras.layers.Dense(50, name="dense_2"),
            keras.layers.Activation("relu", name="relu_2"),
            keras.layers.Dropout(0.2, name="dropout_2"),
            keras.layers.Dense(1, name="dense_out"),
            keras.layers.Activation("softmax", name="softmax_out"),
        ],
        name="so_31880720",
    )
    model.compile(optimizer=keras.optimizers.RMSprop(), loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=1, epochs=2, callbacks=callbacks, verbose=0)
