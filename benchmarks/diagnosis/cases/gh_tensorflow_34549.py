"""MNIST CNN with a custom layer whose `tf.custom_gradient` returns `tf.gradients(result, x)`: the upstream gradient is ignored."""

import keras
import tensorflow as tf

from . import _common

SOURCE = (
    "GitHub tensorflow/tensorflow issue 34549 ('Dynamic assignment of tensor elements fails in custom "
    "layer'), comment of 2019-11-26 on the custom gradient of the thread's custom layer"
)
URL = "https://github.com/tensorflow/tensorflow/issues/34549"
FIX = (
    "none was given in the thread. The commenter's custom_grad(dy) returns tf.gradients(result, x) and "
    "leaves `dy` unused (`#grad = dy`); by the chain rule the gradient function must return the upstream "
    "gradient times the local derivative, tf.gradients(result, x, grad_ys=dy) (tf.custom_gradient docs)"
)
MECHANISM = (
    "'If you add this modification at your custom_grad function, the training does not converge (loss "
    "stuck at about 2)': the gradient passed to the layers before the custom layer is d sum(result) / dx, "
    "the same whatever the loss says, so the convolution learns nothing useful and the loss stays near "
    "chance (ln 10 = 2.3) on 10-class MNIST."
)
HEALTHY = False
EXPECTED = [{"kind": "wrong_gradient", "layer": "custom_layer"}]
# the layers before it follow a gradient that does not depend on the loss: their weights drift steadily
ACCEPTABLE = ["learning_rate_too_high", "exploding_gradient"]

SEED = 34549


def out_res(x):
    """The thread's forward computation is not shown; stood in by an element-wise gain written with
    tf.where, the assignment-style op of the issue's title (positive elements kept, others scaled)."""
    return tf.where(x > 0, x, 0.3 * x)


@tf.custom_gradient
def custom_op(x):
    result = out_res(x)  # do forward computation

    def custom_grad(dy):
        grads = tf.gradients(result, x)
        # grad = dy # compute gradient
        return grads

    return result, custom_grad


class CustomLayer(keras.layers.Layer):
    def call(self, inputs):
        return custom_op(inputs)


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(SEED)
    x, labels = _common.mnist_like(rng, 2048)  # MNIST: 60,000 images
    y = _common.one_hot(labels, 10)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1), name="image"),
            keras.layers.Conv2D(32, 3, name="conv"),
            CustomLayer(name="custom_layer"),
            keras.layers.MaxPooling2D(2, name="pool"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(10, activation="softmax", name="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    _common.fit(model, x, y, callbacks, epochs=2, batch_size=64)
