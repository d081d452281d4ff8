"""`tb_gradcause.summary` ops in custom training loops, read back with TensorBoard's own loader."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tb_gradcause import metadata, summary
from tests.support.callback_runs import names, raw_steps, read_train


def custom_loop(log_dir: str, use_function: bool, steps: int = 3, give_before: bool = False) -> None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Embedding(10, 3), keras.layers.Flatten(), keras.layers.Dense(1)]
    )
    dense = model.layers[-1]
    opt = keras.optimizers.SGD(0.1)
    writer = tf.summary.create_file_writer(f"{log_dir}/train")
    x = tf.constant(np.random.default_rng(0).integers(0, 10, size=(8, 4)), tf.int32)
    y = tf.ones((8, 1))

    def step(i):
        with tf.GradientTape() as tape:
            out = model(x)
            loss = tf.reduce_mean((out - y) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        before = [tf.identity(v) for v in model.trainable_variables]
        opt.apply(grads, model.trainable_variables)
        updates = [v - b for v, b in zip(model.trainable_variables, before)]
        with writer.as_default(step=i):
            summary.gradients(grads + [None], model.trainable_variables + [dense.kernel])
            summary.activations({"dense": out}, activation_names={"dense": "linear"})
            if give_before:
                summary.weights(model.trainable_variables, before=before)
            else:
                summary.weights(model.trainable_variables, updates)
            summary.inputs(tf.cast(x, tf.float32))
            summary.loss(loss, learning_rate=opt.learning_rate)

    run = tf.function(step) if use_function else step
    for i in range(steps):
        run(tf.constant(i, tf.int64))
    writer.flush()


@pytest.mark.parametrize("use_function", [False, True])
def test_ops_write_readable_series(tmp_path, use_function):
    custom_loop(str(tmp_path), use_function)
    kinds = read_train(tmp_path).series
    assert set(kinds) == {"gradients", "activations", "weights", "inputs", "loss"}
    for kind, series in kinds.items():
        assert series.steps.tolist() == [0, 1, 2]
        assert series.stats == metadata.KIND_STATS[kind]
    tags = {metadata.tag_for(kind, names(series)) for kind, series in kinds.items()}
    assert set(raw_steps(tmp_path / "train")) == tags  # one tag per kind, named after its rows
    grads = kinds["gradients"]
    assert names(grads)[0].endswith("embeddings")
    assert grads.stat("missing")[:, -1].tolist() == [1.0, 1.0, 1.0]  # the None gradient
    assert (grads.stat("l2")[:, 0] > 0).all()  # IndexedSlices from the Embedding
    assert kinds["weights"].stat("update_ratio")[0, 0] > 0
    assert np.isnan(kinds["weights"].stat("nonfinite_before")).all()  # only updates given: unknown
    assert np.isfinite(kinds["loss"].stat("learning_rate")).all()


def test_weights_from_the_values_before_the_update(tmp_path):
    custom_loop(str(tmp_path / "updates"), use_function=True)
    custom_loop(str(tmp_path / "before"), use_function=True, give_before=True)
    from_updates = read_train(tmp_path / "updates").series["weights"]
    from_before = read_train(tmp_path / "before").series["weights"]
    np.testing.assert_allclose(from_before.stat("update_ratio"), from_updates.stat("update_ratio"), rtol=1e-6)
    assert (from_before.stat("nonfinite_before") == 0).all()


def test_metadata_again_for_a_new_writer(tmp_path):
    for run in ("a", "b"):
        writer = tf.summary.create_file_writer(str(tmp_path / run / "train"))
        with writer.as_default():
            summary.loss(1.0, step=0)
            summary.loss(2.0, step=1)
        writer.flush()
        series = read_train(tmp_path / run).series  # no gradcause run without metadata
        assert list(series) == ["loss"] and len(raw_steps(tmp_path / run / "train")) == 1
        assert series["loss"].steps.tolist() == [0, 1] and series["loss"].values[:, 0, 0].tolist() == [1.0, 2.0]


def test_no_writer_writes_nothing():
    assert not bool(summary.loss(1.0, step=0))


def test_bad_arguments():
    v = tf.Variable([1.0])
    with pytest.raises(ValueError, match="gradients for"):
        summary.gradients([None, None], [v])
    with pytest.raises(ValueError, match="updates for"):
        summary.weights([v], [])
    with pytest.raises(ValueError, match="either updates or before"):
        summary.weights([v], [v], before=[v])


def test_model_recorder_in_an_eager_loop(tmp_path):
    """`ModelRecorder` without `tf.function`: every kind on the cadence's steps, the loss every step,
    and an off-cadence step with a NaN input in full."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, activation="relu", name="h"), keras.layers.Dense(1, name="out")]
    )
    opt = keras.optimizers.SGD(0.1)
    recorder = summary.ModelRecorder(model, opt, every_n_steps=2)
    writer = tf.summary.create_file_writer(str(tmp_path / "train"))
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    with writer.as_default():
        for step in range(4):
            batch = x.copy()
            batch[5, 1] = np.nan if step == 3 else batch[5, 1]
            with recorder.watch(step, inputs=batch), tf.GradientTape() as tape:
                loss = tf.reduce_mean(model(batch, training=True) ** 2)
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply(grads, model.trainable_variables)
            recorder.write(loss, grads)
    writer.flush()
    kinds = read_train(tmp_path).series
    assert set(kinds) == {"inputs", "activations", "backward", "gradients", "weights", "loss"}
    assert kinds["loss"].steps.tolist() == [0, 1, 2, 3]
    assert kinds["activations"].steps.tolist() == [0, 2, 3]
    assert [r.layer for r in kinds["gradients"].rows] == ["h", "h", "out", "out"]
    assert kinds["inputs"].stat("nan")[-1, 1] == 1.0
    assert (kinds["weights"].stat("update_norm")[:2] > 0).all()  # copies before the update on cadence steps


def test_model_recorder_write_needs_watch():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(RuntimeError, match="watch"):
        summary.ModelRecorder(model).write(0.0, [None, None])
