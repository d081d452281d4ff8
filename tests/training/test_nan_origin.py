"""The NaN's op and source line on real Keras training: the first non-finite step replayed eagerly.

Buggy programs: an `exp` in a custom layer overflowing (the `rate` layer of a Poisson model, as in
the demo), log(0) in a hand-written loss, a `Lambda` taking the sqrt of a negative value, an input
batch holding NaN (the origin is the input), and the XLA path (not replayed, with its reason).
Healthy control: no record, nothing kept, no replay. The replay must leave training as it was:
weights, optimizer, batch-norm statistics and the dropout seed state after a fit whose last step
turns non-finite equal those of the same fit without the replay.
"""

from __future__ import annotations

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

import tb_gradcause
from tb_gradcause.analysis import reader
from tb_gradcause.analysis.detectors import nan_inf
from tb_gradcause.capture import nan_origin

pytestmark = pytest.mark.filterwarnings("error:tb_gradcause")  # a logging failure must not pass silently

B = 8


def _line_of(function, text: str) -> int:
    """The line of `function`'s source holding `text`."""
    lines, start = inspect.getsourcelines(function)
    return start + next(i for i, line in enumerate(lines) if text in line)


class Rate(keras.layers.Layer):
    """A Poisson rate exp(w.x + b): overflows float32 once w.x + b passes ~88."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.linear = keras.layers.Dense(1)

    def build(self, input_shape):
        self.linear.build(input_shape)  # now, not lazily in the first step (which retraces)

    def call(self, x):
        return tf.math.exp(self.linear(x))


def log_loss(y_true, y_pred):
    """A hand-written cross-entropy of probabilities: log(0) when a prediction is exactly 0."""
    return -keras.ops.mean(y_true * keras.ops.log(y_pred), axis=-1)


def exp_target_loss(y_true, y_pred):
    """A squared error against targets given as logs: exp overflows on a target above ~88."""
    return keras.ops.mean(keras.ops.square(y_pred - keras.ops.exp(y_true)), axis=-1)


def _fit(model, x, y, log_dir, epochs=1, **kwargs):
    callback = tb_gradcause.GradCauseCallback(str(log_dir), **kwargs)
    model.fit(x, y, batch_size=B, epochs=epochs, verbose=0, shuffle=False, callbacks=[callback])
    return callback, reader.read_logdir(str(log_dir))["train"]


def _origin(run):
    """The one `nan_origin` row and its values."""
    series = run.get("nan_origin")
    assert series is not None, "no nan_origin record"
    assert len(series.steps) == 1 and len(series.rows) == 1
    return int(series.steps[0]), series.rows[0], dict(zip(series.stats, series.values[0, 0]))


def _rate_model(jit_compile=False):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="hidden"), Rate(name="rate")])
    model.compile(keras.optimizers.SGD(0.01), "mse", jit_compile=jit_compile)
    x = np.random.default_rng(0).normal(size=(6 * B, 3)).astype(np.float32)
    x[3 * B :] *= 1e4  # from step 3 the rate's argument passes 88 for some rows: exp overflows
    return model, x, np.ones((6 * B, 1), np.float32)


def test_exp_overflow_in_a_custom_layer_names_the_op_layer_and_line(tmp_path, monkeypatch):
    replays = []
    locate = nan_origin.locate
    monkeypatch.setattr(nan_origin, "locate", lambda *a: replays.append(a) or locate(*a))
    model, x, y = _rate_model()
    callback, run = _fit(model, x, y, tmp_path)
    step, row, values = _origin(run)
    assert step == 3 and len(replays) == 1  # the first bad step only, though steps 4 and 5 are bad too
    assert callback._origin.kept is None  # pylint: disable=protected-access  # nor kept after it
    line = _line_of(Rate.call, "tf.math.exp")
    assert (row.layer, row.layer_class) == ("rate", "Rate")
    assert row.facts["op"] == "Exp" and row.facts["phase"] == "forward"
    assert row.facts["source"] == f"test_nan_origin.py:{line}" and row.facts["source_of"] == "user"
    assert row.facts["code"] == "return tf.math.exp(self.linear(x))"
    assert values["found"] == 1 and values["inf"] > 0 and values["size"] == B
    (cause,) = nan_inf.detect(run)
    assert cause.layer == "rate" and cause.first_step == 3
    assert f"`Exp` in rate (Rate), test_nan_origin.py:{line}" in cause.title
    assert cause.advice.startswith("Replayed eagerly, step 3's first op to produce NaN/Inf is `Exp`")
    assert "float32 exp overflows" in cause.advice
    assert any(e.metric == "nan_origin.found" and e.value == 1 for e in cause.evidence)


def test_log_of_zero_in_a_custom_loss(tmp_path):
    keras.utils.set_random_seed(2)
    dead = keras.layers.Dense(1, activation="relu", bias_initializer=keras.initializers.Constant(-100.0))
    model = keras.Sequential([keras.Input((3,)), dead])
    model.compile(keras.optimizers.SGD(0.01), log_loss)
    x = np.random.default_rng(1).normal(size=(2 * B, 3)).astype(np.float32)
    _, run = _fit(model, x, np.ones((2 * B, 1), np.float32), tmp_path)
    step, row, _ = _origin(run)
    assert step == 0 and row.facts["op"] == "Log" and row.facts["phase"] == "loss" and row.layer == ""
    assert row.facts["source"] == f"test_nan_origin.py:{_line_of(log_loss, 'keras.ops.log')}"
    (cause,) = nan_inf.detect(run)
    assert "`Log` in the loss" in cause.title and "log of 0 is -Inf" in cause.advice


def test_sqrt_of_a_negative_value_in_a_lambda(tmp_path):
    keras.utils.set_random_seed(3)
    negative = keras.layers.Dense(2, bias_initializer=keras.initializers.Constant(-100.0), name="shift")
    root = keras.layers.Lambda(lambda t: tf.sqrt(t), name="root")  # the line the record names
    line = inspect.currentframe().f_lineno - 1
    model = keras.Sequential([keras.Input((3,)), negative, root, keras.layers.Dense(1, name="out")])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    x = np.random.default_rng(2).normal(size=(2 * B, 3)).astype(np.float32)
    _, run = _fit(model, x, np.zeros((2 * B, 1), np.float32), tmp_path)
    step, row, values = _origin(run)
    assert step == 0 and (row.layer, row.layer_class) == ("root", "Lambda")
    assert row.facts["op"] == "Sqrt" and row.facts["source"] == f"test_nan_origin.py:{line}"
    assert values["nan"] == 2 * B
    (cause,) = nan_inf.detect(run)
    assert cause.layer == "root" and "sqrt of a negative value is NaN" in cause.advice


def test_nan_in_the_input_batch_is_the_origin(tmp_path):
    model, x, y = _rate_model()
    x = np.tanh(x)
    x[2 * B + 1, 2] = np.nan  # step 2
    _, run = _fit(model, x, y, tmp_path, kinds=["loss", "inputs", "nan_origin"])
    step, row, values = _origin(run)
    assert step == 2 and row.facts["phase"] == "input" and row.facts["op"] == "input"
    assert values["found"] == 1 and values["nan"] == 1 and values["size"] == B * 3
    (cause,) = nan_inf.detect(run)
    assert "in the input batch" in cause.title and any(e.metric == "nan_origin.found" for e in cause.evidence)


def test_xla_is_not_replayed_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setattr(nan_origin, "locate", lambda *a: pytest.fail("replayed under XLA"))
    model, x, y = _rate_model(jit_compile=True)
    _, run = _fit(model, x, y, tmp_path, kinds=["loss", "nan_origin"])  # few stats to compile
    step, row, values = _origin(run)
    assert step == 3 and values["found"] == 0 and row.facts["reason"] == nan_origin.NOT_KEPT_XLA
    (cause,) = nan_inf.detect(run)
    (found,) = [e for e in cause.evidence if e.metric == "nan_origin.found"]
    assert found.value == 0 and "jit_compile" in found.note and "`Exp`" not in cause.title


def test_healthy_run_keeps_nothing_and_never_replays(tmp_path, monkeypatch):
    monkeypatch.setattr(nan_origin, "locate", lambda *a: pytest.fail("replayed a healthy run"))
    model, x, y = _rate_model()
    callback, run = _fit(model, np.tanh(x), y, tmp_path, gradient_check=None)  # its finite differences: not ours
    assert run.get("nan_origin") is None and run.get("gradients") is not None
    origin = callback._origin  # pylint: disable=protected-access
    assert origin is not None and origin.kept is None and origin.bad_step is None


def _dropout_bn_model():
    keras.utils.set_random_seed(4)
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(8, name="hidden"),
            keras.layers.BatchNormalization(name="norm"),
            keras.layers.Dropout(0.5, name="drop"),
            keras.layers.Dense(1, name="out"),
        ]
    )
    model.compile(keras.optimizers.Adam(0.01), exp_target_loss)
    x = np.random.default_rng(5).normal(size=(4 * B, 3)).astype(np.float32)
    y = np.zeros((4 * B, 1), np.float32)
    y[-1] = 1e3  # the last step's loss overflows: its replay runs at the end of training
    return model, x, y


def test_the_replay_leaves_weights_optimizer_statistics_and_seeds_as_training_left_them(tmp_path):
    states = []
    for kinds in (["loss", "weights", "nan_origin"], ["loss", "weights"]):
        model, x, y = _dropout_bn_model()
        _, run = _fit(model, x, y, tmp_path / str(len(states)), kinds=kinds)
        states.append([v.numpy() for v in model.variables + model.optimizer.variables])
        if len(states) == 1:
            assert _origin(run)[2]["found"] == 1  # replayed
    replayed, plain = states
    assert len(replayed) == len(plain)
    for a, b in zip(replayed, plain):
        np.testing.assert_array_equal(a, b)
