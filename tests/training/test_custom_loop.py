"""`tb_gradcause.summary.ModelRecorder` in custom training loops: the callback's capture and diagnosis
without `fit`.

The demo scenarios train through `demo._common.fit`; patching it runs the very same program (model,
data, optimizer, loss) in a `tf.GradientTape` loop instead, or in `fit` with the batches in the
same order, so the two can be compared.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import tb_gradcause
from tb_gradcause.analysis import reader
from tb_gradcause.demo import _common, dead_relu_bias, healthy_mlp_adam, vanishing_sigmoid_stack
from tests.support.callback_runs import names, read_train

README = Path(__file__).resolve().parents[2] / "README.md"


def loop_fit(model, x, y, *, logdir, name, epochs, batch_size, callbacks=(), every_n_steps=None):
    """`fit`'s replacement: the compiled loss and optimizer in a `tf.GradientTape` loop, batches in order."""
    recorder = tb_gradcause.summary.ModelRecorder(model, every_n_steps=every_n_steps)
    optimizer = model.optimizer

    @tf.function
    def train_step(xb, yb, step):
        with recorder.watch(step, inputs=xb), tf.GradientTape() as tape:
            loss = model.compute_loss(xb, yb, model(xb, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        recorder.write(loss, grads)

    writer = tf.summary.create_file_writer(os.path.join(logdir, name, "train"))
    step = 0
    with writer.as_default():
        for _ in range(epochs):
            for start in range(0, len(x), batch_size):
                batch = slice(start, start + batch_size)
                train_step(tf.constant(x[batch]), tf.constant(y[batch]), tf.constant(step, tf.int64))
                step += 1
    writer.close()


def ordered_fit(model, x, y, *, logdir, name, epochs, batch_size, callbacks=(), every_n_steps=None):
    """The demo's `fit` with the callback, batches in order (as `loop_fit` takes them)."""
    callback = tb_gradcause.GradCauseCallback(os.path.join(logdir, name), every_n_steps=every_n_steps)
    model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0, callbacks=[callback])


def problems(logdir, name) -> set[tuple[str, str | None]]:
    """(kind, layer) of every warning or error of the run."""
    causes = tb_gradcause.diagnose(os.path.join(logdir, name, "train"))["."].causes
    return {(c.kind, c.layer) for c in causes if c.severity in ("warning", "error")}


@pytest.mark.parametrize("scenario", [vanishing_sigmoid_stack, dead_relu_bias], ids=lambda s: s.NAME)
def test_a_buggy_custom_loop_gets_the_callbacks_diagnosis(tmp_path, monkeypatch, scenario):
    found = {}
    for trainer in (ordered_fit, loop_fit):
        monkeypatch.setattr(_common, "fit", trainer)
        scenario.run(str(tmp_path / trainer.__name__))
        found[trainer.__name__] = problems(tmp_path / trainer.__name__, scenario.NAME)
    expected = {(e["kind"], e["layer"]) for e in scenario.EXPECTED}
    assert expected <= found["loop_fit"]
    assert found["loop_fit"] == found["ordered_fit"]
    checked = tb_gradcause.diagnose(str(tmp_path / "loop_fit" / scenario.NAME / "train"))["."]
    # Every check ran but the gradient check, which custom loops do not run (and Dense has no own gradient).
    assert set(checked.skipped) == {"wrong_gradient"}


def test_a_healthy_custom_loop_gets_no_warning(tmp_path, monkeypatch):
    monkeypatch.setattr(_common, "fit", loop_fit)
    healthy_mlp_adam.run(str(tmp_path))
    assert problems(tmp_path, healthy_mlp_adam.NAME) == set()


def test_the_loop_records_what_the_callback_records(tmp_path, monkeypatch):
    """Same model, batches and cadence: every kind, row and value as the callback logs them."""

    def small(logdir):
        rng = _common.start(3)
        x = rng.normal(size=(96, 6)).astype("float32")
        y = (x[:, :1] > 0).astype("float32")
        model = keras.Sequential(
            [
                keras.Input((6,)),
                keras.layers.Dense(8, activation="relu", name="hidden"),
                keras.layers.Dense(1, activation="sigmoid", name="out"),
            ]
        )
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
        _common.fit(model, x, y, logdir=logdir, name="run", epochs=1, batch_size=16, every_n_steps=2)

    series = {}
    for trainer in (ordered_fit, loop_fit):
        monkeypatch.setattr(_common, "fit", trainer)
        small(str(tmp_path / trainer.__name__))
        series[trainer.__name__] = read_train(tmp_path / trainer.__name__ / "run").series
    fit, loop = series["ordered_fit"], series["loop_fit"]
    assert set(loop) == set(fit) == {"inputs", "activations", "backward", "gradients", "weights", "loss", "loss_inputs"}
    for kind in fit:
        assert loop[kind].steps.tolist() == fit[kind].steps.tolist(), kind
        assert names(loop[kind]) == names(fit[kind]), kind
        assert [r.layer for r in loop[kind].rows] == [r.layer for r in fit[kind].rows], kind
        np.testing.assert_allclose(loop[kind].values, fit[kind].values, rtol=1e-4, atol=1e-6, err_msg=kind)
    assert fit["gradients"].steps.tolist() == [0, 2, 4]


def test_the_loop_records_a_recurrent_input_gradient_as_the_callback(tmp_path, monkeypatch):
    """An LSTM fed by the model input: its d loss / d input comes from the loop's own backward
    pass (its probe anchored to the kernel), with the callback's values."""

    def recurrent(logdir):
        rng = _common.start(3)
        x, y = rng.normal(size=(48, 10, 3)).astype("float32"), rng.normal(size=(48, 1)).astype("float32")
        model = keras.Sequential([keras.Input((10, 3)), keras.layers.LSTM(8, name="lstm"), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        _common.fit(model, x, y, logdir=logdir, name="run", epochs=1, batch_size=16, every_n_steps=1)

    timed = {}
    for trainer in (ordered_fit, loop_fit):
        monkeypatch.setattr(_common, "fit", trainer)
        recurrent(str(tmp_path / trainer.__name__))
        timed[trainer.__name__] = read_train(tmp_path / trainer.__name__ / "run").series["backward_time"]
    fit, loop = timed["ordered_fit"], timed["loop_fit"]
    assert names(loop) == names(fit) == ["lstm"] and loop.steps.tolist() == fit.steps.tolist() == [0, 1, 2]
    np.testing.assert_allclose(loop.values, fit.values, rtol=1e-5, atol=1e-7)


def readme_snippet() -> str:
    """The README's custom-loop example (the ```python block after its "custom training loop" line)."""
    text = README.read_text()
    section = text[text.index("In a custom training loop") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


def test_the_readme_custom_loop_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_snippet(), str(README), "exec"), {"__name__": "readme"})
    logdir = tmp_path / "logs"
    [run] = tb_gradcause.diagnose(str(logdir)).values()
    assert set(run.skipped) == {"wrong_gradient"}  # a custom loop runs no gradient check
    layers = {r.layer for r in reader.read_logdir(str(logdir))["custom"]["activations"].rows}
    assert layers == {"hidden", "out"}
