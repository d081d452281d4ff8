"""GradCauseCallback on real `model.fit`: every kind, every model style, the step semantics."""

from __future__ import annotations

import glob
import os

import keras
import numpy as np
import pytest
from tensorboard.backend.event_processing import event_file_loader

from tb_gradcause import GradCauseCallback, metadata
from tests.support.callback_runs import logged_steps, names, read_train

ALL_KINDS = set(metadata.SUMMARY_KINDS)
# Any tb_gradcause warning means logging failed: make it an error.
pytestmark = pytest.mark.filterwarnings("error:tb_gradcause")


class IgnoresInput(keras.layers.Layer):
    """A custom layer with its own weight and an inner Dense built lazily."""

    def build(self, shape):
        self.w = self.add_weight(shape=(shape[-1], 4), name="w")
        self.inner = keras.layers.Dense(4, activation="tanh", name="inner")

    def call(self, x):
        return self.inner(x) + x @ self.w


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.first = keras.layers.Dense(8, activation="relu", name="first")
        self.custom = IgnoresInput(name="custom")
        self.out = keras.layers.Dense(1, name="out")

    def call(self, x):
        return self.out(self.custom(self.first(x)))


def sequential():
    return keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1, activation="sigmoid")]
    )


def functional():
    i = keras.Input((6,))
    h = keras.layers.Dense(8, activation="elu")(i)
    return keras.Model(i, keras.layers.Dense(1)(h))


def nested():
    encoder = keras.Sequential([keras.layers.Dense(8, activation="relu"), keras.layers.Dense(8)], name="encoder")
    return keras.Sequential([keras.Input((6,)), encoder, keras.layers.Dense(1)])


def fit(model, log_dir, x=None, y=None, epochs=2, **kwargs):
    x = np.random.default_rng(0).normal(size=(64, 6)).astype("float32") if x is None else x
    y = np.random.default_rng(1).normal(size=(len(x), 1)).astype("float32") if y is None else y
    model.compile(keras.optimizers.SGD(0.01), "mse")
    cb = GradCauseCallback(str(log_dir), **kwargs)
    model.fit(x, y, batch_size=16, epochs=epochs, verbose=0, callbacks=[cb])
    return cb


@pytest.mark.parametrize(
    "make, layers",
    [
        (sequential, ["dense", "dense_1"]),
        (functional, ["dense", "dense_1"]),
        (nested, ["encoder/dense", "encoder/dense_1", "dense_2"]),
        (Subclassed, ["first", "custom", "custom/inner", "out"]),
    ],
)
def test_every_kind_logged_with_layer_paths_in_forward_order(tmp_path, make, layers):
    keras.utils.clear_session()
    fit(make(), tmp_path, every_n_steps=3)
    kinds = read_train(tmp_path).series
    # No recurrent layer, no non-finite step; only Subclassed has a layer of its own (IgnoresInput)
    # whose gradient the first step checks.
    absent = {"backward_time", "nan_origin"} | (set() if make is Subclassed else {"gradient_check"})
    assert set(kinds) == ALL_KINDS - absent
    acts = kinds["activations"]
    assert names(acts) == layers
    assert [r.depth for r in acts.rows] == list(range(len(layers)))
    assert names(kinds["backward"]) == layers
    grads = kinds["gradients"]
    assert [r.depth for r in grads.rows] == sorted(r.depth for r in grads.rows)
    assert {r.layer for r in grads.rows} <= set(layers)
    assert all(r.role in ("kernel", "bias", "w") for r in grads.rows)
    assert names(grads) == names(kinds["weights"])
    # 8 batches: full stats at steps 0, 3, 6 (a lazily built model's step 0 has fewer rows,
    # hence another tag); the loss at every step.
    assert logged_steps(tmp_path, "gradients") == [0, 3, 6]
    assert kinds["loss"].steps.tolist() == list(range(8))
    assert names(kinds["inputs"]) == [f"input/feature_{i}" for i in range(6)]
    assert np.isfinite(grads.values).all()


def test_row_facts(tmp_path):
    keras.utils.clear_session()
    fit(sequential(), tmp_path)
    kinds = read_train(tmp_path).series
    first, last = kinds["activations"].rows
    assert (first.layer_class, first.activation, list(first.shape)) == ("Dense", "relu", [8])
    assert last.activation == "sigmoid" and not last.recurrent
    kernel = kinds["gradients"].rows[0]
    assert (kernel.name, kernel.layer, kernel.role, list(kernel.shape)) == ("dense/kernel", "dense", "kernel", [6, 8])
    assert kernel.facts["dtype"] == "float32"
    loss = kinds["loss"]
    assert loss.stat("learning_rate")[0, 0] == pytest.approx(0.01)
    assert loss.stat("loss_scale")[0, 0] == 1.0 and loss.stat("step_skipped").max() == 0.0


def test_large_outputs_are_sampled_and_their_rows_say_so(tmp_path):
    keras.utils.clear_session()
    conv = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(1),
        ]
    )
    x = np.random.default_rng(0).normal(size=(64, 8, 8, 1)).astype("float32")
    fit(conv, tmp_path, x=x, max_units=40)  # conv: 6 x 6 positions x 4 channels; 10 positions kept
    kinds = read_train(tmp_path).series
    for kind in ("activations", "backward"):
        facts = [dict(r.facts).get("sampled_units") for r in kinds[kind].rows]
        assert facts == ["40 of 144", None, None], kind  # Flatten's [144] output is rank 2: never sampled
    with pytest.raises(ValueError, match="max_units"):
        GradCauseCallback(str(tmp_path), max_units=0)


def test_recurrent_layers_log_backward_time(tmp_path):
    keras.utils.clear_session()
    rng = np.random.default_rng(0)
    raw = keras.Sequential([keras.Input((12, 3)), keras.layers.SimpleRNN(8), keras.layers.Dense(1)])
    fit(raw, tmp_path / "raw", x=rng.normal(size=(64, 12, 3)).astype("float32"), every_n_steps=4)
    embedded = keras.Sequential(
        [keras.Input((12,), dtype="int32"), keras.layers.Embedding(50, 8), keras.layers.LSTM(8), keras.layers.Dense(1)]
    )
    fit(embedded, tmp_path / "emb", x=rng.integers(0, 50, size=(64, 12)).astype("int32"), every_n_steps=4)
    for run, layer, cls in [("raw", "simple_rnn", "SimpleRNN"), ("emb", "lstm", "LSTM")]:
        kinds = read_train(tmp_path / run).series
        bt = kinds["backward_time"]
        assert names(bt) == [layer] and bt.rows[0].recurrent and bt.rows[0].layer_class == cls
        assert bt.steps.tolist() == [0, 4]
        assert (bt.stat("seq_len") == 12).all()
        norms = bt.values[:, 0, :8]
        assert np.isfinite(norms).all() and (norms > 0).all()
        acts = kinds["activations"]
        assert acts.rows[names(acts).index(layer)].activation == "tanh"


def test_metadata_only_in_first_event_of_each_tag(tmp_path):
    keras.utils.clear_session()
    fit(sequential(), tmp_path, every_n_steps=2)
    (path,) = glob.glob(os.path.join(tmp_path, "train", "events.out.tfevents.*"))
    seen: dict[str, list[bool]] = {}
    for event in event_file_loader.EventFileLoader(path).Load():
        for value in event.summary.value:
            seen.setdefault(value.tag, []).append(value.HasField("metadata"))
    series = read_train(tmp_path).series
    assert set(seen) == {metadata.tag_for(kind, names(s)) for kind, s in series.items()}  # one tag per kind
    for flags in seen.values():
        assert flags[0] and not any(flags[1:])


def test_steps_continue_across_fit_calls_and_tensorboard_shares_the_run(tmp_path):
    keras.utils.clear_session()
    model = sequential()
    model.compile("adam", "mse")
    x = np.zeros((32, 6), "float32")
    y = np.zeros((32, 1), "float32")
    cb = GradCauseCallback(str(tmp_path), every_n_steps=1)
    tb = keras.callbacks.TensorBoard(str(tmp_path))
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[cb, tb])
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[cb, tb])
    assert read_train(tmp_path).series["gradients"].steps.tolist() == [0, 1, 2, 3]
    assert len(glob.glob(os.path.join(tmp_path, "train", "events.out.tfevents.*"))) >= 2


def test_the_loss_of_a_writer_without_full_steps_has_metadata(tmp_path):
    """A model trained before the callback may start off the cadence: its lean steps' loss rows
    carry their metadata (TensorBoard drops a series whose first event has none)."""
    keras.utils.clear_session()
    model = sequential()
    model.compile("adam", "mse")
    x = np.ones((96, 6), "float32")
    y = np.ones((96, 1), "float32")
    model.fit(x[:48], y[:48], batch_size=16, epochs=1, verbose=0)  # steps 0-2, not logged
    # No step of this fit is on the cadence: only the writer's first step carries metadata.
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[GradCauseCallback(str(tmp_path), every_n_steps=100)])
    kinds = read_train(tmp_path).series
    assert kinds["loss"].steps.tolist() == [3, 4, 5, 6, 7, 8]
    assert "gradients" not in kinds
    assert np.isfinite(kinds["loss"].stat("value")).all()


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown kinds"):
        GradCauseCallback("x", kinds=["gradients", "histograms"])
    with pytest.raises(ValueError, match="every_n_steps"):
        GradCauseCallback("x", every_n_steps=0)


def test_kinds_can_be_chosen(tmp_path):
    keras.utils.clear_session()
    fit(sequential(), tmp_path, kinds=["gradients", "loss"])
    assert set(read_train(tmp_path).series) == {"gradients", "loss"}


def test_cadence_depends_on_the_step_only():
    from tb_gradcause.capture.cadence import is_full

    assert [s for s in range(12) if is_full(s, 4)] == [0, 4, 8]
    default = [s for s in range(1300) if is_full(s, None)]
    assert default == list(range(0, 100, 10)) + list(range(100, 1000, 25)) + [1000, 1100, 1200]


@pytest.mark.parametrize("every_n_steps", [None, 4])
def test_cadence_in_the_graph_is_the_hosts(every_n_steps):
    """Several steps per call decide in the graph: the same steps as one step per call."""
    import tensorflow as tf

    from tb_gradcause.capture.cadence import Cadence, Mode, is_full

    steps = tf.range(1300, dtype=tf.int64)
    in_graph = Cadence(every_n_steps).in_graph(Mode.IN_GRAPH, steps).numpy()
    assert in_graph.tolist() == [is_full(s, every_n_steps) for s in range(1300)]


def test_default_cadence_with_several_steps_per_call_is_the_documented_one(tmp_path):
    """The default is every 10 steps to step 100, then every 25 (it used to stay at every 10
    with steps_per_execution > 1)."""
    keras.utils.clear_session()
    model = sequential()
    model.compile(keras.optimizers.SGD(0.01), "mse", steps_per_execution=4)
    x = np.random.default_rng(0).normal(size=(132 * 2, 6)).astype("float32")
    model.fit(x, x[:, :1], batch_size=2, epochs=1, verbose=0, callbacks=[GradCauseCallback(str(tmp_path))])
    kinds = read_train(tmp_path).series
    assert kinds["gradients"].steps.tolist() == list(range(0, 100, 10)) + [100, 125]
    assert kinds["loss"].steps.tolist() == list(range(132))


def test_default_cadence_on_a_small_model_is_every_ten_steps(tmp_path):
    keras.utils.clear_session()
    x = np.random.default_rng(0).normal(size=(16 * 25, 6)).astype("float32")
    fit(sequential(), tmp_path, x=x, epochs=1)
    assert read_train(tmp_path).series["gradients"].steps.tolist() == [0, 10, 20]


def test_healthy_steps_do_not_flush_the_event_file(tmp_path, monkeypatch):
    """A flush syncs the file to disk: steps leave their events queued (the loss every step)."""
    from tb_gradcause.capture import writer

    monkeypatch.setattr(writer, "FLUSH_MILLIS", 10**9)  # no flush by time in this test
    sizes: list[int] = []

    class EventFileSize(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            paths = glob.glob(os.path.join(tmp_path, "train", "events.out.tfevents.*"))
            sizes.append(os.path.getsize(paths[0]) if paths else 0)

    keras.utils.clear_session()
    model = sequential()
    model.compile(keras.optimizers.SGD(0.01), "mse")
    x = np.random.default_rng(0).normal(size=(160, 6)).astype("float32")
    y = np.random.default_rng(1).normal(size=(160, 1)).astype("float32")
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[GradCauseCallback(str(tmp_path)), EventFileSize()])
    assert len(sizes) == 10 and len(set(sizes[1:])) == 1, sizes  # each step logged its loss
    kinds = read_train(tmp_path).series  # all on disk after training ends
    assert kinds["loss"].steps.tolist() == list(range(10)) and kinds["gradients"].steps.tolist() == [0]


@pytest.mark.parametrize("every_n_steps", [1, 100])
def test_softmax_output_read_through_its_logits_keeps_its_signal_and_stats(tmp_path, every_n_steps):
    """Keras' loss reads a softmax's logits: the output layer's backward signal is d loss / d logits
    (on logged steps and on a non-finite step between them), its stats those of the softmax."""
    keras.utils.clear_session()
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(96, 6)).astype("float32")
    x[5 * 16 + 2] = np.nan  # step 5 is non-finite: logged in full in both cadences
    y = np.random.default_rng(1).integers(0, 3, size=96)
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(3, activation="softmax")]
    )
    model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    callback = GradCauseCallback(str(tmp_path), every_n_steps=every_n_steps)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[callback])
    kinds = read_train(tmp_path).series
    backward, acts = kinds["backward"], kinds["activations"]
    assert 0 in backward.steps and 5 in backward.steps
    healthy, bad = backward.steps.tolist().index(0), backward.steps.tolist().index(5)
    assert (backward.stat("l2")[healthy] > 0).all()  # both layers, the output's at its logits
    assert (backward.stat("nan")[bad] > 0).all()
    assert acts.stat("mean")[acts.steps.tolist().index(0), 1] == pytest.approx(1 / 3)  # softmax rows sum to 1


def test_recurrent_model_non_finite_step_between_logged_steps_has_backward_signals(tmp_path):
    keras.utils.clear_session()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 12, 3)).astype("float32")
    x[3 * 16 + 1, 5, 0] = np.nan  # step 3, between logged steps 0 and 100
    model = keras.Sequential(
        [keras.Input((12, 3)), keras.layers.Dense(4), keras.layers.SimpleRNN(8), keras.layers.Dense(1)]
    )
    model.compile(keras.optimizers.SGD(0.01), "mse")
    y = rng.normal(size=(64, 1)).astype("float32")
    callback = GradCauseCallback(str(tmp_path), every_n_steps=100)
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[callback])
    kinds = read_train(tmp_path).series
    backward, timed = kinds["backward"], kinds["backward_time"]
    assert backward.steps.tolist() == [0, 3] and timed.steps.tolist() == [0, 3]
    assert (backward.stat("nan")[1] > 0).all()  # every layer's signal at the NaN step
    assert names(timed) == ["simple_rnn"]  # fed by a layer: its probe takes the signal
