"""wrong_gradient on real Keras: hand-written gradients checked against finite differences once.

Buggy programs: a `tf.custom_gradient` softplus whose gradient is zero (tensorflow/tensorflow
#42311: the custom gradient returned 0 and the generator never learned), sign-flipped, ignoring the
upstream gradient, or twice the derivative; each in a custom layer between ordinary ones, found at
that layer; a gated unit of two inputs whose gate input gets no gradient, found at that input.
Healthy controls, silent: a straight-through estimator (`x + stop_gradient(sign(x) - x)`) and its
`tf.custom_gradient` form (sign forward, clipped identity backward), `stop_gradient` on a target
branch, a frozen custom layer, a correct `tf.custom_gradient` (a stable log1pexp), a Dense-like
custom layer with ReLU kinks, a gradient reversal layer (identity forward, negated gradient by
design), and Keras' own layers checked with `gradient_check="all"`.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import tb_gradcause
from tb_gradcause.analysis import engine, reader

pytestmark = pytest.mark.filterwarnings("error:tb_gradcause")  # a logging failure must not pass silently

N, B, F = 32, 16, 6


def _softplus(bug: str):
    """softplus(x) = log(1 + e^x) with a hand-written gradient, correct or with `bug`."""

    @tf.custom_gradient
    def softplus(x):
        s = tf.sigmoid(x)

        def grad(dy):
            return {
                "none": dy * s,
                "zero": tf.zeros_like(x),
                "sign": -dy * s,
                "upstream": s,
                "magnitude": 2.0 * dy * s,
            }[bug]

        return tf.maximum(x, 0.0) + tf.math.log1p(tf.exp(-tf.abs(x))), grad

    return softplus


class Softplus(keras.layers.Layer):
    def __init__(self, bug: str = "none", **kwargs):
        super().__init__(**kwargs)
        self.fn = _softplus(bug)

    def call(self, x):
        return self.fn(x)


class MyDense(keras.layers.Layer):
    """An ordinary custom layer: a kernel, a bias and a ReLU (kinks where units cross 0)."""

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform", name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, x):
        return tf.nn.relu(tf.matmul(x, self.kernel) + self.bias)


class StraightThrough(keras.layers.Layer):
    """Binarize forward, identity backward: the surrogate gradient is the design."""

    def call(self, x):
        return x + tf.stop_gradient(tf.sign(x) - x)


class CenterOnDetachedMean(keras.layers.Layer):
    """Subtract the batch mean held fixed (a target branch under `stop_gradient`)."""

    def call(self, x):
        return x - tf.stop_gradient(tf.reduce_mean(x, axis=0))


@tf.custom_gradient
def _log1pexp(x):
    """The `tf.custom_gradient` docs' numerically stable log(1 + e^x)."""
    e = tf.exp(x)

    def grad(upstream):
        return upstream * (1 - 1 / (1 + e))

    return tf.math.log(1 + e), grad


@tf.custom_gradient
def _ste_sign(x):
    """Larq-style binarization: sign forward, the clipped identity backward (a surrogate)."""
    return tf.sign(x), lambda dy: dy * tf.cast(tf.abs(x) <= 1, dy.dtype)


@tf.custom_gradient
def _reverse(x):
    """Gradient reversal (domain-adversarial training): identity forward, -dy backward."""
    return tf.identity(x), lambda dy: -0.5 * dy


def _model(middle: keras.layers.Layer) -> keras.Model:
    inputs = keras.Input((F,), name="x")
    h = MyDense(8, name="features")(inputs)
    h = middle(h)
    outputs = keras.layers.Dense(1, name="head")(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    return model


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, F)).astype("float32")
    return x, (x[:, :1] - 0.5 * x[:, 1:2]).astype("float32")


def _fit(tmp_path, model: keras.Model, **callback_args) -> str:
    keras.utils.set_random_seed(0)
    x, y = _data()
    log_dir = os.fspath(tmp_path / "run")
    model.fit(
        x, y, batch_size=B, epochs=1, verbose=0, callbacks=[tb_gradcause.GradCauseCallback(log_dir, **callback_args)]
    )
    return log_dir


def _diagnosis(log_dir: str) -> tuple[list[dict], reader.RunData]:
    [run] = reader.read_logdir(log_dir).values()
    result = engine.analyze(run)
    return [e for e in result["events"] if e["kind"] == "wrong_gradient"], run


@pytest.mark.parametrize(
    ("bug", "says"),
    [
        ("zero", "is zero where the function changes"),
        ("sign", "has the wrong sign"),
        ("upstream", "ignores the upstream gradient"),
        ("magnitude", "has the wrong magnitude"),
    ],
)
def test_a_wrong_custom_gradient_is_found_at_its_layer(tmp_path, bug, says):
    keras.utils.set_random_seed(0)
    events, run = _diagnosis(_fit(tmp_path, _model(Softplus(bug, name="act"))))
    [event] = events
    assert event["layer"] == "act" and event["severity"] == "error" and event["first_step"] == 0
    assert says in event["title"] and "its input" in event["title"]
    first = event["evidence"][0]
    if bug == "upstream":  # twice the upstream gradient, the same gradient
        assert first["metric"] == "gradient_check.upstream_ratio" and abs(first["value"] - 1) < 0.01
    else:
        assert first["metric"] == "gradient_check.rel_error" and first["value"] > 0.3
    checked = {row.name for row in run["gradient_check"].rows}
    assert checked == {"features/input", "features/weights", "act/input"}  # not head (Dense)


class Gate(keras.layers.Layer):
    """A gated unit of two inputs, a * sigmoid(b), with its gradient written by hand; `bug`
    "forgot_gate" leaves the gate's input without gradient (its branch never learns)."""

    def __init__(self, bug: str = "none", **kwargs):
        super().__init__(**kwargs)
        self.bug = bug

    def call(self, inputs):
        a, b = inputs

        @tf.custom_gradient
        def gate(a, b):
            s = tf.sigmoid(b)
            db = (lambda dy: tf.zeros_like(b)) if self.bug == "forgot_gate" else (lambda dy: dy * a * s * (1 - s))
            return a * s, lambda dy: (dy * s, db(dy))

        return gate(a, b)


def _gated_model(gate: keras.layers.Layer) -> keras.Model:
    inputs = keras.Input((F,), name="x")
    a = keras.layers.Dense(8, name="value")(inputs)
    b = keras.layers.Dense(8, name="gate_in")(inputs)
    outputs = keras.layers.Dense(1, name="head")(gate([a, b]))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    return model


def test_a_layer_of_two_inputs_is_checked_per_input(tmp_path):
    """Each float input is its own row: the one whose gradient is missing is named, the other is not."""
    keras.utils.set_random_seed(0)
    events, run = _diagnosis(_fit(tmp_path / "bug", _gated_model(Gate("forgot_gate", name="gate"))))
    [event] = events
    assert event["layer"] == "gate" and "its input 1" in event["title"] and "is zero" in event["title"]
    assert {row.name for row in run["gradient_check"].rows} == {"gate/input_0", "gate/input_1"}
    keras.utils.set_random_seed(0)
    events, _ = _diagnosis(_fit(tmp_path / "ok", _gated_model(Gate(name="gate"))))
    assert events == []


HEALTHY = {
    "straight_through": lambda: StraightThrough(name="mid"),
    "stop_gradient_target": lambda: CenterOnDetachedMean(name="mid"),
    "frozen": lambda: MyDense(8, name="mid", trainable=False),
    "log1pexp": lambda: keras.layers.Lambda(_log1pexp, name="mid"),
    "correct_softplus": lambda: Softplus(name="mid"),
    "gradient_reversal": lambda: keras.layers.Lambda(_reverse, name="mid"),
    "ste_sign": lambda: keras.layers.Lambda(_ste_sign, name="mid"),
}


@pytest.mark.parametrize("control", sorted(HEALTHY))
def test_healthy_custom_layers_are_silent(tmp_path, control):
    keras.utils.set_random_seed(0)
    events, run = _diagnosis(_fit(tmp_path, _model(HEALTHY[control]())))
    assert events == []
    assert any(row.layer == "mid" for row in run["gradient_check"].rows)  # checked, not skipped


def test_every_layer_with_all_and_none_with_built_in_layers_by_default(tmp_path):
    def dense_model() -> keras.Model:
        model = keras.Sequential(
            [keras.Input((F,)), keras.layers.Dense(8, activation="relu", name="d1"), keras.layers.Dense(1, name="d2")]
        )
        model.compile(optimizer="sgd", loss="mse")
        return model

    keras.utils.set_random_seed(0)
    events, run = _diagnosis(_fit(tmp_path / "all", dense_model(), gradient_check="all"))
    assert events == [] and {row.layer for row in run["gradient_check"].rows} == {"d1", "d2"}
    keras.utils.set_random_seed(0)
    _, run = _diagnosis(_fit(tmp_path / "default", dense_model()))
    assert run.get("gradient_check") is None


def test_the_check_leaves_training_alone(tmp_path):
    """Same weights after training with and without the check: it reads the weights, never
    assigns them, and draws no random numbers from the layers' or the global RNG state."""

    def trained(**callback_args) -> list[np.ndarray]:
        keras.utils.set_random_seed(0)
        inputs = keras.Input((F,))
        h = MyDense(8, name="features")(inputs)
        h = keras.layers.Dropout(0.5, seed=1)(h)
        model = keras.Model(inputs, keras.layers.Dense(1)(Softplus("zero", name="act")(h)))
        model.compile(optimizer="adam", loss="mse")
        _fit(tmp_path / str(callback_args), model, **callback_args)
        return model.get_weights()

    for a, b in zip(trained(), trained(gradient_check=None), strict=True):
        np.testing.assert_array_equal(a, b)


def test_under_xla_the_check_is_skipped(tmp_path):
    keras.utils.set_random_seed(0)
    model = _model(Softplus("zero", name="act"))
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    _, run = _diagnosis(_fit(tmp_path, model))
    assert run.get("gradient_check") is None and run.get("gradients") is not None
