"""Per-layer views shared by the detectors: sums of rows per layer and the layer RMS."""

import numpy as np

from tb_gradcause.analysis.reader import Series
from tb_gradcause.analysis.signals import per_layer
from tb_gradcause.rows import RowInfo

# Layer "b" comes first in forward order; "a" has three rows, "c" one.
ROWS = (
    RowInfo("a/kernel", layer="a", depth=1, role="kernel", shape=(2, 2)),
    RowInfo("b/kernel", layer="b", depth=0, role="kernel", shape=(3,)),
    RowInfo("a/bias", layer="a", depth=1, role="bias", shape=(2,)),
    RowInfo("c/kernel", layer="c", depth=2, role="kernel", shape=(5,)),
    RowInfo("a/extra", layer="a", depth=1, role="kernel", shape=(4,)),
)


def _naive_total(layers, values, rows):
    result = np.zeros((values.shape[0], len(layers.names)))
    for column, row in enumerate(rows):
        result[:, layers.index[row]] += np.nan_to_num(values[:, column], nan=0.0, posinf=np.inf)
    return result


def test_total_sums_rows_per_layer_in_forward_order_with_nan_as_zero():
    layers = per_layer.Layers.of(ROWS)
    assert layers.names == ("b", "a", "c")
    values = np.arange(15, dtype=np.float32).reshape(3, 5)
    values[1, 2], values[2, 0] = np.nan, np.inf
    np.testing.assert_array_equal(layers.total(values), _naive_total(layers, values, range(5)))
    assert layers.total(values).dtype == np.float64


def test_total_of_some_rows_gives_zero_to_layers_without_one():
    layers = per_layer.Layers.of(ROWS)
    rows = np.array([4, 0, 2])  # only layer "a", in another order
    values = np.arange(6, dtype=np.float64).reshape(2, 3)
    np.testing.assert_array_equal(layers.total(values, rows), _naive_total(layers, values, rows))
    assert layers.total(np.zeros((2, 0)), np.array([], dtype=np.int64)).shape == (2, 3)


def test_rms_over_kernels_leaves_out_biases_missing_rows_and_zeros():
    stats = ("l2", "zero_frac", "missing")
    values = np.zeros((2, len(ROWS), len(stats)), dtype=np.float32)
    values[:, :, 0] = [[2, 3, 100, 5, 4], [2, 3, 100, 5, 4]]
    values[1, 3, 1] = 0.8  # c: only 1 of its 5 elements is non-zero at step 1
    values[1, 4, 2] = 1  # a/extra: no gradient at step 1
    series = Series("gradients", np.arange(2), np.zeros(2), values, ROWS, stats)
    layers, rms = per_layer.rms(series, roles=per_layer.KERNEL_ROLES)
    per_layer.clear_memos()
    expected = [
        [np.sqrt(9 / 3), np.sqrt((4 + 16) / 8), np.sqrt(25 / 5)],
        [np.sqrt(9 / 3), np.sqrt(4 / 4), np.sqrt(25 / 1)],
    ]
    np.testing.assert_allclose(rms, expected, rtol=1e-6)
