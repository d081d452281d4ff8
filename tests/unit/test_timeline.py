"""Columnar timeline JSON and its decimation (pure numpy, no TensorBoard)."""

import json
import struct

import numpy as np
import pytest

from tb_gradcause.analysis import json_numbers
from tb_gradcause.analysis.causes import Cause, RunDiagnosis, evidence
from tb_gradcause.analysis.reader import Series
from tb_gradcause.metadata import KIND_STATS
from tb_gradcause.plugin import timeline
from tb_gradcause.rows import RowInfo
from tests.support import binary_timeline

STATS = KIND_STATS["gradients"]


def _series(steps, values, rows=None):
    rows = rows or [RowInfo(name=f"dense_{i}/kernel", layer=f"dense_{i}", shape=(3, 2)) for i in range(values.shape[1])]
    steps = np.asarray(steps, np.int64)
    return Series("gradients", steps, steps * 0.1, values, tuple(rows), STATS)


def _json_text(*args, **kwargs) -> str:
    return timeline.timeline_json(timeline.timeline_content(*args, **kwargs))


def _binary(*args, **kwargs) -> bytes:
    return timeline.timeline_binary(timeline.timeline_content(*args, **kwargs))


def _random(n_steps, n_rows, seed=0):
    rng = np.random.default_rng(seed)
    values = rng.lognormal(size=(n_steps, n_rows, len(STATS))).astype(np.float32)
    values[..., STATS.index("nan")] = 0
    values[..., STATS.index("inf")] = 0
    return np.arange(n_steps, dtype=np.int64) * 3, values


@pytest.mark.parametrize("lengths", [[3, 4, 3, 4, 1], [1, 1, 1, 1, 40, 1], [7]], ids=["even", "skewed", "one"])
def test_bucket_extremes_are_each_buckets_min_and_max(lengths):
    """Both ways (folding even buckets, `reduceat` for skewed ones) give each bucket's extremes."""
    values = np.random.default_rng(1).normal(size=(sum(lengths), 3, 2)).astype(np.float32)
    ends = np.cumsum(lengths) - 1
    starts = ends - np.asarray(lengths) + 1
    low, high = timeline.bucket_extremes(values, starts, ends)
    for i, (first, last) in enumerate(zip(starts, ends)):
        np.testing.assert_array_equal(low[i], values[first : last + 1].min(axis=0))
        np.testing.assert_array_equal(high[i], values[first : last + 1].max(axis=0))
    # The same buckets over some rows of a longer array, without copying them out first.
    rows = np.arange(len(values)) * 2 + 1
    wider = np.zeros((2 * len(values) + 1, *values.shape[1:]), np.float32)
    wider[rows] = values
    np.testing.assert_array_equal(timeline.bucket_extremes(wider, starts, ends, rows), (low, high))


def test_short_series_is_not_decimated():
    steps, values = _random(50, 2)
    out_steps, (out_values,) = timeline.decimate(steps, [values], np.zeros(50, bool), 50)
    assert out_steps is steps and out_values is values


def test_decimation_keeps_every_bucket_extreme_and_every_nonfinite_step():
    steps, values = _random(2000, 3)
    values[700, 1, STATS.index("l2")] = np.nan
    values[1500, 0, STATS.index("max")] = -np.inf
    values[333, 2, STATS.index("nan")] = 4  # a NaN count with finite summary stats
    bad = timeline.nonfinite_steps(values, STATS)
    assert np.flatnonzero(bad).tolist() == [333, 700, 1500]

    out_steps, (out_values,) = timeline.decimate(steps, [values], bad, 101)

    assert len(out_steps) <= 101 and np.all(np.diff(out_steps) > 0)
    for i in np.flatnonzero(bad):
        (j,) = np.flatnonzero(out_steps == steps[i])
        np.testing.assert_array_equal(out_values[j], values[i])
    # Each bucket of good steps spans [first, last]; its extremes are there.
    good = ~bad
    kept_good = ~np.isin(out_steps, steps[bad])
    edges = out_steps[kept_good]
    for first, last in zip(edges[0::2], edges[1::2]):
        inside = good & (steps >= first) & (steps <= last)
        block = values[inside]
        pair = out_values[np.isin(out_steps, [first, last])]
        np.testing.assert_array_equal(pair.min(axis=0), block.min(axis=0))
        np.testing.assert_array_equal(pair.max(axis=0), block.max(axis=0))
    # Together the buckets cover every good step.
    covered = np.zeros(len(steps), bool)
    for first, last in zip(edges[0::2], edges[1::2]):
        covered |= (steps >= first) & (steps <= last)
    assert covered[good].all()


def test_monotonic_series_is_exact_at_the_kept_steps():
    steps = np.arange(1000, dtype=np.int64)
    values = np.zeros((1000, 2, len(STATS)), np.float32)
    values[:, 0, 0] = np.linspace(1, 2, 1000)  # rising
    values[:, 1, 0] = np.linspace(5, 3, 1000)  # falling
    out_steps, (out_values,) = timeline.decimate(steps, [values], np.zeros(1000, bool), 40)
    assert 20 < len(out_steps) <= 40
    np.testing.assert_array_equal(out_values[:, :, 0], values[out_steps, :, 0])


def test_many_nonfinite_steps_are_all_kept_beyond_the_budget():
    steps, values = _random(300, 1)
    values[::2, 0, 0] = np.inf
    bad = timeline.nonfinite_steps(values, STATS)
    out_steps, _ = timeline.decimate(steps, [values], bad, 10)
    assert set(steps[bad].tolist()) <= set(out_steps.tolist())
    assert len(out_steps) <= bad.sum() + 2


def test_json_is_columnar_with_nonfinite_strings_and_rows_as_data():
    steps, values = _random(5, 2)
    values[1, 0, STATS.index("l2")] = np.nan
    values[2, 1, STATS.index("max")] = np.inf
    values[3, 1, STATS.index("min")] = -np.inf
    hostile = "x<img src=x onerror=alert(1)>"
    rows = [
        RowInfo(
            name=f"{hostile}/kernel",
            layer=hostile,
            layer_class="Dense",
            activation="relu",
            shape=(3, 2),
            role="kernel",
            depth=0,
            facts={"dtype": "float32"},
        ),
        RowInfo(name="b", depth=1),
    ]

    payload = json.loads(_json_text("run<1>", _series(steps, values, rows)))

    assert payload["run"] == "run<1>" and payload["kind"] == "gradients"
    assert payload["steps"] == steps.tolist() and payload["stats"] == list(STATS)
    assert payload["rows"][0] == {
        "name": f"{hostile}/kernel",
        "layer": hostile,
        "layer_class": "Dense",
        "activation": "relu",
        "shape": [3, 2],
        "recurrent": False,
        "role": "kernel",
        "depth": 0,
        "facts": {"dtype": "float32"},
    }
    l2 = payload["values"]["l2"]
    assert len(l2) == 2 and len(l2[0]) == 5
    assert l2[0][1] == "NaN" and payload["values"]["max"][1][2] == "Infinity"
    assert payload["values"]["min"][1][3] == "-Infinity"
    assert l2[1][4] == pytest.approx(float(values[4, 1, 0]), rel=1e-6)


def test_json_subset_of_stats_and_decimation_uses_all_stats_for_nonfinite_steps():
    steps, values = _random(400, 2)
    values[123, 0, STATS.index("inf")] = 1
    payload = json.loads(_json_text("r", _series(steps, values), max_points=20, stats=("l2",)))
    assert payload["stats"] == ["l2"] and list(payload["values"]) == ["l2"]
    assert int(steps[123]) in payload["steps"] and len(payload["steps"]) <= 20


def test_integral_stats_are_json_integers():
    steps, values = _random(4, 1)
    values[..., STATS.index("missing")] = 0
    values[2, 0, STATS.index("missing")] = 1
    payload = json.loads(_json_text("r", _series(steps, values), stats=("nan", "missing", "l2")))
    assert payload["values"]["nan"] == [[0, 0, 0, 0]] and payload["values"]["missing"] == [[0, 0, 1, 0]]
    assert all(isinstance(v, int) for v in payload["values"]["missing"][0])
    assert all(isinstance(v, float) for v in payload["values"]["l2"][0])


def test_finite_only_stats_of_a_nonfinite_row_are_sent_as_nan_never_as_values():
    """A NaN gradient's L2 over its finite elements (often none: 0) is not its norm: the route sends NaN."""
    steps, values = _random(4, 2)
    values[1, 0, STATS.index("nan")] = 6
    values[1, 0, STATS.index("l2")] = 0.0  # the finite part of an all-NaN tensor
    values[2, 1, STATS.index("inf")] = 1
    values[2, 1, STATS.index("zero_frac")] = 0.25
    original = values.copy()

    payload = json.loads(_json_text("r", _series(steps, values)))["values"]

    for name in ("l2", "mean", "std", "min", "max", "max_abs"):
        assert payload[name][0][1] == "NaN" and payload[name][1][2] == "NaN", name
        assert payload[name][0][0] != "NaN" and payload[name][1][1] != "NaN", name  # other rows/steps untouched
    # Counts, and stats over every element, stay as logged.
    assert payload["nan"][0][1] == 6 and payload["inf"][1][2] == 1
    assert payload["zero_frac"][1][2] == pytest.approx(0.25)
    np.testing.assert_array_equal(values, original)  # the reader's arrays are not written


def test_weight_norm_and_update_ratio_of_a_nonfinite_variable_are_nan():
    stats = KIND_STATS["weights"]
    values = np.ones((3, 1, len(stats)), np.float32)
    values[..., stats.index("nan")] = 0
    values[..., stats.index("inf")] = 0
    values[2, 0, stats.index("nan")] = 5
    steps = np.arange(3, dtype=np.int64)
    series = Series("weights", steps, steps * 0.1, values, (RowInfo(name="d/kernel", layer="d"),), stats)
    payload = json.loads(_json_text("r", series, stats=("norm", "update_ratio", "update_norm")))["values"]
    assert payload["norm"][0] == [1.0, 1.0, "NaN"] and payload["update_ratio"][0] == [1.0, 1.0, "NaN"]
    assert payload["update_norm"][0] == [1.0, 1.0, 1.0]  # an L2 over every element: non-finite by itself


def test_activation_fractions_of_a_nonfinite_output_are_nan():
    """An all-NaN output counts as 100 % dead and 0 % saturated by convention: no health reading."""
    stats = KIND_STATS["activations"]
    values = np.zeros((2, 1, len(stats)), np.float32)
    values[1, 0, stats.index("nan")] = 8
    values[1, 0, stats.index("dead_frac")] = 1.0
    steps = np.arange(2, dtype=np.int64)
    series = Series("activations", steps, steps * 0.1, values, (RowInfo(name="d", layer="d"),), stats)
    payload = json.loads(_json_text("r", series, stats=("dead_frac", "saturated_frac", "zero_frac")))
    assert payload["values"]["dead_frac"][0] == [0.0, "NaN"] and payload["values"]["saturated_frac"][0] == [0.0, "NaN"]
    assert payload["values"]["zero_frac"][0] == [0.0, 0.0]


def test_thinning_keeps_the_steps_a_cause_names_and_every_nonfinite_step():
    steps, values = _random(5000, 2)  # steps 0, 3, 6, ...
    values[4321, 1, STATS.index("l2")] = np.nan
    grew = evidence("gradient_rms_growth", 1e3, 100, ">", step=3900)
    cause = Cause.create("exploding_gradient", "warning", "dense_0", 3702, 7035, "title", [grew], "advice")
    keep = timeline.cause_steps(RunDiagnosis([cause], [], {}))
    assert keep == [3702, 3900, 7035]
    data = json.loads(_json_text("r", _series(steps, values), max_points=40, keep_steps=keep))
    assert len(data["steps"]) <= 40
    assert {3702, 3900, 7035, int(steps[4321])} <= set(data["steps"])
    at = data["steps"].index(3900)
    assert data["values"]["l2"][0][at] == pytest.approx(float(values[1300, 0, STATS.index("l2")]), rel=1e-6)


def test_binary_form_holds_the_json_forms_content_with_the_floats_as_logged():
    steps, values = _random(3000, 3)
    values[:, :, STATS.index("l2")] *= np.float32(1.2345678e-5)  # digits the JSON form rounds away
    values[700, 1, STATS.index("l2")] = np.nan
    values[800, 2, STATS.index("max")] = np.inf
    values[900, 0, STATS.index("min")] = -np.inf
    values[1000, 0, STATS.index("nan")] = 3  # masks that row's l2 at that step
    series = _series(steps, values)
    for args in [(None, None, ()), (50, ("l2", "nan", "max", "min"), (3 * 2222,)), (None, ("missing", "l2"), ())]:
        sent = binary_timeline.decode(_binary("run<ü>", series, *args))
        as_json = json.loads(_json_text("run<ü>", series, *args))
        assert {k: sent[k] for k in ("run", "kind", "rows", "stats", "steps")} == {
            k: as_json[k] for k in ("run", "kind", "rows", "stats", "steps")
        }
        for stat, rows in sent["values"].items():
            assert rows.dtype == np.float32 and rows.shape == (len(sent["rows"]), len(sent["steps"]))
            decoded = [[json_numbers.parse(v) for v in row] for row in as_json["values"][stat]]
            np.testing.assert_allclose(rows, decoded, rtol=1e-6)
    full = binary_timeline.decode(_binary("r", series))
    expected = values[:, :, STATS.index("l2")].T.copy()
    expected[0, 1000] = np.nan
    np.testing.assert_array_equal(full["values"]["l2"], expected)  # bit for bit, NaN/Inf native
    assert np.isposinf(full["values"]["max"][2, 800]) and np.isneginf(full["values"]["min"][0, 900])


def test_binary_form_of_an_empty_selection_is_its_header():
    body = _binary("r", _series([], np.zeros((0, 2, len(STATS)), np.float32)))
    sent = binary_timeline.decode(body)
    assert sent["steps"] == [] and sent["stats"] == list(STATS) and len(body) % 8 == 0


def test_binary_form_leaves_out_all_zero_rows_and_says_which():
    """Count columns are mostly zeros (no NaN, no Inf, nothing missing): such a row is named in the
    header's `zero_rows` instead of sent; -0.0 and NaN are values, sent as they are."""
    steps, values = _random(100, 3)
    values[:, :, STATS.index("missing")] = 0
    values[40, 1, STATS.index("missing")] = 1
    values[:, 2, STATS.index("l2")] = 0
    values[7, 2, STATS.index("max")] = -0.0
    series = _series(steps, values)
    stats = ("l2", "nan", "missing", "max")
    body = _binary("r", series, stats=stats)
    header = json.loads(header_bytes(body))
    assert header["zero_rows"] == [[2], [0, 1, 2], [0, 2], []]
    sent = 12 - 6
    assert len(body) == 4 + len(header_bytes(body)) + 8 * 100 + 4 * 100 * sent
    decoded = binary_timeline.decode(body)
    for stat in stats:
        np.testing.assert_array_equal(decoded["values"][stat], values[:, :, STATS.index(stat)].T)
    assert np.signbit(decoded["values"]["max"][2, 7])


def header_bytes(body: bytes) -> bytes:
    return body[4 : 4 + struct.unpack_from("<I", body)[0]]
