"""Linear-regression MLP whose single output unit has a softmax: the prediction is always 1, MSE never moves."""

import keras
import numpy as np

from . import _common

SOURCE = "DeepLocalize benchmark, Stack Overflow 33969059"
URL = "https://stackoverflow.com/questions/33969059"
FIX = "Dense(1, activation='linear') as the output instead of Dense(1) + Activation('softmax')"
MECHANISM = ("Softmax over one unit is exp(z)/exp(z) = 1 for every sample, so the network's prediction "
             "ignores its input and the derivative of the output with respect to everything before it is "
             "exactly 0: with mean_squared_error no weight gets a gradient and the loss stays at mean((y-1)^2).")
HEALTHY = False
EXPECTED = [{"kind": "disconnected_gradient", "layer": "output_softmax"}]
# inputs of 0..10000 into tanh units are a second, unlabelled problem the fix left in place
ACCEPTABLE = ["saturated_activation", "input_scale", "vanishing_gradient"]

SEED = 59
WS, XNO = np.array([2.0, 1.0, 0.5]), 2.2


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(SEED)
    n = 2000                                                      # the original trains on 100000 rows
    x = (10000 * rng.random((n, 3))).astype("float32")            # get_data(..., bounds=10000)
    y = (x @ WS + XNO).astype("float32")[:, None]
    init = keras.initializers.RandomUniform(-0.05, 0.05)          # Keras 1 init='uniform'
    model = keras.Sequential([
        keras.Input(shape=(3,), name="x"),
        keras.layers.Dense(3, kernel_initializer=init, name="dense_1"),
        keras.layers.Activation("tanh", name="tanh_1"),
        keras.layers.Dropout(0.5, name="dropout_1"),
        keras.layers.Dense(2, kernel_initializer=init, name="dense_2"),
        keras.layers.Activation("tanh", name="tanh_2"),
        keras.layers.Dropout(0.5, name="dropout_2"),
        keras.layers.Dense(1, kernel_initializer=init, name="dense_out"),
        keras.layers.Activation("softmax", name="output_softmax"),
    ], name="regression_mlp")
    # SGD(lr=0.1, decay=1e-6, momentum=0.9, nesterov=True); the 1e-6 decay is negligible here
    sgd = keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True)
    model.compile(loss="mean_squared_error", optimizer=sgd)
    _common.fit(model, x, y, callbacks, epochs=5, batch_size=32, shuffle=True)
