"""The fast stat kernels against the exact (NaN/Inf-aware) ones on finite tensors, every kind: the
fast rows must be taken (no fallback) and equal the exact rows within float tolerance, on random
data and on data made to break one-pass formulas (a large mean with a tiny spread, one element
dominating, many exact zeros, a batch of one)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tb_gradcause import metadata, stats

RNG = np.random.default_rng(7)
N_TENSOR = len(metadata.TENSOR_STATS)


def _dominated(shape) -> np.ndarray:
    x = RNG.normal(size=shape) * 1e-3
    x.flat[3] = 1e6
    return x


def _sparse(shape) -> np.ndarray:
    return np.maximum(RNG.normal(size=shape), 0.0)  # about half exact zeros, some units dead


CASES = {
    "random": lambda shape: RNG.normal(0.5, 2.0, size=shape),
    "large_mean_tiny_spread": lambda shape: 1e5 + RNG.normal(size=shape) * 0.1,
    "negative_large_mean": lambda shape: -3e3 + RNG.normal(size=shape) * 1e-2,
    "dominated": _dominated,
    "sparse": _sparse,
    "mixed_magnitudes": lambda shape: RNG.normal(size=shape) * 10.0 ** RNG.integers(-3, 4, size=shape),
    "constant": lambda shape: np.full(shape, 0.3),
}
SHAPES = [(16, 32), (1, 5), (4, 6, 6, 3)]


def _data(case: str, shape) -> tf.Tensor:
    return tf.constant(CASES[case](shape).astype(np.float32))


@pytest.fixture
def fast_only(monkeypatch):
    """`stats._fast_unless` returning the fast rows, failing if it would have fallen back."""

    def fast_unless(ok, fast, exact):
        with tf.control_dependencies([tf.debugging.Assert(ok, ["a finite tensor fell back to the exact kernels"])]):
            return tf.identity(fast)

    monkeypatch.setattr(stats, "_fast_unless", fast_unless)


def _close(fast, exact, rtol=2e-4) -> None:
    fast, exact = np.asarray(fast, np.float64), np.asarray(exact, np.float64)
    scale = np.abs(exact[..., :1]).max() if exact.size else 0.0  # std and mean next to a large norm: absolute slack
    np.testing.assert_allclose(fast, exact, rtol=rtol, atol=1e-6 + 1e-6 * scale)


@pytest.mark.parametrize("case", list(CASES))
def test_tensor_output_and_gradient_rows(case, fast_only):
    xs = [_data(case, shape) for shape in SHAPES]
    exact = np.stack([stats._exact_tensor_stats(x).numpy() for x in xs])
    for fast in (
        stats.tensor_stats_list(xs),
        stats.output_stats_list(xs, None),
        stats.gradient_stats_list(xs)[:, :N_TENSOR],
    ):
        _close(fast.numpy(), exact)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "log_sigmoid"])
def test_activation_rows(case, activation, fast_only):
    xs = [_data(case, shape) for shape in SHAPES]
    fast = stats.activation_stats_list(xs, [activation] * len(xs), None).numpy()
    exact = np.stack([stats._exact_activation_stats(x, activation).numpy() for x in xs])
    _close(fast, exact)


@pytest.mark.parametrize("case", ["random", "sparse"])
def test_activation_rows_of_scalars_vectors_and_unknown_unit_counts(case, fast_only):
    """Outputs of every rank in one list, traced with unknown batch and unit counts."""
    xs = [_data(case, ()), tf.constant(-2.0), _data(case, (7,)), _data(case, (5, 3)), _data(case, (4, 2, 6))]
    acts = ["relu", "sigmoid", "relu", "tanh", "relu"]
    specs = [tf.TensorSpec([None] * x.shape.rank, tf.float32) for x in xs]
    traced = tf.function(lambda *t: stats.activation_stats_list(list(t), acts, None), input_signature=specs)
    exact = np.stack([stats._exact_activation_stats(x, a).numpy() for x, a in zip(xs, acts)])
    _close(traced(*xs).numpy(), exact)
    _close(stats.activation_stats_list(xs, acts, None).numpy(), exact)


@pytest.mark.parametrize("case", ["random", "large_mean_tiny_spread", "sparse"])
def test_sampled_rows(case, fast_only):
    """A sampled output's stats are those of its sample, its L2 norm that of every element."""
    xs = [_data(case, (3, 10, 10, 4)), _data(case, (3, 7))]  # the first sampled at 16 units per sample
    outputs = stats.output_stats_list(xs, 16).numpy()
    activations = stats.activation_stats_list(xs, ["tanh", "relu"], 16).numpy()
    for x, out, act in zip(xs, outputs, activations):
        sample = stats.unit_sample(x, 16)
        exact = stats._exact_activation_stats(sample, "tanh" if x.shape.rank == 4 else "relu").numpy()
        exact[0] = stats._exact_tensor_stats(x).numpy()[0]
        _close(out, exact[:N_TENSOR])
        _close(act, exact)


@pytest.mark.parametrize("case", list(CASES))
def test_weight_rows(case, fast_only):
    weights = [_data(case, shape) for shape in SHAPES] + [tf.zeros([0, 3])]
    befores = [w - _data("random", w.shape) * 1e-3 for w in weights]
    updates: list = [w - b for w, b in zip(weights, befores)]
    updates[1] = None  # unknown update: NaN update columns
    known = [b if i != 2 else None for i, b in enumerate(befores)]  # unknown value before: NaN nonfinite_before
    fast = stats.weight_stats_list(weights, updates, known).numpy()
    exact = np.stack([stats._exact_weight_stats(w, u, b).numpy() for w, u, b in zip(weights, updates, known)])
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(exact))
    _close(np.nan_to_num(fast), np.nan_to_num(exact))
    assert fast[-1].tolist()[:6] == [0.0] * 6 and not np.signbit(fast[-1, 1])  # the empty weight


def test_an_empty_weight_has_norm_0_on_the_exact_path_too():
    empty = tf.zeros([0, 3])
    np.testing.assert_array_equal(stats._exact_weight_stats(empty, empty, empty).numpy(), [0.0] * 7)


def test_gradient_rows_keep_their_order_among_missing_and_slices():
    dense = _data("random", (4, 3))
    slices = tf.IndexedSlices(_data("random", (2, 3)), tf.constant([0, 2]), tf.constant([5, 3]))
    got = stats.gradient_stats_list([None, dense, slices, None]).numpy()
    missing = metadata.KIND_STATS["gradients"].index("missing")
    assert got[:, missing].tolist() == [1.0, 0.0, 0.0, 1.0]
    np.testing.assert_array_equal(got[0], stats.MISSING_GRADIENT)
    np.testing.assert_allclose(got[1, :N_TENSOR], stats._exact_tensor_stats(dense).numpy(), rtol=1e-5)
    np.testing.assert_allclose(got[2, :N_TENSOR], stats.indexed_slices_stats(slices).numpy(), rtol=1e-5)


@pytest.mark.parametrize(
    "kind", ["tensor", "output", "activation", "weight", "weight_update"], ids=lambda kind: f"{kind}_falls_back"
)
def test_a_non_finite_element_in_any_one_tensor_routes_every_row_to_the_exact_kernels(kind):
    finite = [_data("random", (8, 4)) for _ in range(3)]
    for bad in (np.nan, np.inf, -np.inf):
        x = _data("random", (8, 4)).numpy()
        x[5, 2] = bad
        xs = [*finite[:1], tf.constant(x), *finite[1:]]
        if kind == "tensor":
            got = stats.tensor_stats_list(xs).numpy()
            want = np.stack([stats._exact_tensor_stats(t).numpy() for t in xs])
        elif kind == "output":
            got = stats.output_stats_list(xs).numpy()
            want = np.stack([stats._exact_tensor_stats(t).numpy() for t in xs])
        elif kind == "activation":
            got = stats.activation_stats_list(xs, ["relu"] * 4).numpy()
            want = np.stack([stats._exact_activation_stats(t, "relu").numpy() for t in xs])
        else:
            weights = finite + finite[:1] if kind == "weight_update" else xs
            updates = xs if kind == "weight_update" else finite + finite[:1]
            got = stats.weight_stats_list(weights, updates).numpy()
            want = np.stack([stats._exact_weight_stats(w, u).numpy() for w, u in zip(weights, updates)])
        np.testing.assert_array_equal(got, want)
