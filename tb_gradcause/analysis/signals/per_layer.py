"""Per-layer views of per-row series: group variables by layer, combine norms, compute RMS."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tb_gradcause.analysis.reader import Series
from tb_gradcause.rows import RowInfo

# Series-derived arrays kept by `memo` per function (the detectors of one run share them).
MEMO_SIZE = 32
# Roles of the variables that carry a layer's weight scale (biases and norm offsets start at 0).
KERNEL_ROLES = ("kernel", "recurrent_kernel", "depthwise_kernel", "pointwise_kernel", "embeddings")

# Activations whose units can die (zero output and zero gradient for every input).
DYING = frozenset({"relu", "relu6"})
# Activations with a bounded output and a slope that is small over most of their range: they shrink
# the signal passing back, and a recurrent layer's state they produce cannot grow without limit.
SQUASHING = frozenset({"sigmoid", "tanh", "hard_sigmoid", "hard_tanh", "softsign", "soft_sign", "softmax"})


def is_relu(row: RowInfo) -> bool:
    """The row's layer ends in a ReLU (its units can die)."""
    return row.activation in DYING or row.layer_class == "ReLU"


def row_layer(row: RowInfo) -> str:
    """The layer a row belongs to (its own name for layer rows without a `layer`)."""
    return row.layer or row.name


def row_size(row: RowInfo) -> int:
    """Number of elements of a row's variable or per-sample output (1 for scalars/unknown)."""
    return int(np.prod([d for d in row.shape if d > 0], dtype=np.int64)) if len(row.shape) else 1


@dataclasses.dataclass(frozen=True)
class Layers:
    """Rows of a series grouped by layer, layers in forward order."""

    names: tuple[str, ...]
    index: np.ndarray  # int [R]: layer of each row
    depth: np.ndarray  # int [L]: forward position (RowInfo.depth, else first appearance)
    rows: tuple[RowInfo, ...]  # [L]: the first row of each layer (class, activation, recurrent...)

    @classmethod
    def of(cls, rows: Sequence[RowInfo]) -> Layers:
        position: dict[str, int] = {}
        first: list[RowInfo] = []
        index = np.zeros(len(rows), dtype=np.int64)
        for i, row in enumerate(rows):
            name = row_layer(row)
            if name not in position:
                position[name] = len(first)
                first.append(row)
            index[i] = position[name]
        names = list(position)
        depth = np.array([row.depth if row.depth >= 0 else 10_000 + i for i, row in enumerate(first)], dtype=np.int64)
        order = np.argsort(depth, kind="stable")
        remap = np.empty_like(order)
        remap[order] = np.arange(len(order))
        return cls(
            tuple(names[i] for i in order),
            remap[index] if len(index) else index,
            depth[order],
            tuple(first[i] for i in order),
        )

    def total(self, values: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Sum of a [S, R] array per layer -> float64 [S, L]; NaN counts as 0, +Inf stays +Inf.

        `rows` (int [R']) says which rows the columns of a [S, R'] `values` are (0 for layers
        without any)."""
        values = np.asarray(values)
        index = self.index if rows is None else self.index[rows]
        if values.dtype.kind == "f" and np.isnan(values).any():
            values = np.where(np.isnan(values), 0.0, values)
        order = np.argsort(index, kind="stable")
        layer, start, count = np.unique(index[order], return_index=True, return_counts=True)
        first = np.take(values, order[start], axis=1).astype(np.float64, copy=False)  # each layer's first row
        if len(layer) == len(self.names):
            result = first
        else:
            result = np.zeros((values.shape[0], len(self.names)))
            result[:, layer] = first
        for k in range(1, int(count.max(initial=0))):  # then every layer's k-th row, if it has one
            more = count > k
            result[:, layer[more]] += np.take(values, order[start[more] + k], axis=1)
        return result

    def any(self, mask: np.ndarray) -> np.ndarray:
        """Per layer: any True among its rows [S, R] -> [S, L]."""
        return self.total(np.asarray(mask, dtype=np.float32)) > 0


_CACHES: list[dict] = []


def clear_memos() -> None:
    """Drop every `memo` cache (the engine calls this after each run)."""
    for cache in _CACHES:
        cache.clear()


def memo(fn: Callable) -> Callable:
    """Cache a pure function of a series or a run (and hashable options) while one run is analysed.

    Keyed by the object's identity; the cache holds the object itself, so an id is never reused
    while its entry lives. `clear_memos` empties it."""
    cache: dict[tuple, tuple[Any, Any]] = {}
    _CACHES.append(cache)

    @functools.wraps(fn)
    def wrapper(series: Series, *args: Any, **kwargs: Any) -> Any:
        key = (id(series), args, tuple(sorted(kwargs.items())))
        hit = cache.get(key)
        if hit is not None and hit[0] is series:
            return hit[1]
        result = fn(series, *args, **kwargs)
        if len(cache) >= MEMO_SIZE:
            cache.pop(next(iter(cache)))
        cache[key] = (series, result)
        return result

    return wrapper


@memo
def rms(series: Series, nonzero: bool = True, roles: tuple[str, ...] | None = None) -> tuple[Layers, np.ndarray]:
    """Per-layer root mean square [S, L] of a tensor-stats series (gradients, backward).

    Combines the rows' L2 norms; `nonzero` averages over the elements that are not exactly 0
    (sparse embedding gradients and dead units do not dilute it). Rows whose `missing` flag is
    set, or outside `roles` (when given and the layer has such rows), are left out. NaN where a
    layer has no element to average.
    """
    layers = Layers.of(series.rows)
    sizes = np.array([row_size(r) for r in series.rows], dtype=np.float32)
    if roles is not None:
        chosen = np.array([r.role in roles for r in series.rows], dtype=bool)
        has_chosen = layers.any(chosen[None, :])[0]
        sizes = np.where(chosen | ~has_chosen[layers.index], sizes, 0.0).astype(np.float32)
    rows = np.flatnonzero(sizes > 0)  # the other rows add nothing
    counts = np.broadcast_to(sizes[rows], (len(series.steps), len(rows)))
    if nonzero and series.has("zero_frac"):
        nonzero_frac = 1.0 - np.take(series.stat("zero_frac"), rows, axis=1)
        counts = counts * np.where(nonzero_frac > 0, nonzero_frac, np.float32(0))  # NaN -> 0
    if series.has("missing"):
        counts = np.where(np.take(series.stat("missing"), rows, axis=1) > 0, np.float32(0), counts)
    sumsq = np.square(np.take(series.stat("l2"), rows, axis=1), dtype=np.float64)
    sumsq[counts <= 0] = 0.0
    result, n = layers.total(sumsq, rows), layers.total(counts, rows)
    with np.errstate(all="ignore"):
        np.sqrt(np.divide(result, n, out=result), out=result)
    result[~(n > 0)] = np.nan
    return layers, result


@memo
def norm(series: Series) -> tuple[Layers, np.ndarray]:
    """Per-layer L2 norm [S, L] of a tensor-stats series (the rows' `l2` combined)."""
    layers = Layers.of(series.rows)
    return layers, np.sqrt(layers.total(np.square(series.stat("l2"), dtype=np.float64)))


@memo
def nonfinite(series: Series) -> np.ndarray:
    """[S, R] True where a row holds NaN/Inf elements (or a non-finite stat when no counts)."""
    if series.has("nan") and series.has("inf"):
        return (series.stat("nan") != 0) | (series.stat("inf") != 0)
    return ~np.all(np.isfinite(series.values), axis=2)


@memo
def finite_prefix(series: Series) -> int:
    """Number of leading samples before the first one holding NaN/Inf anywhere."""
    bad = np.flatnonzero(nonfinite(series).any(axis=1))
    return int(bad[0]) if len(bad) else len(series.steps)
