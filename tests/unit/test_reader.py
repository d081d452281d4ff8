"""The reader: event files -> TensorBoard's loader -> `RunData`, with rewinds, row-set changes, versions, corruption."""

import dataclasses
import glob
import os
import time

import numpy as np
import pytest
from tensorboard import context, errors

from tb_gradcause import metadata
from tb_gradcause.analysis import reader
from tb_gradcause.rows import RowInfo
from tb_gradcause.testing import synthetic

LAYERS = synthetic.mlp(3, units=4) + [synthetic.Layer("rnn", 3, "tanh", "SimpleRNN", recurrent=True)]


def _write(logdir, run, n_steps=30, every=1, **kwargs):
    data = synthetic.healthy_run(LAYERS, n_steps, every=every, n_features=3, seed=len(run))
    synthetic.write_run(str(logdir), run, data, **kwargs)
    return data


def test_round_trip_keeps_every_step_value_row_and_stat(tmp_path):
    written = _write(tmp_path, "run", n_steps=40, every=7)
    (run,) = reader.read_logdir(str(tmp_path)).values()
    assert run.run == "run" and set(run.series) == set(written) == set(metadata.SUMMARY_KINDS) - {"nan_origin"}
    for kind, data in written.items():
        series = run.get(kind)
        np.testing.assert_array_equal(series.steps, data.steps)
        np.testing.assert_array_equal(series.values, data.values)
        assert series.values.dtype == np.float32 and series.steps.dtype == np.int64
        assert series.stats == data.stats and [row.name for row in series.rows] == [row.name for row in data.rows]
        np.testing.assert_allclose(series.wall_times, 1.7e9 + 0.01 * data.steps)
    assert len(run.get("loss").steps) == 40 and len(run.get("gradients").steps) == 6  # 0, 7, ..., 35


def test_row_facts_and_stat_lookup_by_name(tmp_path):
    _write(tmp_path, "run")
    run = reader.read_logdir(str(tmp_path), "run")["run"]
    grads = run.get("gradients")
    kernel = grads.rows[[row.name for row in grads.rows].index("rnn/recurrent_kernel")]
    assert (kernel.layer, kernel.layer_class, kernel.recurrent, kernel.role, kernel.depth) == (
        "rnn",
        "SimpleRNN",
        True,
        "recurrent_kernel",
        3,
    )
    assert kernel.shape == (3, 3) and (run.get("backward_time").stat("seq_len") == synthetic.SEQ_LEN).all()
    assert kernel.to_json()["shape"] == [3, 3]
    np.testing.assert_array_equal(grads.stat("max_abs"), grads.values[:, :, grads.stats.index("max_abs")])
    assert grads.stat("max_abs").flags.c_contiguous  # stat-major: the detectors read whole columns
    assert grads.has("missing") and not grads.has("dead_frac")
    with pytest.raises(KeyError, match="dead_frac"):
        grads.stat("dead_frac")
    assert run.get("no_such_kind") is None


def test_a_series_built_from_step_major_values_is_stored_stat_major():
    values = np.arange(3 * 2 * 4, dtype=np.float32).reshape(3, 2, 4)
    rows = (RowInfo("a"), RowInfo("b"))
    series = reader.Series("loss", np.arange(3), np.zeros(3), values, rows, ("w", "x", "y", "z"))
    np.testing.assert_array_equal(series.values, values)
    assert series.stat("y").flags.c_contiguous and series.stat("y").tolist() == values[:, :, 2].tolist()


def test_nan_and_inf_are_kept(tmp_path):
    data = synthetic.healthy_run(LAYERS, 10, n_features=3)
    data["gradients"].stat("l2")[4, 1] = np.nan
    data["activations"].stat("max")[5, 0] = np.inf
    data["loss"].stat("value")[6, 0] = -np.inf
    synthetic.write_run(str(tmp_path), "run", data)
    run = reader.read_logdir(str(tmp_path))["run"]
    assert np.isnan(run.get("gradients").stat("l2")[4, 1])
    assert run.get("activations").stat("max")[5, 0] == np.inf
    assert run.get("loss").stat("value")[6, 0] == -np.inf
    assert np.isfinite(run.get("loss").stat("value")).sum() == 9


def _write_rewound(path):
    """Loss at steps 0..9 (value = step), then a restart from step 5 that writes 5..7 (value = -step)."""
    rows = synthetic.layer_rows("loss", LAYERS)
    with synthetic.RunWriter(str(path)) as writer:
        for step in range(10):
            writer.write("loss", step, rows, np.full((1, 4), step), wall_time=100.0 + step)
        for step in range(5, 8):
            writer.write("loss", step, rows, np.full((1, 4), -step), wall_time=200.0 + step)


def test_a_rewound_step_replaces_what_was_written_from_that_step_on(tmp_path):
    _write_rewound(tmp_path / "run")
    series = reader.read_logdir(str(tmp_path))["run"].get("loss")
    np.testing.assert_array_equal(series.steps, np.arange(8))
    np.testing.assert_array_equal(series.stat("value")[:, 0], [0, 1, 2, 3, 4, -5, -6, -7])
    np.testing.assert_array_equal(series.wall_times[4:], [104.0, 205.0, 206.0, 207.0])


def _rustboard_semantics(steps):
    """Reference: each write at step s drops earlier writes at steps >= s; result sorted by step."""
    kept = {}
    for i, step in enumerate(steps):
        kept = {s: j for s, j in kept.items() if s < step}
        kept[step] = i
    return sorted(kept.values())


@pytest.mark.parametrize("seed", range(20))
def test_latest_writes_matches_rustboard_on_random_restarts(seed):
    rng = np.random.default_rng(seed)
    steps = np.concatenate([np.arange(start, start + n) for start, n in rng.integers(0, 30, (4, 2))])
    np.testing.assert_array_equal(np.flatnonzero(reader._latest_writes(steps)), _rustboard_semantics(steps.tolist()))


def test_a_changed_row_set_uses_the_tag_with_the_latest_step(tmp_path):
    old = synthetic.layer_rows("activations", LAYERS)
    new = synthetic.layer_rows("activations", LAYERS + [synthetic.Layer("extra", 2)])
    with synthetic.RunWriter(str(tmp_path / "run")) as writer:
        for step in range(6):
            writer.write("activations", step, old, np.zeros((len(old), 12)))
        for step in range(4, 9):
            writer.write("activations", step, new, np.ones((len(new), 12)))
    series = reader.read_logdir(str(tmp_path))["run"].get("activations")
    assert [row.name for row in series.rows][-1] == "extra"
    np.testing.assert_array_equal(series.steps, np.arange(4, 9))
    assert (series.values == 1).all()


def test_a_newer_format_fails_that_run_only(tmp_path):
    _write(tmp_path, "old")
    _write(tmp_path, "future", format_version=metadata.PROTO_VERSION + 1)
    provider = reader.logdir_provider(str(tmp_path))
    ctx = context.RequestContext()
    assert reader.list_runs(provider, ctx, "") == ["future", "old"]
    with pytest.raises(reader.UnsupportedFormatError, match="'future'.*upgrade tb_gradcause") as raised:
        reader.read_run(provider, ctx, "", "future")
    assert isinstance(raised.value, errors.PublicError) and raised.value.http_code == 400
    assert len(reader.read_run(provider, ctx, "", "old").get("loss").steps) == 30


def test_unknown_run_and_runs_without_gradcause_data_are_not_found(tmp_path):
    _write(tmp_path, "run")
    with pytest.raises(errors.NotFoundError, match="nope"):
        reader.read_logdir(str(tmp_path), "nope")
    assert reader.read_logdir(str(tmp_path / "missing")) == {}


def test_samples_whose_shape_disagrees_with_the_rows_are_dropped(tmp_path):
    rows = synthetic.layer_rows("loss", LAYERS)
    with synthetic.RunWriter(str(tmp_path / "run")) as writer:
        writer.write("loss", 0, rows, np.zeros((1, 4)))
        writer.write("loss", 1, rows, np.zeros((1, 3)))
        writer.write("loss", 2, rows, np.zeros((1, 4)))
    np.testing.assert_array_equal(reader.read_logdir(str(tmp_path))["run"].get("loss").steps, [0, 2])


def test_a_corrupt_event_file_costs_only_what_it_holds(tmp_path):
    for run in ("truncated", "garbage", "intact"):
        _write(tmp_path, run, n_steps=20)
    (truncated,) = glob.glob(str(tmp_path / "truncated" / "events*"))
    with open(truncated, "r+b") as f:
        f.truncate(os.path.getsize(truncated) // 2 + 3)  # mid-record
    later = synthetic.healthy_run(LAYERS, 30, n_features=3, kinds=["loss"])["loss"]
    later = dataclasses.replace(
        later, steps=later.steps[20:], wall_times=later.wall_times[20:], values=later.values[20:]
    )
    synthetic.write_run(str(tmp_path), "truncated", {"loss": later}, start_wall_time=1.8e9)  # a later file
    (garbage,) = glob.glob(str(tmp_path / "garbage" / "events*"))
    with open(garbage, "ab") as f:
        f.write(np.random.default_rng(0).bytes(999))

    runs = reader.read_logdir(str(tmp_path))
    assert len(runs["garbage"].get("gradients").steps) == len(runs["intact"].get("gradients").steps) == 20
    loss_steps = runs["truncated"].get("loss").steps
    assert 5 < np.sum(loss_steps < 20) < 20  # the first half of the truncated file
    np.testing.assert_array_equal(loss_steps[loss_steps >= 20], np.arange(20, 30))  # the later file in full


def _tags(provider, ctx):
    """{(run, tag, last wall time)} of the plugin's tensors: what a loader has read."""
    listing = provider.list_tensors(ctx, experiment_id="", plugin_name=metadata.PLUGIN_NAME)
    return {(run, tag, ts.max_wall_time) for run, tags in listing.items() for tag, ts in tags.items()}


def _rustboard(logdir, python):
    """RustBoard's data provider over `logdir` (started as TensorBoard starts it), once it has read
    every tensor the Python loader `python` has."""
    from tensorboard.data import server_ingester
    from tensorboard.util import grpc_util

    ingester = server_ingester.SubprocessServerDataIngester(
        server_ingester.get_server_binary(),
        logdir,
        reload_interval=0,
        channel_creds_type=grpc_util.ChannelCredsType.LOCAL,
        samples_per_plugin={metadata.PLUGIN_NAME: 0},
    )
    ingester.start()
    ctx = context.RequestContext()
    expected = _tags(python, ctx)
    for _ in range(100):
        if _tags(ingester.data_provider, ctx) >= expected:
            return ingester
        time.sleep(0.1)
    raise TimeoutError(f"RustBoard did not load {logdir}")


def test_both_tensorboard_loaders_give_the_same_run_data(tmp_path):
    _write(tmp_path, "run", n_steps=120, every=1)
    _write_rewound(tmp_path / "rewound" / "run")
    python = reader.logdir_provider(str(tmp_path))
    ctx = context.RequestContext()
    ingester = _rustboard(str(tmp_path), python)
    try:
        rust = ingester.data_provider
        assert reader.list_runs(rust, ctx, "") == reader.list_runs(python, ctx, "") == ["rewound/run", "run"]
        for name in ("run", "rewound/run"):
            a, b = reader.read_run(python, ctx, "", name), reader.read_run(rust, ctx, "", name)
            assert set(a.series) == set(b.series)
            for kind, series in a.series.items():
                other = b.get(kind)
                assert (series.rows, series.stats) == (other.rows, other.stats)
                for field in ("steps", "wall_times", "values"):
                    np.testing.assert_array_equal(getattr(series, field), getattr(other, field))
    finally:
        ingester._stdin_handle.close()  # the data server exits when its stdin closes (--die-after-stdin)


def test_each_request_reads_one_tag_to_stay_under_rustboards_message_limit(tmp_path):
    """RustBoard answers `read_tensors` in one gRPC message of at most 256 MB: a 10,000-step run of
    400 variables (440 MB over all kinds) fails in one request and passes one kind at a time."""
    written = _write(tmp_path, "run")
    provider = reader.logdir_provider(str(tmp_path))
    requested = []
    read_tensors = provider.read_tensors

    def spy(ctx, **kwargs):
        requested.append(kwargs["run_tag_filter"].tags)
        return read_tensors(ctx, **kwargs)

    provider.read_tensors = spy
    run = reader.read_run(provider, context.RequestContext(), "", "run")
    assert len(requested) == len(run.series) == len(written)
    assert all(len(tags) == 1 for tags in requested)
