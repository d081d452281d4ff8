"""Linear regression through a one-unit softmax output: the output is always 1, no weight ever gets a gradient."""

import keras
import numpy as np

SOURCE = (
    "DeepFD benchmark case 7 (Stack Overflow question 33969059); program as "
    "copied in DeepLocalize's benchmark, Benchmark/StackOverflow/"
)
URL = "https://stackoverflow.com/questions/33969059"
FIX = (
    "DeepFD's patch replaces the softmax on the single output unit with a linear activation (fault label: activation)."
)
MECHANISM = (
    "A softmax over one unit is exp(z)/exp(z) = 1 for every input, so the prediction is constant and "
    "its derivative with respect to z is exactly 0: no weight below it receives any gradient and the "
    "MSE never moves. (The inputs are also unscaled, 0-10000, which saturates the tanh layers.)"
)
HEALTHY = False
EXPECTED = [{"kind": "disconnected_gradient", "layer": "softmax_out"}]
ACCEPTABLE = ["input_scale", "saturated_activation", "vanishing_gradient"]

SEED = 33969059 % 10000


def run(run_dir: str, callbacks: list) -> None:
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    ws = np.array([2.0, 1.0, 0.5], "float32")
    x = (10000 * rng.random((4000, 3))).astype("float32")  # get_data(count, ws, 2.2, bounds=10000)
    y = (x @ ws + 2.2).reshape(-1, 1).astype("float32")

    uniform = keras.initializers.RandomUniform(-0.05, 0.05)  # Keras 1 init='uniform'
    model = keras.Sequential(
        [
            keras.Input((3,), name="x"),
            keras.layers.Dense(3, kernel_initializer=uniform, name="dense_1"),
            keras.layers.Activation("tanh", name="tanh_1"),
            keras.layers.Dropout(0.5, name="dropout_1"),
            keras.layers.Dense(2, kernel_initializer=uniform, name="dense_2"),
            keras.layers.Activation("tanh", name="tanh_2"),
            keras.layers.Dropout(0.5, name="dropout_2"),
            keras.layers.Dense(1, kernel_initializer=uniform, name="dense_out"),
            keras.layers.Activation("softmax", name="softmax_out"),
        ],
        name="so_33969059",
    )
    # SGD(lr=0.1, decay=1e-6, momentum=0.9, nesterov=True); Keras 3 expresses `decay` as a schedule.
    lr = keras.optimizers.schedules.InverseTimeDecay(0.1, decay_steps=1, decay_rate=1e-6)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=lr, momentum=0.9, nesterov=True), loss="mean_squared_error"
    )
    model.fit(x, y, batch_size=32, epochs=2, callbacks=callbacks, verbose=0)
