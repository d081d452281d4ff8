"""The stats kernels on finite tensors whose float32 squares overflow (|x| ~ 1e20) or flush to 0
(|x| ~ 1e-30): every norm, std and RMS stays finite and right; only NaN/Inf elements are counted
as non-finite."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tb_gradcause import metadata, stats
from tests.unit.test_stats import col, np_tensor_stats

RNG = np.random.default_rng(0)
MAGNITUDES = [1e20, 1e-30]


def _tensor(magnitude: float, shape=(16, 8)) -> np.ndarray:
    """Values of about `magnitude`, of both signs, with an offset (the mean is not 0)."""
    return (magnitude * (RNG.normal(size=shape) + 0.5)).astype(np.float32)


def _close(got, want, rtol=1e-4):
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=rtol, atol=0.0, equal_nan=True)


@pytest.mark.parametrize("magnitude", MAGNITUDES)
def test_tensor_and_gradient_stats(magnitude):
    x = _tensor(magnitude)
    got = stats.gradient_stats_list([tf.constant(x)])[0].numpy()
    assert np.isfinite(got).all() and got[col("gradients", "nan")] == 0 and got[col("gradients", "inf")] == 0
    _close(got[:-1], np_tensor_stats(x))


@pytest.mark.parametrize("magnitude", MAGNITUDES)
def test_indexed_slices_stats(magnitude):
    values = _tensor(magnitude, (3, 4))
    slices = tf.IndexedSlices(tf.constant(values), tf.constant([5, 1, 5]), tf.constant([9, 4]))
    dense = np.zeros((9, 4), np.float64)
    np.add.at(dense, [5, 1, 5], values.astype(np.float64))
    for dense_slices in (False, True):
        got = stats.gradient_stats_list([slices], dense_slices=dense_slices)[0].numpy()
        _close(got[:-1], np_tensor_stats(dense.astype(np.float32)))


@pytest.mark.parametrize("magnitude", MAGNITUDES)
@pytest.mark.parametrize("max_units", [None, 16])  # 16: a sampled [batch, 8, 8, 4] output
def test_output_and_activation_stats(magnitude, max_units):
    x = _tensor(magnitude, (6, 8, 8, 4))
    n_tensor = len(metadata.TENSOR_STATS)
    for got in (
        stats.output_stats_list([tf.constant(x)], max_units)[0].numpy(),
        stats.activation_stats_list([tf.constant(x)], ["linear"], max_units)[0].numpy()[:n_tensor],
    ):
        assert np.isfinite(got).all() and got[col("activations", "nan")] == 0
        want = np_tensor_stats(x)
        _close(got[:3], want[:3])  # l2, mean, std
    acts = stats.activation_stats_list([tf.constant(x)], ["linear"], None)[0].numpy()
    batch_std = np.asarray(x, np.float64).reshape(6, -1).std(axis=0).mean()
    _close(acts[col("activations", "batch_std")], batch_std)


@pytest.mark.parametrize("magnitude", MAGNITUDES)
def test_weight_stats_and_their_update(magnitude):
    before = _tensor(magnitude, (8, 16))
    after = (before * np.float32(1.5)).astype(np.float32)
    got = stats.weight_stats_list(
        [tf.constant(after)], [tf.constant(after) - tf.constant(before)], [tf.constant(before)]
    ).numpy()[0]
    norm = np.linalg.norm(after.astype(np.float64))
    update = np.linalg.norm(after.astype(np.float64) - before)
    names = metadata.KIND_STATS["weights"]
    assert got[names.index("nan")] == 0 and got[names.index("inf")] == 0
    assert got[names.index("nonfinite_before")] == 0
    _close(
        got[[names.index("norm"), names.index("update_norm"), names.index("update_ratio")]],
        [norm, update, update / norm],
    )


def test_weight_stats_keep_a_non_finite_update_non_finite():
    after = np.array([1e20, np.inf, 2.0], np.float32)
    before = np.array([1e20, 1.0, 2.0], np.float32)
    got = stats.weight_stats_list([tf.constant(after)], [tf.constant(after - before)], [tf.constant(before)]).numpy()[0]
    names = metadata.KIND_STATS["weights"]
    _close(got[names.index("norm")], np.hypot(1e20, 2.0))  # of the finite elements
    assert got[names.index("inf")] == 1 and got[names.index("update_norm")] == np.inf


@pytest.mark.parametrize("magnitude", MAGNITUDES)
def test_input_stats(magnitude):
    x = _tensor(magnitude, (32, 3))
    got = stats.input_stats(tf.constant(x)).numpy()
    x64 = x.astype(np.float64)
    names = metadata.KIND_STATS["inputs"]
    _close(got[:, names.index("std")], x64.std(axis=0))
    z = np.abs(x64 - x64.mean(axis=0)).max(axis=0) / x64.std(axis=0)
    _close(got[:, names.index("max_abs_z")], z, rtol=1e-3)


@pytest.mark.parametrize("magnitude", MAGNITUDES)
def test_time_grad_stats(magnitude):
    g = _tensor(magnitude, (4, 10, 3))
    got = stats.time_grad_stats(tf.constant(g)).numpy()
    per_t = np.linalg.norm(g.astype(np.float64), axis=(0, 2))
    _close(got[:-1], per_t[stats.time_positions(10).numpy()])
    g[1, 0, 0] = np.nan  # a NaN still shows at its position (the first, t_7)
    got = stats.time_grad_stats(tf.constant(g)).numpy()
    assert np.isnan(got[7]) and np.isfinite(got[:7]).all()
