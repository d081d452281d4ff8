"""The stats kernels against numpy on known tensors (NaN/Inf, None, IndexedSlices, ints)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tb_gradcause import metadata, stats


def np_tensor_stats(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64).ravel()
    f = x[np.isfinite(x)]
    if f.size:
        core = [np.sqrt((f**2).sum()), f.mean(), f.std(), f.min(), f.max(), np.abs(f).max()]
    else:
        core = [0.0] + [np.nan] * 5
    return np.array(core + [(x == 0).mean(), np.isnan(x).sum(), np.isinf(x).sum()])


def col(kind: str, name: str) -> int:
    return metadata.KIND_STATS[kind].index(name)


CASES = {
    "normal": np.random.default_rng(0).normal(3.0, 2.0, size=(17, 5)),
    "with_nan_inf": np.array([[1.0, np.nan, -2.0], [np.inf, 0.0, -np.inf], [0.0, 4.0, np.nan]]),
    "all_nan": np.full((2, 3), np.nan),
    "large_offset": 1e4 + np.random.default_rng(1).normal(size=200),
}


@pytest.mark.parametrize("name", list(CASES))
def test_tensor_stats_match_numpy(name):
    x = CASES[name]
    got = stats.tensor_stats_list([tf.constant(x, tf.float32)])[0].numpy()
    assert got.shape == (len(metadata.TENSOR_STATS),)
    np.testing.assert_allclose(got, np_tensor_stats(x.astype(np.float32)), rtol=1e-4, atol=1e-5, equal_nan=True)


def test_gradient_stats_none_and_int():
    missing = stats.gradient_stats_list([None])[0].numpy()
    assert missing[col("gradients", "missing")] == 1.0
    assert missing[col("gradients", "l2")] == 0.0 and missing[col("gradients", "nan")] == 0.0
    ints = np.array([[3, -4], [0, 0]], np.int32)
    got = stats.gradient_stats_list([tf.constant(ints)])[0].numpy()
    np.testing.assert_allclose(got[:-1], np_tensor_stats(ints), rtol=1e-6)
    assert got[-1] == 0.0


@pytest.mark.parametrize("dense", [False, True])
def test_indexed_slices_exact_with_duplicates(dense):
    values = np.array([[1.0, -2.0], [3.0, 0.5], [np.nan, 1.0], [-1.0, 2.0]], np.float32)
    indices = np.array([4, 1, 7, 4])  # row 4 twice: merged by summing
    slices = tf.IndexedSlices(tf.constant(values), tf.constant(indices), tf.constant([10, 2]))
    dense_np = np.zeros((10, 2), np.float32)
    np.add.at(dense_np, indices, values)
    got = stats.gradient_stats_list([slices], dense_slices=dense)[0].numpy()
    np.testing.assert_allclose(got[:-1], np_tensor_stats(dense_np), rtol=1e-5, atol=1e-6, equal_nan=True)


def test_activation_stats_dead_saturated_batch_std():
    x = np.array(
        [[-1.0, 0.5, 0.0, 0.999], [-2.0, 0.7, 0.0, 0.001], [-0.5, 0.1, 0.0, 0.5]], np.float32
    )  # unit 0 and 2 dead (<= 0 for every sample)
    got = stats.activation_stats_list([tf.constant(x)], ["sigmoid"])[0].numpy()
    np.testing.assert_allclose(got[: len(metadata.TENSOR_STATS)], np_tensor_stats(x), rtol=1e-5, atol=1e-6)
    assert got[col("activations", "dead_frac")] == pytest.approx(0.5)
    margin = stats.SATURATION_MARGIN
    expected_sat = ((x <= margin) | (x >= 1 - margin)).mean()
    assert got[col("activations", "saturated_frac")] == pytest.approx(expected_sat)
    assert got[col("activations", "batch_std")] == pytest.approx(x.std(axis=0).mean(), rel=1e-5)
    # tanh bounds are -1/1; an unknown activation never saturates.
    t = np.array([[-0.999, 0.0], [0.9999, 0.2]], np.float32)
    both = stats.activation_stats_list([tf.constant(t), tf.constant(x)], ["tanh", "my_fn"]).numpy()
    assert both[:, col("activations", "saturated_frac")].tolist() == [0.5, 0.0]


def test_activation_stats_conv_units_are_positions_and_channels():
    x = np.random.default_rng(0).normal(size=(4, 3, 3, 2)).astype(np.float32)
    x[:, 0, 0, 1] = -1.0  # one dead unit of 18
    got = stats.activation_stats_list([tf.constant(x)], ["relu"])[0].numpy()
    units = x.reshape(4, -1)
    assert got[col("activations", "dead_frac")] == pytest.approx((units.max(axis=0) <= 0).mean())
    assert got[col("activations", "batch_std")] == pytest.approx(units.std(axis=0).mean(), rel=1e-5)


def test_weight_stats():
    w = np.array([[3.0, -4.0], [np.nan, 0.0]], np.float32)
    u = np.array([[0.3, 0.0], [0.0, -0.4]], np.float32)
    got = stats.weight_stats_list([tf.constant(w)], [tf.constant(u)])[0].numpy()
    expected = [5.0, 4.0, 1.0, 0.0, 0.5, 0.1, np.nan]  # no value before: nonfinite_before unknown
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    ints = stats.weight_stats_list([tf.constant([[1, 2], [2, 4]], tf.int64)], [tf.constant([[0, 0], [0, 1]])])
    ints = ints[0].numpy()
    np.testing.assert_allclose(ints, [5.0, 4.0, 0.0, 0.0, 1.0, 0.2, np.nan], rtol=1e-6)


@pytest.mark.parametrize(
    "before, expected_nonfinite",
    [([[3.0, -4.0], [0.0, 1.0]], 0.0), ([[np.inf, -4.0], [np.nan, 1.0]], 2.0)],
    ids=["finite_before_fast_path", "nonfinite_before_exact_path"],
)
def test_weight_stats_count_nonfinite_values_before_the_update(before, expected_nonfinite):
    w = np.array([[3.0, -4.0], [0.0, 2.0]], np.float32)
    b = np.array(before, np.float32)
    got = stats.weight_stats_list([tf.constant(w)], [tf.constant(w - b)], [tf.constant(b)])[0].numpy()
    assert got[col("weights", "nonfinite_before")] == expected_nonfinite
    assert got[col("weights", "norm")] == pytest.approx(np.sqrt(29.0))


@pytest.mark.parametrize("with_inf", [False, True], ids=["finite_fast_path", "inf_exact_path"])
def test_input_stats_per_feature_capped(with_inf):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 5, 6)).astype(np.float32) * np.arange(1, 7, dtype=np.float32) + 3.0
    x[..., 1] = 2.5  # a constant feature: std 0, max_abs_z 0
    if with_inf:
        x[0, 0, 2] = np.inf
    got = stats.input_stats(tf.constant(x), max_features=4).numpy()
    assert got.shape == (4, len(metadata.KIND_STATS["inputs"]))
    feats = x.reshape(-1, 6)[:, :4].astype(np.float64)
    for j in range(4):
        f = feats[:, j][np.isfinite(feats[:, j])]
        z = np.abs(f - f.mean()).max() / f.std() if f.std() > 0 else 0.0
        expected = [f.mean(), f.std(), f.min(), f.max(), 0, np.isinf(feats[:, j]).sum(), z]
        np.testing.assert_allclose(got[j], expected, rtol=1e-4, atol=1e-5)


def test_time_grad_stats_positions_last_to_first():
    g = np.zeros((2, 20, 3), np.float32)
    for t in range(20):
        g[:, t, :] = t + 1  # norm at time t = (t+1) * sqrt(6)
    got = stats.time_grad_stats(tf.constant(g)).numpy()
    positions = np.round(np.linspace(19, 0, 8)).astype(int)
    np.testing.assert_allclose(got[:8], (positions + 1) * np.sqrt(6), rtol=1e-5)
    assert got[8] == 20
    short = stats.time_grad_stats(tf.ones((1, 3, 2))).numpy()
    assert short[8] == 3 and np.allclose(short[:8], np.sqrt(2))


def test_stats_compile_with_xla():
    @tf.function(jit_compile=True)
    def f(x):
        return stats.activation_stats_list([x], ["tanh"])[0], stats.input_stats(x), stats.tensor_stats_list([x])[0]

    x = tf.constant(CASES["with_nan_inf"], tf.float32)
    act, _, base = f(x)
    np.testing.assert_allclose(base.numpy(), np_tensor_stats(CASES["with_nan_inf"]), rtol=1e-5, equal_nan=True)
    assert act.shape == (len(metadata.KIND_STATS["activations"]),)


def test_weight_stats_without_updates_and_batched_fallback():
    ws = [tf.constant([3.0, 4.0]), tf.constant([np.inf, 1.0])]
    got = stats.weight_stats_list(ws, [None, None]).numpy()
    assert np.isnan(got[:, 4:]).all()  # update columns and nonfinite_before unknown
    np.testing.assert_allclose(got[0, :4], [5.0, 4.0, 0.0, 0.0])
    np.testing.assert_allclose(got[1, :4], [1.0, 1.0, 0.0, 1.0])  # exact path: Inf counted, not in norm


def test_large_outputs_sample_units_but_keep_exact_l2():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 12, 10, 16)).astype(np.float32)  # 1920 units per sample
    x[..., :4] = -np.abs(x[..., :4])  # channels 0-3 dead at every position: 1/4 of any channel-complete sample
    assert stats.sampled_positions(x.shape, 400) == (25, 120)
    assert stats.sample_facts(x.shape, 400) == {"sampled_units": "400 of 1920"}
    assert stats.sampled_positions(x.shape, 1920) is None and stats.sample_facts(x.shape, None) == {}
    sampled = stats.activation_stats_list([tf.constant(x)], ["relu"], max_units=400)[0].numpy()
    exact = stats.activation_stats_list([tf.constant(x)], ["relu"], max_units=None)[0].numpy()
    assert sampled[col("activations", "l2")] == pytest.approx(np.sqrt((x.astype(np.float64) ** 2).sum()), rel=1e-5)
    assert sampled[col("activations", "dead_frac")] == pytest.approx(0.25)
    assert exact[col("activations", "dead_frac")] == pytest.approx(0.25)
    for name in ("mean", "std", "batch_std"):  # estimates from 400 of 1920 units
        assert sampled[col("activations", name)] == pytest.approx(exact[col("activations", name)], rel=0.1)
    picked = stats.unit_sample(tf.constant(x), 400).numpy().reshape(16, 25, 16)
    positions = x.reshape(16, 120, 16)
    hits = [next(p for p in range(120) if np.array_equal(positions[:, p], picked[:, i])) for i in range(25)]
    assert hits == sorted(hits) and hits[0] == 2 and hits[-1] == 117  # evenly spaced, centred


def test_sampled_output_with_a_nan_outside_the_sample_falls_back_to_every_element():
    x = np.ones((2, 40, 8), np.float32)
    x[1, 1, 3] = np.nan  # position 1 is not among the 5 evenly spaced positions kept
    assert 1 not in np.floor((np.arange(5) + 0.5) * 40 / 5)
    outputs = stats.output_stats_list([tf.constant(x)], 40).numpy()[0]
    activations = stats.activation_stats_list([tf.constant(x)], [""], 40)[0].numpy()
    for got in (outputs, activations):
        np.testing.assert_allclose(got[: len(metadata.TENSOR_STATS)], np_tensor_stats(x), rtol=1e-5, equal_nan=True)
