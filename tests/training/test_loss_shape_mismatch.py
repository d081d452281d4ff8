"""loss_shape_mismatch on real Keras: what the loss did with y_true and y_pred, read at trace time.

Buggy programs (keras-team/keras #19662 and #16836, Stack Overflow 38447935): a `keras.losses.Loss`
subclass broadcasting y_true (B,) against y_pred (B, 1), in `fit` (graph, eager) and in a
custom loop; class ids in losses that expect one-hot rows, which Keras accepts; one-hot rows read
as class ids by a hand-written sparse loss. Healthy controls: every built-in loss with matching
shapes (string and object forms), rank-3 sequence losses, sample weights, aligned custom losses,
losses that broadcast on purpose (quantiles, all pairs of equal-shaped inputs).
"""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

import tb_gradcause
from tb_gradcause.analysis import engine, reader
from tb_gradcause.capture import loss_check

pytestmark = pytest.mark.filterwarnings("error:tb_gradcause")  # a logging failure must not pass silently

B, C = 16, 4


class ManualMSE(keras.losses.Loss):
    """keras-team/keras #16836 in Keras 3 form: no rank alignment inside a Loss subclass."""

    def call(self, y_true, y_pred):
        return ops.mean(ops.square(y_pred - y_true), axis=-1)


class AlignedMSE(keras.losses.Loss):
    """The same loss with the fix: y_true reshaped to y_pred's shape."""

    def call(self, y_true, y_pred):
        y_true = ops.reshape(ops.cast(y_true, y_pred.dtype), ops.shape(y_pred))
        return ops.mean(ops.square(y_pred - y_true), axis=-1)


class Quantiles(keras.losses.Loss):
    """Pinball loss of 3 quantiles: a (B, 1) target against (B, 3) predictions, on purpose."""

    def call(self, y_true, y_pred):
        error = y_true - y_pred
        q = ops.convert_to_tensor([0.1, 0.5, 0.9])
        return ops.mean(ops.maximum(q * error, (q - 1) * error), axis=-1)


class AllPairs(keras.losses.Loss):
    """A kernel distance between the batch's predictions and targets: every pair, on purpose."""

    def call(self, y_true, y_pred):
        diff = ops.expand_dims(y_pred, 1) - ops.expand_dims(y_true, 0)
        return ops.mean(ops.exp(-ops.sum(ops.square(diff), axis=-1)), axis=-1)


class TakeSparse(keras.losses.Loss):
    """A hand-written sparse cross-entropy: y_true holds class ids, read as indices."""

    def call(self, y_true, y_pred):
        ids = ops.cast(ops.reshape(y_true, (-1, ops.shape(y_true)[-1])), "int32")
        return -ops.mean(ops.log(ops.take_along_axis(y_pred, ids, axis=-1) + 1e-7), axis=-1)


def _regression(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).normal(size=(n, 6)).astype("float32")
    return x, (2 * x[:, 0] - x[:, 1]).astype("float32")  # y of shape (n,)


def _classes(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(1).normal(size=(n, 6)).astype("float32")
    return x, np.argmax(x[:, :C], axis=1)  # class ids of shape (n,)


def _model(units: int = 1, activation: str | None = None) -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation="relu", name="hidden"),
            keras.layers.Dense(units, activation=activation, name="out"),
        ]
    )


def _fit(tmp_path, loss, x, y, units=1, activation=None, **compile_args) -> list[dict]:
    model = _model(units, activation)
    model.compile(keras.optimizers.Adam(0.01), loss=loss, **compile_args)
    model.fit(x, y, batch_size=B, epochs=1, verbose=0, callbacks=[tb_gradcause.GradCauseCallback(str(tmp_path))])
    return _events(os.path.join(tmp_path, "train"))


def _events(path: str, checked: bool = True) -> list[dict]:
    """The run's loss_shape_mismatch events (the check must have run, unless `checked` is False)."""
    [run] = reader.read_logdir(path).values()
    result = engine.analyze(run)
    assert ("loss_shape_mismatch" in result["checked"]) == checked, result["skipped"]
    return [e for e in result["events"] if e["kind"] == "loss_shape_mismatch"]


@pytest.mark.parametrize("mode", ["graph", "eager"])  # XLA (the records leave the compiled step) checked by hand
def test_a_loss_subclass_broadcasting_y_true_against_y_pred_is_an_error_at_step_0(tmp_path, mode):
    x, y = _regression()
    args = {"eager": {"run_eagerly": True}}.get(mode, {})
    [event] = _fit(tmp_path, ManualMSE(name="manual_mse"), x, y, **args)
    assert (event["severity"], event["layer"], event["first_step"]) == ("error", None, 0)
    assert "ManualMSE 'manual_mse'" in event["title"]
    assert f"y_true ({B},) against y_pred ({B}, 1)" in event["title"]
    assert f"Sub of {B}×1 and {B} gives {B}×{B}" in event["evidence"][0]["note"]
    assert "(N, 1)" in event["advice"]


def test_class_ids_in_a_one_hot_loss_are_a_warning(tmp_path):
    """Keras accepts labels (B, 1) against a (B, C) output in its KL divergence (and the losses of
    `test_the_class_axis_broadcast_is_found_in_losses_keras_accepts_it_in`): each id meets every class."""
    x, labels = _classes()
    [event] = _fit(tmp_path, "kl_divergence", x, labels[:, None].astype("float32"), units=C, activation="softmax")
    assert (event["severity"], event["first_step"]) == ("warning", 0)
    assert f"class ids ({B}, 1) where y_pred has {C} columns" in event["title"]
    assert f"to_categorical(y, {C})" in event["advice"]


def test_one_hot_rows_read_as_class_ids_are_a_warning(tmp_path):
    x, labels = _classes()
    one_hot = np.eye(C, dtype="float32")[labels]
    [event] = _fit(tmp_path, TakeSparse(), x, one_hot, units=C, activation="softmax")
    assert event["severity"] == "warning" and "reads one-hot labels" in event["title"]


def test_a_continuous_target_broadcast_across_quantiles_is_silent(tmp_path):
    x, y = _regression()
    assert _fit(tmp_path, Quantiles(), x, y[:, None], units=3) == []


@pytest.mark.parametrize("how", ["recorder", "summary_op"])
def test_in_a_custom_loop_the_recorder_and_the_summary_op_check_the_loss(tmp_path, how):
    x, y = _regression()
    model = _model()
    optimizer, loss_fn = keras.optimizers.Adam(0.01), ManualMSE(name="manual_mse")
    recorder = tb_gradcause.summary.ModelRecorder(model, optimizer)

    @tf.function
    def train_step(xb, yb, step):
        with recorder.watch(step, inputs=xb), tf.GradientTape() as tape:
            y_pred = model(xb, training=True)
            loss = recorder.loss(loss_fn, yb, y_pred) if how == "recorder" else loss_fn(yb, y_pred)
        if how == "summary_op":
            tb_gradcause.summary.loss_inputs(loss_fn, yb, y_pred, step=step)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        recorder.write(loss, grads)

    with tf.summary.create_file_writer(str(tmp_path)).as_default():
        for step in range(3):
            train_step(x[step * B : (step + 1) * B], y[step * B : (step + 1) * B], tf.constant(step, tf.int64))
    [event] = _events(str(tmp_path))
    assert event["first_step"] == 0 and f"y_true ({B},) against y_pred ({B}, 1)" in event["title"]


def test_a_failing_check_leaves_training_alone(tmp_path, monkeypatch):
    """Any error of the check is swallowed: the same weights, no warning, no loss_inputs record."""

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    x, y = _regression()
    weights = {}
    for name in ("plain", "broken"):
        if name == "broken":
            monkeypatch.setattr(loss_check, "inspect", broken)
        model = _model()
        model.compile(keras.optimizers.SGD(0.01), loss=ManualMSE())
        callbacks = [tb_gradcause.GradCauseCallback(str(tmp_path / name))] if name == "broken" else []
        model.fit(x, y, batch_size=B, epochs=1, verbose=0, shuffle=False, callbacks=callbacks)
        weights[name] = model.get_weights()
    for a, b in zip(weights["plain"], weights["broken"]):
        np.testing.assert_array_equal(a, b)
    assert _events(str(tmp_path / "broken" / "train"), checked=False) == []


def _traced_findings(loss, *cases: tuple) -> list[loss_check.Finding]:
    """What the loss hook finds in `fit`'s step for `model.compute_loss` with the compiled `loss`
    (no training: the same graph and the same check as the hook), one finding per case
    `(y shape, y dtype, y_pred shape[, sample weights])`, all traced at once."""
    model = keras.Sequential([keras.Input(cases[0][2][1:]), keras.layers.Identity()])
    model.compile("sgd", loss=loss)
    found: list[loss_check.Finding] = []

    @tf.function
    def trace(*tensors):
        for case, (y, y_pred) in zip(cases, zip(tensors[::2], tensors[1::2])):
            weights = tf.ones(tf.shape(y_pred)[: max(1, len(case[2]) - 1)]) if len(case) > 3 else None  # (B) or (B, T)
            value = model.compute_loss(None, y, y_pred, weights)
            [(finding, _)] = loss_check.for_model(model, model.compute_loss, (None, y, y_pred), {}, value)
            found.append(finding)

    trace.get_concrete_function(
        *[spec for y, dtype, pred, *_ in cases for spec in (tf.TensorSpec(y, dtype), tf.TensorSpec(pred, "float32"))]
    )
    return found


REGRESSION = [
    "mse",
    "mae",
    "mape",
    "msle",
    "huber",
    "log_cosh",
    "poisson",
    "cosine_similarity",
    "hinge",
    "squared_hinge",
]
REGRESSION_OBJECTS = [
    keras.losses.MeanSquaredError(),
    keras.losses.MeanAbsoluteError(),
    keras.losses.MeanAbsolutePercentageError(),
    keras.losses.MeanSquaredLogarithmicError(),
    keras.losses.Huber(),
    keras.losses.LogCosh(),
    keras.losses.Poisson(),
    keras.losses.CosineSimilarity(),
    keras.losses.Hinge(),
    keras.losses.SquaredHinge(),
    keras.losses.BinaryCrossentropy(),
    keras.losses.BinaryFocalCrossentropy(),
    AlignedMSE(),
]
ONE_HOT = [
    "categorical_crossentropy",
    "kl_divergence",
    "categorical_hinge",
    keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
    keras.losses.CategoricalFocalCrossentropy(),
    keras.losses.KLDivergence(),
    keras.losses.CategoricalHinge(),
    keras.losses.Dice(),
    keras.losses.Tversky(),
    "binary_crossentropy",  # multi-label
]


def _silent(findings: list[loss_check.Finding]) -> bool:
    return not any(f.broadcast or f.labels_broadcast or f.labels_as_index for f in findings)


def test_built_in_losses_on_one_target_column_are_silent():
    for loss in REGRESSION + ["binary_crossentropy"] + REGRESSION_OBJECTS:
        # (B,) against (B, 1): Keras aligns the ranks of its own losses
        cases = [((B, 1), "float32", (B, 1)), ((B,), "float32", (B, 1)), ((None,), "float32", (None, 1))]
        assert _silent(_traced_findings(loss, *cases, ((B, 1), "float32", (B, 1), "weights"))), loss


def test_one_hot_and_sparse_losses_on_their_labels_are_silent():
    for loss in ONE_HOT:  # one-hot rows, also along sequences (rank 3)
        assert _silent(_traced_findings(loss, ((B, C), "float32", (B, C)), ((B, 5, C), "float32", (B, 5, C)))), loss
    sparse = ["sparse_categorical_crossentropy", keras.losses.SparseCategoricalCrossentropy(ignore_class=0)]
    for loss in sparse:  # class ids, also along sequences
        cases = [((B,), "int64", (B, C)), ((B, 1), "int64", (B, C)), ((None, 5), "int64", (None, 5, C))]
        assert _silent(_traced_findings(loss, *cases, ((B, 5), "int64", (B, 5, C), "weights"))), loss


def test_losses_that_pair_labels_or_samples_on_purpose_are_silent():
    assert _silent(_traced_findings(keras.losses.Circle(), ((B,), "int64", (B, 8))))  # pairs within y_true, y_pred
    assert _silent(_traced_findings(AllPairs(), ((B, 3), "float32", (B, 3))))  # equal shapes: pairs made on purpose
    assert _silent(_traced_findings(keras.losses.CTC(), ((B, 6), "int64", (B, 12, C))))


def test_the_class_axis_broadcast_is_found_in_losses_keras_accepts_it_in():
    for loss in ["kl_divergence", keras.losses.CategoricalFocalCrossentropy(), "categorical_hinge", "mse"]:
        [finding] = _traced_findings(loss, ((B, 1), "float32", (B, C)))
        assert finding.labels_broadcast and not finding.broadcast, loss


def test_the_broadcast_is_found_either_way_round_and_with_unknown_batch():
    cases = [((B,), "float32", (B, 1)), ((B, 1), "float32", (B,)), ((None,), "float32", (None, 1))]  # (B,): squeezed
    found = _traced_findings(ManualMSE(), *cases)
    assert all(f.broadcast for f in found)
    assert found[2].broadcast == "Sub of (None, 1) and (None,) gives (None, None)"
