"""Subprocess body: `python callback_dies_worker.py MODE LOG_DIR`; training dies at step 5 without
any flush from Python (os._exit), so only what the callback flushed in-graph is on disk.

MODE "nan_input": batch 5 holds a NaN input; TerminateOnNaN is on.
MODE "nan_grad": batch 5 is all zeros under sqrt(h^2) (a finite loss, NaN gradients).
MODE "nan_grad_accumulated": the same with an optimizer accumulating 4 steps' gradients (the
  NaN would reach the weights only at step 7).
MODE "interrupt": Ctrl-C (KeyboardInterrupt) before step 3; the process exits through it.
MODE "determinism": prints, per output head (and for an LSTM fed by the model input), whether
  weights after 16 steps are bit-identical with/without the callback.
"""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np
import tensorflow as tf

mode, log_dir = sys.argv[1], sys.argv[2]
if mode == "determinism":
    tf.config.experimental.enable_op_determinism()

import keras  # noqa: E402

from tb_gradcause import GradCauseCallback  # noqa: E402

warnings.filterwarnings("error", message="tb_gradcause")  # a logging failure fails the test


class SqrtSquare(keras.layers.Layer):
    def call(self, h):
        return keras.ops.sqrt(keras.ops.square(h))  # d/dh at h = 0 is NaN


class DieAt(keras.callbacks.Callback):
    def __init__(self, step: int):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if batch >= self.step:
            raise RuntimeError("training died")


def data(n=128):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)).astype("float32"), rng.normal(size=(n, 1)).astype("float32")


def die():
    x, y = data()
    if mode == "nan_input":
        x[5 * 16 + 3, 2] = np.nan
        layers = [keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)]
    else:
        x[5 * 16 : 6 * 16] = 0.0
        layers = [keras.layers.Dense(8, use_bias=False), SqrtSquare(), keras.layers.Dense(1)]
    model = keras.Sequential([keras.Input((4,))] + layers)
    accumulate = 4 if mode == "nan_grad_accumulated" else None
    model.compile(keras.optimizers.SGD(0.01, gradient_accumulation_steps=accumulate), "mse")
    callbacks = [GradCauseCallback(log_dir, every_n_steps=100), keras.callbacks.TerminateOnNaN(), DieAt(5)]
    try:
        model.fit(x, y, batch_size=16, shuffle=False, epochs=1, verbose=0, callbacks=callbacks)
    except RuntimeError:
        pass
    os._exit(0)  # no atexit, no writer destructor: nothing flushed from Python


# Output heads: a regression, and classifiers whose Keras loss reads the logits of the softmax
# or sigmoid (a capture must leave that path as it is).
HEADS = {
    "regression": (lambda: keras.layers.Dense(1), "mse", lambda y: y),
    "softmax": (
        lambda: keras.layers.Dense(3, activation="softmax"),
        "sparse_categorical_crossentropy",
        lambda y: (y[:, 0] > 0) + (y[:, 0] > 1),
    ),
    "sigmoid": (
        lambda: keras.layers.Dense(1, activation="sigmoid"),
        "binary_crossentropy",
        lambda y: (y > 0).astype("float32"),
    ),
}


def weights_after_training(with_callback: bool, head: str, log_dir: str) -> list[np.ndarray]:
    keras.utils.set_random_seed(1)
    x, y = data()
    if head == "lstm":  # its input's probe is anchored to its kernel on full steps (`hooks._probe`)
        x, loss, target = x[:, :, None], "mse", lambda y: y
        model = keras.Sequential([keras.Input((4, 1)), keras.layers.LSTM(8, dropout=0.3), keras.layers.Dense(1)])
    else:
        output, loss, target = HEADS[head]
        model = keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dropout(0.3), output()]
        )
    model.compile(keras.optimizers.Adam(0.01), loss)
    callbacks = [GradCauseCallback(log_dir, every_n_steps=2)] if with_callback else []
    model.fit(x, target(y), batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=callbacks)
    return [v.numpy() for v in model.weights]


def interrupt():
    x, y = data()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    model.compile("sgd", "mse")

    class CtrlC(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 3:
                raise KeyboardInterrupt

    model.fit(
        x, y, batch_size=16, epochs=1, verbose=0, callbacks=[GradCauseCallback(log_dir, every_n_steps=1), CtrlC()]
    )


if mode == "interrupt":
    interrupt()
elif mode == "determinism":
    for head in [*HEADS, "lstm"]:
        plain = weights_after_training(False, head, log_dir)
        logged = weights_after_training(True, head, os.path.join(log_dir, head) if head != "regression" else log_dir)
        same = all(a.tobytes() == b.tobytes() for a, b in zip(plain, logged))
        print(head, "IDENTICAL" if same else "DIFFERENT")
else:
    die()
