"""Fused on-device statistics kernels: one float32 stat row per tensor, stacked per kind.

Every function is plain TensorFlow (graph, eager and XLA compatible unless noted) and never syncs
with the host. The entry points are `*_stats_list` (one row per tensor of a list), `input_stats`
and `time_grad_stats`. A fast path assumes finite values of moderate size; one conditional per
call falls back to exact, NaN/Inf-aware kernels when a result shows otherwise (a NaN/Inf, or a sum
of squares that overflowed or may have flushed to 0). The exact kernels divide by the largest |x|
before squaring, so a finite tensor always has a finite norm and std; only the NaN/Inf counts say
whether it is finite. Layer outputs with more than
`max_units` units per sample (`metadata.SAMPLE_UNITS` by default) get their stats from a fixed
sample of units (`unit_sample`), but their L2 norm and finiteness from every element. Column
order follows `tb_gradcause.metadata.KIND_STATS`; `docs/stats.md` defines every column.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf
from tensorflow.python.ops import control_flow_util  # pylint: disable=no-name-in-module

from tb_gradcause import metadata

# (low, high) output bounds of activations that saturate; saturation = within
# SATURATION_MARGIN of the output range from a bound.
SATURATION_BOUNDS: dict[str, tuple[float, float]] = {
    "sigmoid": (0.0, 1.0),
    "hard_sigmoid": (0.0, 1.0),
    "hard_silu_gate": (0.0, 1.0),
    "softmax": (0.0, 1.0),
    "log_sigmoid": (float("-inf"), 0.0),
    "tanh": (-1.0, 1.0),
    "hard_tanh": (-1.0, 1.0),
    "soft_sign": (-1.0, 1.0),
    "softsign": (-1.0, 1.0),
}
SATURATION_MARGIN = 0.005

N_TIME_POSITIONS = 8

_NAN = float("nan")
# The fast kernels' float32 sums of squares are trusted when a tensor's largest |x| is 0 or at least
# this: its squares then stay far above float32's smallest normal number (1.2e-38; TensorFlow
# flushes smaller ones to 0 on CPU) for every element down to 1e-4 of the largest. Overflow needs
# no such bound: it shows as Inf, which sends the rows to the exact (scaled) kernels too.
_TINY = 1e-15


def _as_float(x: tf.Tensor) -> tf.Tensor:
    x = tf.convert_to_tensor(x)
    return x if x.dtype == tf.float32 else tf.cast(x, tf.float32)


def _shared(kernel: Callable[..., tf.Tensor]) -> Callable[..., tf.Tensor]:
    """`kernel` as one `tf.function` per rank of its first argument, shapes relaxed after the
    first trace (the rank stays known: the kernels reshape by it).

    The exact kernels run only when the fast ones meet trouble, yet built inline they made two
    thirds of a capture's graph (~100 ops per tensor: a 30-layer MLP's first `fit` spent a minute
    building them). As calls of one function each tensor adds one op, and each rank (and Python
    argument) is traced at most twice, whatever the model's depth."""
    by_rank: dict[int | None, Callable[..., tf.Tensor]] = {}

    def call(x: tf.Tensor, *args) -> tf.Tensor:
        rank = x.shape.rank
        if rank not in by_rank:
            by_rank[rank] = tf.function(kernel, reduce_retracing=True, autograph=False)
        return by_rank[rank](x, *args)

    return call


@dataclasses.dataclass
class _Moments:
    """Stats over an axis of a tensor's finite elements (NaN when there is none; `l2` is then 0)."""

    finite: tf.Tensor  # the element mask
    count: tf.Tensor
    mean: tf.Tensor
    std: tf.Tensor
    min: tf.Tensor
    max: tf.Tensor
    l2: tf.Tensor


def _masked_moments(x: tf.Tensor, axis=None, zeros: tf.Tensor | float = 0.0) -> _Moments:
    """`_Moments` of the finite elements of `x` and `zeros` implicit zero elements (axis None only).

    The sums run on the values divided by their largest |x| (as LAPACK's nrm2 does): a float32 sum
    of squares overflows from |x| ~ 1e19 and flushes to 0 below ~1e-19, so a finite tensor would
    otherwise get an infinite (or zero) norm or std."""
    finite = tf.math.is_finite(x)
    xf = tf.where(finite, x, 0.0)
    count = tf.reduce_sum(tf.cast(finite, tf.float32), axis=axis) + zeros
    has = count > 0
    safe = tf.maximum(count, 1.0)
    scale = tf.reduce_max(tf.abs(xf), axis=axis, keepdims=True)
    scale = tf.where(scale > 0, scale, 1.0)
    xs = xf / scale
    unit = tf.reshape(scale, tf.shape(count))
    mean = tf.reduce_sum(xs, axis=axis) / safe
    mean_b = mean if axis is None else tf.expand_dims(mean, axis)
    centered = tf.where(finite, xs - mean_b, 0.0)
    var = (tf.reduce_sum(tf.square(centered), axis=axis) + zeros * tf.square(mean)) / safe
    l2 = unit * tf.sqrt(tf.reduce_sum(tf.square(xs), axis=axis))
    big = tf.constant(float("inf"), tf.float32)
    vmin = tf.reduce_min(tf.where(finite, x, big), axis=axis)
    vmax = tf.reduce_max(tf.where(finite, x, -big), axis=axis)
    nan = tf.fill(tf.shape(mean), _NAN)
    pick = lambda v: tf.where(has, v, nan)  # noqa: E731
    return _Moments(finite, count, pick(unit * mean), pick(unit * tf.sqrt(var)), pick(vmin), pick(vmax), l2)


def sampled_positions(shape: Sequence[int | None], max_units: int | None) -> tuple[int, int] | None:
    """(positions kept, positions) when an output of `shape` ([batch, ..., channels]) is sampled.

    Outputs of rank 3 or more with more than `max_units` units per sample keep every channel (last
    axis) at `ceil(max_units / channels)` evenly spaced positions (the axes between batch and
    channels, flattened); None when every unit is used (or the shape is not fully static).
    """
    dims = [d for d in list(shape)[1:] if d is not None]
    if max_units is None or len(dims) < 2 or len(dims) < len(shape) - 1:
        return None
    channels = dims[-1]
    positions = int(np.prod(dims[:-1]))
    if positions * channels <= max_units or channels == 0:
        return None
    return min(positions, -(-max_units // channels)), positions


def sample_facts(shape: Sequence[int | None], max_units: int | None) -> dict[str, str]:
    """Row facts of an output of `shape`: {"sampled_units": "<kept> of <units>"} when sampled."""
    picked = sampled_positions(shape, max_units)
    if picked is None:
        return {}
    channels = shape[-1]
    assert channels is not None  # sampled: every dimension is known
    return {"sampled_units": f"{picked[0] * channels} of {picked[1] * channels}"}


def unit_sample(x: tf.Tensor, max_units: int | None) -> tf.Tensor:
    """[batch, units] of `x`: every unit, or the sample `sampled_positions` describes."""
    picked = sampled_positions(x.shape.as_list(), max_units) if x.shape.rank is not None else None
    if picked is None:
        return _units(x)
    kept, positions = picked
    spread = np.floor((np.arange(kept) + 0.5) * positions / kept).astype(np.int32)  # centred
    by_position = tf.reshape(x, [-1, positions, x.shape[-1]])  # static unit count: no shape ops
    return tf.reshape(tf.gather(by_position, spread, axis=1), [-1, kept * x.shape[-1]])


def _norm(x: tf.Tensor, axis=None) -> tf.Tensor:
    """L2 norm over `axis`, scaled by the largest |x| first as in `_masked_moments`: finite for a
    finite tensor (0 for an empty one), NaN/Inf where `x` holds one."""
    scale = tf.reduce_max(tf.abs(x), axis=axis, keepdims=True)  # NaN/Inf propagate; -inf if empty
    unit = tf.where((scale > 0) & tf.math.is_finite(scale), scale, 1.0)
    norm = tf.sqrt(tf.reduce_sum(tf.square(x / unit), axis=axis))
    scale, unit = (tf.squeeze(t) if axis is None else tf.squeeze(t, axis) for t in (scale, unit))
    return tf.where(tf.math.is_finite(scale) | (scale < 0.0), unit * norm, scale)


def _columns(rows: Sequence[Sequence]) -> list[tf.Tensor]:
    """Per-tensor scalars (one list per tensor) as one [N] column per position: a single op each,
    whatever N, so the arithmetic on them runs once for all tensors instead of once per tensor."""
    return [tf.stack(column) for column in zip(*rows)]


def _size(x: tf.Tensor) -> int | tf.Tensor:
    """Number of elements: a Python int when the shape is static (no op), else `tf.size`."""
    n = x.shape.num_elements()
    return n if n is not None else tf.size(x)


def _reductions(x: tf.Tensor) -> list:
    """The fast kernels' passes over a float32 tensor: [size, mean, mean squared deviation from
    the mean, min, max, half the nonzero count]. The count is `l2_loss` of the signs (two kernels
    where a comparison, cast and sum take three; exact while it is below 2**24, as a float32 sum
    of ones is). A NaN/Inf shows as a non-finite mean or deviation; so does a sum of squares that
    overflows."""
    mean = tf.reduce_mean(x)
    deviation = tf.reduce_mean(tf.math.squared_difference(x, mean))
    return [_size(x), mean, deviation, tf.reduce_min(x), tf.reduce_max(x), tf.nn.l2_loss(tf.sign(x))]


def _tensor_rows(columns: Sequence[tf.Tensor], l2: tf.Tensor | None = None) -> tf.Tensor:
    """`TENSOR_STATS` [N, 9] of finite tensors from the [N] columns of `_reductions` (`l2`: the
    norms, when not those of the same elements)."""
    n, mean, var, vmin, vmax, half_nonzero = columns
    n = tf.cast(n, tf.float32)
    if l2 is None:
        l2 = tf.sqrt(n * (var + tf.square(mean)))  # both terms >= 0: no cancellation
    zero = (n - 2.0 * half_nonzero) / tf.maximum(n, 1.0)
    none = tf.zeros_like(mean)
    return tf.stack([l2, mean, tf.sqrt(var), vmin, vmax, tf.maximum(-vmin, vmax), zero, none, none], axis=1)


def _sampled_l2(columns: list[tf.Tensor], sums: Sequence[tf.Tensor | None]) -> tf.Tensor | None:
    """The norms of `_tensor_rows` where some rows' stats come from a sample of their tensor:
    those rows' from the half sums of squares of every element (`sums`, None for the others)."""
    if all(s is None for s in sums):
        return None
    n, mean, var = tf.cast(columns[0], tf.float32), columns[1], columns[2]
    whole = tf.stack([tf.constant(0.0) if s is None else s for s in sums])
    sampled = tf.constant([s is not None for s in sums])
    return tf.sqrt(tf.where(sampled, 2.0 * whole, n * (var + tf.square(mean))))


def _fast_or_exact(fast: tf.Tensor, exact: Callable[[], tf.Tensor], scale: tf.Tensor) -> tf.Tensor:
    """The fast rows if their first three columns (L2, mean, std; inputs: mean, std, min) are all
    finite and each row's largest |x| (`scale`) is 0 or at least `_TINY`, else the exact ones."""
    ok = tf.reduce_all(tf.math.is_finite(fast[:, 0:3])) & tf.reduce_all((scale == 0.0) | (scale >= _TINY))
    return _fast_unless(ok, fast, exact)


def _fast_unless(ok: tf.Tensor, fast: tf.Tensor, exact: Callable[[], tf.Tensor]) -> tf.Tensor:
    """`fast` when `ok`, else `exact()`. In a graph outside XLA the exact kernels are one function
    call that is never inlined: TensorFlow lowers a conditional into the step's graph, and its
    executor then visits every op of the branch not taken (about 100 per row) on every step, 4-8 %
    of a small model's full step (benchmarks/RESULTS.md). XLA compiles the conditional itself."""
    graph = tf.compat.v1.get_default_graph()
    if not tf.executing_eagerly() and not control_flow_util.GraphOrParentsInXlaContext(graph):
        exact = tf.function(exact, autograph=False, experimental_attributes={"_noinline": True})
    return tf.cond(ok, lambda: fast, exact)


_MAX_ABS = 5  # the `max_abs` column of `metadata.TENSOR_STATS`


def tensor_stats_list(xs: Sequence[tf.Tensor]) -> tf.Tensor:
    """`metadata.TENSOR_STATS` of each tensor: float32 [N, 9] (one conditional for all)."""
    fast = _tensor_rows(_columns([_reductions(_as_float(x)) for x in xs]))
    return _fast_or_exact(fast, lambda: tf.stack([_exact_tensor_stats(x) for x in xs]), fast[:, _MAX_ABS])


def _whole_sum(x: tf.Tensor, max_units: int | None) -> tf.Tensor | None:
    """Half the sum of squares of every element of a layer output whose other stats come from its
    unit sample (`unit_sample`), else None: for `_sampled_l2`."""
    if x.shape.rank is None or sampled_positions(x.shape.as_list(), max_units) is None:
        return None
    return tf.nn.l2_loss(x)


def output_stats_list(xs: Sequence[tf.Tensor], max_units: int | None = metadata.SAMPLE_UNITS) -> tf.Tensor:
    """`metadata.TENSOR_STATS` of each layer output [batch, ...] (or signal of its shape), with
    large outputs sampled as `unit_sample` says: float32 [N, 9]."""
    floats = [_as_float(x) for x in xs]
    wholes = [_whole_sum(x, max_units) for x in floats]
    columns = _columns([_reductions(x if w is None else unit_sample(x, max_units)) for x, w in zip(floats, wholes)])
    fast = _tensor_rows(columns, _sampled_l2(columns, wholes))
    return _fast_or_exact(fast, lambda: tf.stack([_exact_tensor_stats(x) for x in xs]), fast[:, _MAX_ABS])


@_shared
def _exact_tensor_stats(x: tf.Tensor) -> tf.Tensor:
    """`metadata.TENSOR_STATS` of all elements of `x`, NaN/Inf-aware and overflow-safe (about 30
    passes): [9]."""
    x = tf.reshape(_as_float(x), [-1])
    m = _masked_moments(x)
    n = tf.cast(tf.size(x), tf.float32)
    is_nan = tf.math.is_nan(x)
    return tf.stack(
        [
            m.l2,
            m.mean,
            m.std,
            m.min,
            m.max,
            tf.where(tf.math.is_nan(m.min), _NAN, tf.maximum(tf.abs(m.min), tf.abs(m.max))),
            tf.reduce_sum(tf.cast(tf.equal(x, 0.0), tf.float32)) / tf.maximum(n, 1.0),
            tf.reduce_sum(tf.cast(is_nan, tf.float32)),
            tf.reduce_sum(tf.cast(tf.logical_not(m.finite | is_nan), tf.float32)),
        ]
    )


def merge_indexed_slices(g: tf.IndexedSlices) -> tuple[tf.Tensor, tf.Tensor]:
    """(merged rows with duplicate indices summed, number of untouched rows). Not XLA-compatible."""
    unique, position = tf.unique(tf.reshape(g.indices, [-1]))
    values = tf.reshape(_as_float(g.values), tf.concat([[-1], tf.shape(g.values)[1:]], 0))
    merged = tf.math.unsorted_segment_sum(values, position, tf.size(unique))
    total_rows = tf.cast(g.dense_shape[0], tf.int32) if g.dense_shape is not None else tf.size(unique)
    return merged, tf.cast(total_rows - tf.size(unique), tf.float32)


def indexed_slices_stats(g: tf.IndexedSlices) -> tf.Tensor:
    """Exact `TENSOR_STATS` of the dense gradient an `IndexedSlices` stands for, without densifying."""
    merged, untouched_rows = merge_indexed_slices(g)
    x = tf.reshape(merged, [-1])
    row_size = tf.cast(tf.reduce_prod(tf.shape(merged)[1:]), tf.float32)
    zeros = untouched_rows * row_size  # implicit zero elements
    m = _masked_moments(x, zeros=zeros)
    is_nan = tf.math.is_nan(x)
    n = tf.cast(tf.size(x), tf.float32) + zeros
    vmin = tf.where(zeros > 0, tf.minimum(m.min, 0.0), m.min)
    vmax = tf.where(zeros > 0, tf.maximum(m.max, 0.0), m.max)
    return tf.stack(
        [
            m.l2,
            m.mean,
            m.std,
            vmin,
            vmax,
            tf.where(tf.math.is_nan(vmin), _NAN, tf.maximum(tf.abs(vmin), tf.abs(vmax))),
            (tf.reduce_sum(tf.cast(tf.equal(x, 0.0), tf.float32)) + zeros) / tf.maximum(n, 1.0),
            tf.reduce_sum(tf.cast(is_nan, tf.float32)),
            tf.reduce_sum(tf.cast(tf.logical_not(m.finite | is_nan), tf.float32)),
        ]
    )


MISSING_GRADIENT = (0.0,) * 6 + (1.0, 0.0, 0.0, 1.0)  # an all-zero gradient, missing = 1


def gradient_stats_list(grads: Sequence, dense_slices: bool = False) -> tf.Tensor:
    """`KIND_STATS["gradients"]` of each gradient: float32 [N, 10]. `None` = all-zero stats with
    missing = 1. `dense_slices` densifies `IndexedSlices` instead of merging them (for XLA, where
    `tf.unique` does not compile); both are exact."""
    dense = [i for i, g in enumerate(grads) if g is not None and (dense_slices or not isinstance(g, tf.IndexedSlices))]
    rows = tensor_stats_list([tf.convert_to_tensor(grads[i]) for i in dense]) if dense else None
    missing = tf.constant([[float(g is None)] for g in grads])
    if len(dense) < len(grads):  # rows of missing gradients and merged slices among them
        dense_rows = tf.unstack(rows) if rows is not None else []
        absent = tf.constant(MISSING_GRADIENT[:-1], tf.float32)
        rows = tf.stack(
            [
                dense_rows[dense.index(i)] if i in dense else absent if g is None else indexed_slices_stats(g)
                for i, g in enumerate(grads)
            ]
        )
    return tf.concat([rows, missing], 1)


def _units(x: tf.Tensor) -> tf.Tensor | None:
    """[batch, units] view of a layer output (None for a scalar)."""
    if x.shape.rank is None or x.shape.rank < 1:
        return None
    if x.shape.rank == 2:
        return x
    if x.shape.rank == 1:
        return tf.reshape(x, [-1, 1])
    units = x.shape[1:].num_elements()
    return tf.reshape(x, [-1, units] if units else [tf.shape(x)[0], -1])  # static when known (and not 0)


def _activation_reductions(x: tf.Tensor, activation: str, max_units: int | None) -> tuple[list, list[tf.Tensor]]:
    """The fast activation kernel's passes over a float32 layer output: [size, min, half the
    nonzero count, saturated fraction] of its unit sample (as `_reductions`), and its per-unit
    [mean, variance, max] over the batch, whose reductions `_unit_columns` does for every output
    at once. The units are read about 7 times."""
    units = unit_sample(x, max_units)
    if units is None:  # a scalar: one unit of one sample
        x = tf.reshape(x, [1])
        return [1, x[0], tf.nn.l2_loss(tf.sign(x)), 0.0], [x, tf.zeros([1]), x]
    unit_mean = tf.reduce_mean(units, axis=0)
    unit_var = tf.reduce_mean(tf.math.squared_difference(units, unit_mean), axis=0)
    saturated = saturated_fraction(units, activation)
    scalars = [tf.size(units), tf.reduce_min(units), tf.nn.l2_loss(tf.sign(units)), saturated]
    return scalars, [unit_mean, unit_var, tf.reduce_max(units, axis=0)]


def _unit_columns(per_unit: Sequence[Sequence[tf.Tensor]]) -> list[tf.Tensor]:
    """[N] columns mean, mean within-unit variance, between-unit variance (law of total variance,
    both >= 0), max, dead fraction and batch std of N outputs from their per-unit [mean, variance,
    max] vectors: one concatenation per vector and segment sums over every output's units, where
    reductions of each output's vectors took 10 ops per output."""
    sizes = [_size(vectors[0]) for vectors in per_unit]
    if all(isinstance(size, int) for size in sizes):
        ids = tf.constant(np.repeat(np.arange(len(sizes)), sizes), tf.int32)
    else:
        ids = tf.repeat(tf.range(len(sizes)), tf.stack(sizes))
    count = tf.cast(tf.stack(sizes), tf.float32)
    means, variances, maxima = (tf.concat(list(v), 0) for v in zip(*per_unit))

    def mean_of(v: tf.Tensor) -> tf.Tensor:
        return tf.math.unsorted_segment_sum(v, ids, len(sizes)) / count

    mean = mean_of(means)
    between = mean_of(tf.math.squared_difference(means, tf.gather(mean, ids)))
    dead = mean_of(tf.cast(maxima <= 0.0, tf.float32))
    vmax = tf.math.unsorted_segment_max(maxima, ids, len(sizes))
    return [mean, mean_of(variances), between, vmax, dead, mean_of(tf.sqrt(variances))]


def activation_stats_list(
    xs: Sequence[tf.Tensor], activations: Sequence[str], max_units: int | None = metadata.SAMPLE_UNITS
) -> tf.Tensor:
    """`KIND_STATS["activations"]` of each layer output [batch, ...], large ones sampled as
    `unit_sample` says: float32 [N, 12]."""
    floats = [_as_float(x) for x in xs]
    scalars, per_unit = zip(*[_activation_reductions(x, a, max_units) for x, a in zip(floats, activations)])
    n, vmin, half_nonzero, saturated = _columns(scalars)
    mean, within, between, vmax, dead, batch_std = _unit_columns(per_unit)
    if any(x.shape.rank == 0 for x in floats):  # a scalar is never dead (as `_exact_unit_stats`)
        dead = dead * tf.constant([float(x.shape.rank != 0) for x in floats])
    var = within + between
    l2 = _sampled_l2([n, mean, var], [_whole_sum(x, max_units) for x in floats])
    base = _tensor_rows([n, mean, var, vmin, vmax, half_nonzero], l2)
    fast = tf.concat([base, tf.stack([dead, saturated, batch_std], 1)], 1)
    exact = lambda: tf.stack([_exact_activation_stats(x, a) for x, a in zip(xs, activations)])  # noqa: E731
    return _fast_or_exact(fast, exact, fast[:, _MAX_ABS])


def _exact_activation_stats(x: tf.Tensor, activation: str = "") -> tf.Tensor:
    """`KIND_STATS["activations"]` of a layer output [batch, ...], NaN/Inf-aware: float32 [12]."""
    x = _as_float(x)
    base, units = _exact_unit_stats(x)
    saturated = saturated_fraction(x, activation) if x.shape.rank else tf.constant(0.0)  # as the fast kernel
    return tf.concat([base, [units[0], saturated, units[1]]], 0)


@_shared
def _exact_unit_stats(x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """`_exact_tensor_stats` of a float32 layer output and its [dead fraction, batch std] (zeros
    for a scalar)."""
    base = _exact_tensor_stats(x)
    units = _units(x)
    if units is None:
        return base, tf.zeros([2])
    finite = tf.math.is_finite(units)
    # A unit is dead when it is <= 0 (or not finite) for every sample of the batch.
    alive = tf.reduce_any(finite & (units > 0.0), axis=0)
    dead_frac = 1.0 - tf.reduce_mean(tf.cast(alive, tf.float32))
    unit_std = _masked_moments(units, axis=0).std
    batch_std = tf.reduce_mean(tf.where(tf.math.is_nan(unit_std), 0.0, unit_std))
    return base, tf.stack([dead_frac, batch_std])


def saturated_fraction(x: tf.Tensor, activation: str) -> tf.Tensor:
    """Fraction of elements within `SATURATION_MARGIN` of the range from the activation's bounds (0 if none)."""
    bounds = SATURATION_BOUNDS.get(activation)
    if bounds is None:
        return tf.constant(0.0)
    low, high = bounds
    if low == float("-inf"):  # log_sigmoid: saturates only at its upper bound, use its output scale 1
        near = x >= high - SATURATION_MARGIN
    else:
        margin = SATURATION_MARGIN * (high - low)
        near = (x <= low + margin) | (x >= high - margin)
    return tf.reduce_mean(tf.cast(near, tf.float32))


def _weight_reductions(weight: tf.Tensor, update: tf.Tensor | None) -> list:
    """The fast weight kernel's passes: [half sum of squares, min, max] of a variable value, then
    the update's half sum of squares (0 when unknown). A NaN/Inf shows as a non-finite sum."""
    w = _as_float(weight)
    empty = w.shape.num_elements() == 0  # min and max of nothing: +-inf
    bounds = [0.0, 0.0] if empty else [tf.reduce_min(w), tf.reduce_max(w)]
    return [tf.nn.l2_loss(w), *bounds, 0.0 if update is None else tf.nn.l2_loss(_as_float(update))]


def _update_columns(norm: tf.Tensor, update_norm: tf.Tensor | None) -> tuple[tf.Tensor, tf.Tensor]:
    """`update_norm` and `update_ratio` (NaN when the update is unknown)."""
    if update_norm is None:
        return tf.constant(_NAN), tf.constant(_NAN)
    ratio = tf.math.divide_no_nan(update_norm, norm)
    return update_norm, tf.where((norm == 0.0) & (update_norm > 0.0), float("inf"), ratio)


def weight_stats_list(
    weights: Sequence[tf.Tensor], updates: Sequence[tf.Tensor | None], befores: Sequence[tf.Tensor | None] | None = None
) -> tf.Tensor:
    """`KIND_STATS["weights"]` of each variable value, the update applied to it and (optional)
    its value before that update: [N, 7].

    An update of `None` gives NaN update columns, a `before` of None a NaN `nonfinite_before`
    (unknown). Give the update as `weight - before` when both are known.
    """
    befores = list(befores) if befores is not None else [None] * len(weights)
    half_sq, vmin, vmax, update_half_sq = _columns([_weight_reductions(w, u) for w, u in zip(weights, updates)])
    norm, max_abs = tf.sqrt(2.0 * half_sq), tf.maximum(vmax, -vmin)  # +0, not -0, for an empty weight
    known = tf.constant([u is not None for u in updates])
    update_norm, ratio = _update_columns(norm, tf.sqrt(2.0 * update_half_sq))
    unknown = tf.fill(tf.shape(norm), _NAN)
    update_norm, ratio = tf.where(known, update_norm, unknown), tf.where(known, ratio, unknown)
    before = tf.constant([0.0 if b is not None else _NAN for b in befores])  # finite update of a finite weight
    none = tf.zeros_like(norm)
    rows = tf.stack([norm, max_abs, none, none, update_norm, ratio, before], axis=1)
    finite = tf.math.is_finite(norm) & tf.math.is_finite(update_half_sq)  # NaN/Inf in a weight or its update
    ok = tf.reduce_all(finite) & tf.reduce_all((max_abs == 0.0) | (max_abs >= _TINY))
    return _fast_unless(
        ok, rows, lambda: tf.stack([_exact_weight_stats(w, u, b) for w, u, b in zip(weights, updates, befores)])
    )


@_shared
def _exact_weight_stats(
    weight: tf.Tensor, update: tf.Tensor | None = None, before: tf.Tensor | None = None
) -> tf.Tensor:
    """`KIND_STATS["weights"]` of a variable value, its update and value before it, NaN/Inf-aware and
    overflow-safe (the update's norm is NaN/Inf only when the update holds a NaN/Inf)."""
    w = tf.reshape(_as_float(weight), [-1])
    finite = tf.math.is_finite(w)
    is_nan = tf.math.is_nan(w)
    wf = tf.where(finite, w, 0.0)
    norm = _norm(wf)
    update_norm, ratio = _update_columns(norm, None if update is None else _norm(_as_float(update)))
    if before is None:
        nonfinite_before = tf.constant(_NAN)
    else:
        nonfinite_before = tf.reduce_sum(tf.cast(tf.logical_not(tf.math.is_finite(_as_float(before))), tf.float32))
    return tf.stack(
        [
            norm,
            tf.maximum(tf.reduce_max(tf.abs(wf)), 0.0),  # 0 for an empty weight (max of nothing: -inf)
            tf.reduce_sum(tf.cast(is_nan, tf.float32)),
            tf.reduce_sum(tf.cast(tf.logical_not(finite | is_nan), tf.float32)),
            update_norm,
            ratio,
            nonfinite_before,
        ]
    )


def input_stats(x: tf.Tensor, max_features: int = metadata.MAX_INPUT_FEATURES) -> tf.Tensor:
    """`KIND_STATS["inputs"]` per feature (last axis, first `max_features`): float32 [F, 7].

    A rank-0/1 input is one feature per sample. Fast path for finite batches (4 column
    reductions); the exact, NaN/Inf-aware one when its mean or std is not finite.
    """
    x = _as_float(x)
    if x.shape.rank is None:
        raise ValueError("input_stats needs a tensor of known rank")
    if x.shape.rank <= 1:
        x = tf.reshape(x, [-1, 1])
    x = x[..., :max_features]
    feats = tf.reshape(x, [-1, tf.shape(x)[-1]])
    fast = _fast_input_stats(feats)
    scale = tf.maximum(tf.abs(fast[:, 2]), tf.abs(fast[:, 3]))  # of min and max
    return _fast_or_exact(fast, lambda: _exact_input_stats(feats), scale)


def _fast_input_stats(feats: tf.Tensor) -> tf.Tensor:
    """`input_stats` of a finite [samples, features] matrix (a non-finite one gives a non-finite mean or std)."""
    mean, var = tf.nn.moments(feats, axes=[0])
    std = tf.sqrt(var)
    vmin, vmax = tf.reduce_min(feats, axis=0), tf.reduce_max(feats, axis=0)
    max_z = tf.math.divide_no_nan(tf.maximum(vmax - mean, mean - vmin), std)
    zeros = tf.zeros_like(mean)
    return tf.stack([mean, std, vmin, vmax, zeros, zeros, max_z], axis=1)


@_shared
def _exact_input_stats(feats: tf.Tensor) -> tf.Tensor:
    """`input_stats` of a [samples, features] matrix, NaN/Inf-aware."""
    m = _masked_moments(feats, axis=0)
    is_nan = tf.math.is_nan(feats)
    nan = tf.reduce_sum(tf.cast(is_nan, tf.float32), axis=0)
    inf = tf.reduce_sum(tf.cast(tf.logical_not(m.finite | is_nan), tf.float32), axis=0)
    dev = tf.where(m.finite, tf.abs(feats - m.mean), 0.0)
    max_z = tf.math.divide_no_nan(tf.reduce_max(dev, axis=0), tf.where(m.std > 0, m.std, 0.0))
    max_z = tf.where(m.count > 0, max_z, _NAN)
    return tf.stack([m.mean, m.std, m.min, m.max, nan, inf, max_z], axis=1)


def time_positions(seq_len: tf.Tensor, n: int = N_TIME_POSITIONS) -> tf.Tensor:
    """`n` time indices spaced evenly from the last step (seq_len-1) to the first (0), int32."""
    last = tf.cast(seq_len - 1, tf.float32)
    return tf.cast(tf.round(tf.linspace(last, 0.0, n)), tf.int32)


def time_grad_stats(grad: tf.Tensor) -> tf.Tensor:
    """`KIND_STATS["backward_time"]` of d loss / d input [batch, time, ...]: float32 [9].

    L2 norm over batch and features of the gradient at `N_TIME_POSITIONS` time steps (last
    to first), then the sequence length.
    """
    g = _as_float(grad)
    g = tf.reshape(g, tf.concat([tf.shape(g)[:2], [-1]], 0))
    seq_len = tf.shape(g)[1]
    per_t = _norm(g, axis=[0, 2]) if g.shape.rank == 3 else _norm(g)
    picked = tf.gather(per_t, time_positions(seq_len))
    return tf.concat([picked, [tf.cast(seq_len, tf.float32)]], 0)
