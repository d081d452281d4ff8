"""XOR with two sigmoid layers and a one-unit softmax output, MSE and SGD(lr=0.001): the loss never moves."""

import keras
import numpy as np

SOURCE = (
    "DeepFD benchmark case 9 (Stack Overflow question 34311586); program as "
    "copied in DeepLocalize's benchmark, Benchmark/StackOverflow/"
)
URL = "https://stackoverflow.com/questions/34311586"
FIX = (
    "DeepFD's patch replaces SGD(lr=0.001, momentum=0.9, nesterov=True) with Adam(lr=0.001); its fault "
    "labels are learning rate, activation (the one-unit softmax output), initialization, epoch and batch size."
)
MECHANISM = (
    "The output is a softmax over a single unit, identically 1 for every input: the predictions "
    "ignore the input, the MSE is fixed at the share of 0-labels, and the softmax's zero derivative "
    "leaves every layer below it without gradient."
)
HEALTHY = False
EXPECTED = [{"kind": "disconnected_gradient", "layer": "softmax_out"}]
ACCEPTABLE = ["vanishing_gradient"]

SEED = 34311586 % 10000


def run(run_dir: str, callbacks: list) -> None:
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)
    x = np.array([[1, 1], [0, 0], [1, 0], [0, 1], [1, 1], [0, 0]], "float32")
    y = np.array([[0], [0], [1], [1], [0], [0]], "float32")

    uniform = keras.initializers.RandomUniform(-0.05, 0.05)  # init='uniform'
    model = keras.Sequential(
        [
            keras.Input((2,), name="x"),
            keras.layers.Dense(2, kernel_initializer=uniform, name="dense_1"),
            keras.layers.Activation("sigmoid", name="sigmoid_1"),
            keras.layers.Dense(3, kernel_initializer=uniform, name="dense_2"),
            keras.layers.Activation("sigmoid", name="sigmoid_2"),
            keras.layers.Dense(1, kernel_initializer=uniform, name="dense_out"),
            keras.layers.Activation("softmax", name="softmax_out"),
        ],
        name="so_34311586",
    )
    lr = keras.optimizers.schedules.InverseTimeDecay(0.001, decay_steps=1, decay_rate=1e-6)  # decay=1e-6
    model.compile(
        loss="mean_squared_error", optimizer=keras.optimizers.SGD(learning_rate=lr, momentum=0.9, nesterov=True)
    )
    # The original runs nb_epoch=20 full-batch steps on the 6 rows; here the rows are repeated 320x and
    # trained for 3 epochs of 60 shuffled 32-row batches (180 steps), enough to see that nothing changes.
    model.fit(np.tile(x, (320, 1)), np.tile(y, (320, 1)), batch_size=32, epochs=3, callbacks=callbacks, verbose=0)
