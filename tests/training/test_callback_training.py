"""The callback never changes training, keeps the step that kills it, and survives its own failures;
XLA, steps_per_execution and mixed precision."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from tb_gradcause import GradCauseCallback, stats
from tests.support.callback_runs import at, logged_steps, names, read_train

WORKER = os.path.join(os.path.dirname(__file__), os.pardir, "support", "callback_dies_worker.py")
# Any tb_gradcause warning means logging failed: make it an error.
pytestmark = pytest.mark.filterwarnings("error:tb_gradcause")


def run_worker(mode: str, log_dir, dies: bool = False) -> str:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run(
        [sys.executable, WORKER, mode, str(log_dir)], env=env, capture_output=True, text=True, timeout=300
    )
    assert (proc.returncode != 0) == dies, proc.stderr[-3000:]
    return proc.stdout


def test_ctrl_c_keeps_the_logged_steps(tmp_path):
    run_worker("interrupt", tmp_path, dies=True)  # died of KeyboardInterrupt, no on_train_end
    kinds = read_train(tmp_path).series
    assert kinds["gradients"].steps.tolist() == [0, 1, 2] and kinds["loss"].steps.tolist() == [0, 1, 2]


def test_nan_input_step_on_disk_when_training_dies(tmp_path):
    run_worker("nan_input", tmp_path)
    kinds = read_train(tmp_path).series
    assert kinds["gradients"].steps.tolist() == [0, 5]  # every_n_steps=100: step 5 logged for its NaN
    assert at(kinds["inputs"], 5)[:, kinds["inputs"].stats.index("nan")].sum() == 1
    assert at(kinds["gradients"], 5)[:, kinds["gradients"].stats.index("nan")].sum() > 0
    assert kinds["loss"].steps.tolist() == list(range(6))


@pytest.mark.parametrize("mode", ["nan_grad", "nan_grad_accumulated"])
def test_nan_gradient_with_finite_loss_is_caught(tmp_path, mode):
    run_worker(mode, tmp_path)
    kinds = read_train(tmp_path).series
    assert 5 in kinds["gradients"].steps
    loss = at(kinds["loss"], 5)[0, kinds["loss"].stats.index("value")]
    assert np.isfinite(loss)
    assert at(kinds["gradients"], 5)[:, kinds["gradients"].stats.index("nan")].sum() > 0
    # Decided by the loss, the full capture missed it: the late capture has what the step holds
    # to its end anyway (`step.LATE_KINDS`), not the backward signals.
    assert 5 in kinds["inputs"].steps and 5 in kinds["activations"].steps
    assert 5 not in kinds["backward"].steps


def test_op_determinism_bit_identical_weights(tmp_path):
    verdicts = run_worker("determinism", tmp_path).split()
    assert verdicts == ["regression", "IDENTICAL", "softmax", "IDENTICAL", "sigmoid", "IDENTICAL", "lstm", "IDENTICAL"]
    assert read_train(tmp_path).series["weights"].steps.tolist() == list(range(0, 16, 2))


def mlp():
    keras.utils.set_random_seed(3)
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation="relu", name="hidden"),
            keras.layers.Dense(1, dtype="float32", name="out"),
        ]
    )


def fit(log_dir, model, every_n_steps=3, **compile_kwargs):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(128, 6)).astype("float32"), rng.normal(size=(128, 1)).astype("float32")
    model.compile(keras.optimizers.SGD(0.01), "mse", **compile_kwargs)
    model.fit(
        x,
        y,
        batch_size=16,
        shuffle=False,
        epochs=1,
        verbose=0,
        callbacks=[GradCauseCallback(str(log_dir), every_n_steps=every_n_steps)],
    )
    return read_train(log_dir).series


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return fit(tmp_path_factory.mktemp("ref"), mlp())


@pytest.mark.parametrize("compile_kwargs", [{"jit_compile": True}, {"steps_per_execution": 3}])
def test_xla_and_steps_per_execution_log_the_same(tmp_path, reference, compile_kwargs):
    kinds = fit(tmp_path, mlp(), **compile_kwargs)
    assert set(kinds) == set(reference)
    for kind, ref in reference.items():
        assert kinds[kind].steps.tolist() == ref.steps.tolist(), kind
        assert names(kinds[kind]) == names(ref), kind
        np.testing.assert_allclose(kinds[kind].values, ref.values, rtol=2e-3, atol=1e-5, err_msg=kind)
    assert kinds["loss"].steps.tolist() == list(range(8))


def test_mixed_precision_unscaled_gradients_and_skipped_steps(tmp_path, reference):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = mlp()
        kinds = fit(tmp_path, model)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    loss = kinds["loss"]
    assert loss.stat("loss_scale")[0, 0] > 1  # a real loss scaler
    # Gradients and backward signals are unscaled: close to the float32 run's.
    for kind in ("gradients", "backward"):
        np.testing.assert_allclose(kinds[kind].stat("l2"), reference[kind].stat("l2"), rtol=0.05, err_msg=kind)
    skipped = loss.stat("step_skipped")[:, 0]
    assert set(skipped.tolist()) <= {0.0, 1.0}
    assert kinds["activations"].rows[0].facts["dtype"] == "float16"


def test_overflowing_loss_scale_marks_skipped_steps_not_nan(tmp_path):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8), keras.layers.Dense(1, dtype="float32")])
        rng = np.random.default_rng(0)
        x = (rng.normal(size=(64, 6)) * 300).astype("float32")  # scaled fp16 gradients overflow
        opt = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(1e-6), initial_scale=2.0**30)
        model.compile(opt, "mse")
        model.fit(
            x,
            x[:, :1] * 100,
            batch_size=16,
            epochs=1,
            verbose=0,
            callbacks=[GradCauseCallback(str(tmp_path), every_n_steps=2)],
        )
    finally:
        keras.mixed_precision.set_global_policy("float32")
    kinds = read_train(tmp_path).series
    loss = kinds["loss"]
    skipped = loss.stat("step_skipped")[:, 0]
    assert skipped[0] == 1.0 and loss.steps.tolist() == [0, 1, 2, 3]
    assert np.isfinite(loss.stat("value")).all()
    # A skipped step is not a NaN step: its overflowing gradients are not logged.
    full_steps = logged_steps(tmp_path, "gradients")
    assert not set(full_steps) & {s for s, k in zip(loss.steps.tolist(), skipped) if k}


def test_logging_failure_warns_once_and_training_goes_on(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("stats exploded")

    monkeypatch.setattr(stats, "activation_stats_list", broken)
    model = mlp()
    model.compile("sgd", "mse")
    x = np.ones((64, 6), "float32")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(
            x,
            x[:, :1],
            batch_size=16,
            epochs=2,
            verbose=0,
            callbacks=[GradCauseCallback(str(tmp_path), every_n_steps=1)],
        )
    ours = [w for w in caught if "tb_gradcause" in str(w.message)]
    assert len(ours) == 1 and "stats exploded" in str(ours[0].message)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()


@pytest.mark.parametrize("compile_kwargs", [{}, {"steps_per_execution": 4}, {"jit_compile": True}])
def test_update_that_overflows_the_weights_is_caught_by_the_next_step(tmp_path, compile_kwargs):
    """Finite loss and gradients, but a learning rate jump (from step 5) makes step 5's update
    overflow the weights. Step 6 starts from them: it is logged in full (off the cadence), its
    weights show they were non-finite before its update, and the engine names step 5's update,
    not step 6's forward pass. (Compiled lean steps keep no copy of the weights: there the
    engine can only name step 6's forward pass.)"""
    from tb_gradcause.analysis import engine

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(128, 6)).astype("float32"), 100 * rng.normal(size=(128, 1)).astype("float32")
    model = mlp()
    jump = keras.optimizers.schedules.PiecewiseConstantDecay([4], [0.01, 3e38])
    model.compile(keras.optimizers.SGD(jump), "mse", **compile_kwargs)
    model.fit(
        x,
        y,
        batch_size=16,
        shuffle=False,
        epochs=1,
        verbose=0,
        callbacks=[GradCauseCallback(str(tmp_path), every_n_steps=100), keras.callbacks.TerminateOnNaN()],
    )
    run = read_train(tmp_path)
    kinds = run.series
    assert kinds["weights"].steps[:2].tolist() == [0, 6]  # (several steps per call run on to step 7)
    assert np.isfinite(at(kinds["loss"], 5)[0, kinds["loss"].stats.index("value")])
    weights = at(kinds["weights"], 6)
    stats = kinds["weights"].stats
    assert (weights[:, stats.index("nan")] + weights[:, stats.index("inf")]).sum() > 0

    (nan_event,) = [e for e in engine.analyze(run)["events"] if e["kind"] == "nan_inf"]
    if compile_kwargs.get("jit_compile"):
        assert np.isnan(weights[:, stats.index("nonfinite_before")]).all()
        assert nan_event["first_step"] == 6 and "forward" in nan_event["title"]
    else:
        assert weights[:, stats.index("nonfinite_before")].sum() > 0
        assert nan_event["first_step"] == 5
        assert "update" in nan_event["title"]


def test_weights_rows_hold_the_update_applied_on_the_cadence_and_on_a_non_finite_loss_step(tmp_path):
    """Update ratios against the weights read between steps: on a cadence step (0) and on a
    step off the cadence whose loss alone is non-finite (3: a NaN term without gradient), whose
    weights are copied before its update only because of that loss."""

    def loss(y, p):  # y[:, 1] is a marker, NaN in batch 3, that no gradient sees
        return keras.ops.mean((y[:, :1] - p) ** 2) + keras.ops.stop_gradient(keras.ops.mean(y[:, 1]))

    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 6)).astype("float32")
    y = np.stack([rng.normal(size=96), np.zeros(96)], axis=1).astype("float32")
    y[48:64, 1] = np.nan
    model = mlp()
    seen: list[list[np.ndarray]] = []  # the weights before each step, and after the last
    record = keras.callbacks.LambdaCallback(
        on_train_batch_begin=lambda *_, **__: seen.append([v.numpy() for v in model.trainable_variables])
    )
    model.compile(keras.optimizers.SGD(0.05), loss)
    model.fit(
        x,
        y,
        batch_size=16,
        shuffle=False,
        epochs=1,
        verbose=0,
        callbacks=[GradCauseCallback(str(tmp_path), every_n_steps=100), record],
    )
    seen.append([v.numpy() for v in model.trainable_variables])
    weights = read_train(tmp_path).series["weights"]
    assert weights.steps.tolist() == [0, 3]
    paths = [v.path for v in model.trainable_variables]
    for step in (0, 3):
        for row, info in enumerate(weights.rows):
            i = paths.index(info.facts["path"])
            before, after = seen[step][i], seen[step + 1][i]
            expected = np.linalg.norm(after - before) / np.linalg.norm(after)  # (norm: of the new value)
            assert expected > 0
            np.testing.assert_allclose(at(weights, step)[row, weights.stats.index("update_ratio")], expected, rtol=1e-4)


@pytest.mark.parametrize(
    "compile_kwargs, frozen",
    [
        ({}, False),
        ({"jit_compile": True}, False),
        ({"steps_per_execution": 3}, False),
        ({"run_eagerly": True}, False),
        ({}, True),
        ({"steps_per_execution": 3}, True),
    ],
)
def test_recurrent_input_gradient_from_the_training_backward_pass(tmp_path, compile_kwargs, frozen):
    """An LSTM fed by the model input, captured in full every step: its d loss / d input (whose
    path holds nothing trainable, so plain training never computes it) is logged on every step
    with the values of a second backward pass on the same weights, and the weights after
    training are bit-identical to plain training's. Also with the LSTM frozen (no weight of its
    own to anchor its input's probe to)."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 10, 3)).astype("float32"), rng.normal(size=(64, 1)).astype("float32")

    def lstm():
        keras.utils.set_random_seed(1)
        model = keras.Sequential(
            [keras.Input((10, 3)), keras.layers.LSTM(8, name="lstm", trainable=not frozen), keras.layers.Dense(1)]
        )
        model.compile(keras.optimizers.Adam(0.01), "mse", **compile_kwargs)
        return model

    plain, expected = lstm(), []
    for b in range(0, len(x), 16):  # the same steps as `fit`, each after its second backward pass
        xb = tf.constant(x[b : b + 16])
        with tf.GradientTape() as tape:
            tape.watch(xb)
            loss = plain.compute_loss(xb, y[b : b + 16], plain(xb, training=True))
        expected.append(stats.time_grad_stats(tape.gradient(loss, xb)).numpy())
        plain.train_on_batch(xb, y[b : b + 16])
    logged = lstm()
    logged.fit(
        x,
        y,
        batch_size=16,
        shuffle=False,
        epochs=1,
        verbose=0,
        callbacks=[GradCauseCallback(str(tmp_path), every_n_steps=1)],
    )
    timed = read_train(tmp_path).series["backward_time"]
    assert names(timed) == ["lstm"] and timed.steps.tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(timed.values[:, 0, :], np.stack(expected), rtol=1e-5, atol=1e-7)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(plain.get_weights(), logged.get_weights()))
