"""MNIST CNN that applies ReLU to its logits layer before softmax cross-entropy: the logits die, accuracy stalls."""

import keras

from . import _common

SOURCE = (
    "Stack Overflow 43239467 (reproduced as StackOverflow/IPS-11 in Zhang et al., ISSTA 2018, TensorFlow-Program-Bugs)"
)
URL = "https://stackoverflow.com/questions/43239467"
FIX = "no activation on the last fully connected layer (fc_layer(fc1, 1024, 10, 'fc2', activation=None))"
MECHANISM = (
    "fc_layer always applies ReLU, including to the 10 logits. Softmax cross-entropy pushes the "
    "logits of the wrong classes down; once they are negative the ReLU outputs 0 with zero "
    "gradient, so those units stop learning and the logits collapse to 0 for most inputs."
)
HEALTHY = False
EXPECTED = [{"kind": "dead_relu", "layer": "fc2"}]
ACCEPTABLE = ["vanishing_gradient", "disconnected_gradient"]

SEED = 43


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(SEED)
    x, labels = _common.mnist_like(rng, 3000)
    y = _common.one_hot(labels, 10)
    w_init = keras.initializers.TruncatedNormal(stddev=0.1)
    b_init = keras.initializers.Constant(0.1)
    # scaled down from conv 32/64 and fc 1024
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1), name="x_image"),
            keras.layers.Conv2D(
                16,
                5,
                padding="same",
                activation="relu",
                kernel_initializer=w_init,
                bias_initializer=b_init,
                name="conv1",
            ),
            keras.layers.MaxPooling2D(2, padding="same", name="pool1"),
            keras.layers.Conv2D(
                32,
                5,
                padding="same",
                activation="relu",
                kernel_initializer=w_init,
                bias_initializer=b_init,
                name="conv2",
            ),
            keras.layers.MaxPooling2D(2, padding="same", name="pool2"),
            keras.layers.Flatten(name="flattened"),
            keras.layers.Dense(256, activation="relu", kernel_initializer=w_init, bias_initializer=b_init, name="fc1"),
            keras.layers.Dense(10, activation="relu", kernel_initializer=w_init, bias_initializer=b_init, name="fc2"),
        ],
        name="mnist_model",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    _common.fit(model, x, y, callbacks, epochs=5, batch_size=100, shuffle=True)
