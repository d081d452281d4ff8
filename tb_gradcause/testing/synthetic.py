"""Synthetic gradcause runs, written without TensorFlow, for tests and benchmarks.

`healthy_run` builds plausible statistics of every kind for a stack of layers as the reader's
own `Series` (one per kind); a test edits their stat columns in place to inject a problem
(`Series.stat`, `Series.rows_of`) and either hands them to the detectors as a `RunData` or
writes them with `write_run`: one tensor summary per kind and step, metadata once per tag, in
step order, built by `summary.record_pb` (the ops' TensorFlow-free twin) and written with
TensorBoard's own record writer. `RunWriter` writes single events (rewinds, odd shapes, versions).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from tensorboard.compat.proto import event_pb2
from tensorboard.summary.writer.record_writer import RecordWriter

from tb_gradcause import metadata, summary
from tb_gradcause.analysis.reader import Series
from tb_gradcause.rows import LOSS, RowInfo, feature_name

_FILE_NUMBERS = itertools.count()

BATCH = 32  # samples per synthetic batch (sets activation L2 norms)
SEQ_LEN = 50  # time steps of synthetic recurrent layers


@dataclasses.dataclass(frozen=True)
class Layer:
    """One synthetic layer: a kernel (and bias) of shape [fan_in, units] and its output."""

    name: str
    units: int = 32
    activation: str = "relu"
    layer_class: str = "Dense"
    recurrent: bool = False
    bias: bool = True


def mlp(depth: int, units: int = 32, activation: str = "relu", output_activation: str = "sigmoid") -> list[Layer]:
    """`depth` Dense layers named dense_0.. with a 1-unit output layer last."""
    hidden = [Layer(f"dense_{i}", units, activation) for i in range(depth - 1)]
    return hidden + [Layer(f"dense_{depth - 1}", 1, output_activation)]


def layer_rows(kind: str, layers: Sequence[Layer], n_features: int = 8) -> list[RowInfo]:
    """The rows the callback would log for `kind` on this stack of layers."""
    if kind in ("gradients", "weights"):
        rows = []
        for depth, (layer, fan_in) in enumerate(zip(layers, _fan_ins(layers, n_features))):
            shapes = {"kernel": [fan_in, layer.units]}
            if layer.recurrent:
                shapes["recurrent_kernel"] = [layer.units, layer.units]
            if layer.bias:
                shapes["bias"] = [layer.units]
            rows += [
                _row(f"{layer.name}/{role}", layer, depth, shape=shape, role=role) for role, shape in shapes.items()
            ]
        return rows
    if kind in ("activations", "backward"):
        return [_row(layer.name, layer, depth, shape=[layer.units]) for depth, layer in enumerate(layers)]
    if kind == "backward_time":
        return [
            _row(layer.name, layer, depth, shape=[SEQ_LEN, layer.units])
            for depth, layer in enumerate(layers)
            if layer.recurrent
        ]
    if kind == "inputs":
        return [RowInfo(name=feature_name("input", i), role="input", depth=-1) for i in range(n_features)]
    if kind == "loss":
        return [RowInfo(name=LOSS, depth=-1)]
    if kind == "loss_inputs":
        shape = str((BATCH, layers[-1].units))
        facts = {"loss": "binary_crossentropy", "y_true_shape": shape, "y_pred_shape": shape}
        return [RowInfo(name=LOSS, role=LOSS, depth=-1, facts=facts)]
    if kind == "gradient_check":  # as with `gradient_check="all"`: each layer's input
        return [
            _row(f"{layer.name}/input", layer, depth, shape=[BATCH, fan_in], role="input", facts={"argument": "input"})
            for depth, (layer, fan_in) in enumerate(zip(layers, _fan_ins(layers, n_features)))
        ]
    if kind == "nan_origin":  # only the replay of a non-finite step writes it
        return []
    raise ValueError(f"unknown gradcause kind {kind!r}; expected one of {metadata.SUMMARY_KINDS}")


def healthy_run(
    layers: Sequence[Layer],
    n_steps: int,
    *,
    n_features: int = 8,
    every: int = 1,
    kinds: Iterable[str] = metadata.SUMMARY_KINDS,
    seed: int = 0,
    start_wall_time: float = 1.7e9,
    seconds_per_step: float = 0.01,
) -> dict[str, Series]:
    """Statistics of a healthy run: loss logged every step, the other kinds every `every` steps.

    Gradients shrink slowly with the loss and vary by ~20 % between steps; ReLU layers have
    ~50 % zeros but few dead units; updates are ~1e-3 of the weights; inputs are standardized.
    """
    rng = np.random.default_rng(seed)
    result = {}
    for kind in kinds:
        steps = np.arange(n_steps, dtype=np.int64)
        if kind == "gradient_check":  # once, at the first step
            steps = steps[:1]
        elif kind != "loss":
            steps = steps[::every]
        rows = layer_rows(kind, layers, n_features)
        if not rows:
            continue
        stats = metadata.KIND_STATS[kind]
        data = Series(
            kind=kind,
            steps=steps,
            wall_times=start_wall_time + steps * seconds_per_step,
            values=np.zeros((len(steps), len(rows), len(stats)), dtype=np.float32),
            rows=tuple(rows),
            stats=stats,
        )
        _FILL[kind](data, rng)
        result[kind] = data
    return result


def write_run(
    logdir: str,
    run: str,
    data: Mapping[str, Series],
    *,
    format_version: int = metadata.PROTO_VERSION,
    start_wall_time: float = 1.7e9,
    seconds_per_step: float = 0.01,
) -> str:
    """Write `data` as run `run` under `logdir` in step order; return the run's directory.

    Wall times are `start_wall_time + step * seconds_per_step` (a later file gets a later start)."""
    path = os.path.join(logdir, run)
    order = sorted((int(step), kind, i) for kind, kd in data.items() for i, step in enumerate(kd.steps))
    with RunWriter(path, format_version=format_version, wall_time=start_wall_time) as writer:
        for step, kind, i in order:
            kd = data[kind]
            writer.write(kind, step, kd.rows, kd.values[i], kd.stats, start_wall_time + step * seconds_per_step)
    return path


class RunWriter:
    """Writes gradcause events to one new event file in `path`, metadata once per tag.

    Uses TensorBoard's record writer directly (what its `EventFileWriter` wraps): that writer
    imports TensorFlow whenever it is installed, and names files so that two written in the
    same second by one process may sort in the wrong order. Files here sort by `wall_time`,
    then in creation order, and loaders read a run's files in that order.
    """

    def __init__(self, path: str, *, format_version: int = metadata.PROTO_VERSION, wall_time: float = 1.7e9) -> None:
        os.makedirs(path, exist_ok=True)
        name = f"events.out.tfevents.{int(wall_time):010d}.synthetic.{os.getpid()}.{next(_FILE_NUMBERS):06d}"
        self._writer = RecordWriter(open(os.path.join(path, name), "wb"))
        self._version = format_version
        self._tags_seen: set[str] = set()
        self._add(event_pb2.Event(wall_time=wall_time, file_version="brain.Event:2"))

    def write(
        self,
        kind: str,
        step: int,
        rows: Sequence[RowInfo],
        value: np.ndarray,
        stats: Sequence[str] | None = None,
        wall_time: float = 1.7e9,
    ) -> None:
        """Write one [rows, stats] value of `kind` at `step` (the tag's metadata with its first value)."""
        tag = metadata.tag_for(kind, [row.name for row in rows])
        first = tag not in self._tags_seen
        self._tags_seen.add(tag)
        proto = summary.record_pb(kind, rows, value, with_metadata=first, stats_names=stats, version=self._version)
        self._add(event_pb2.Event(wall_time=wall_time, step=step, summary=proto))

    def _add(self, event: event_pb2.Event) -> None:
        self._writer.write(event.SerializeToString())

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _row(
    name: str, layer: Layer, depth: int, *, shape: list[int], role: str = "", facts: dict | None = None
) -> RowInfo:
    return RowInfo(
        name=name,
        layer=layer.name,
        layer_class=layer.layer_class,
        activation=layer.activation,
        shape=shape,
        recurrent=layer.recurrent,
        role=role,
        depth=depth,
        facts=facts or {},
    )


def _fan_ins(layers: Sequence[Layer], n_features: int) -> list[int]:
    return [n_features] + [layer.units for layer in layers[:-1]]


def _size(row: RowInfo) -> int:
    return int(np.prod(row.shape)) if row.shape else 1


def _noise(rng: np.random.Generator, shape: tuple[int, ...], spread: float = 0.2) -> np.ndarray:
    """Multiplicative log-normal noise around 1."""
    return np.exp(rng.normal(0.0, spread, shape))


def _progress(steps: np.ndarray) -> np.ndarray:
    """Training progress in [0, 1) per logged step, as a column [S, 1]."""
    return (steps / max(int(steps[-1]) + 1, 1000))[:, None]


def _fill_tensor_stats(data: Series, scale: np.ndarray, mean: np.ndarray, n: np.ndarray) -> None:
    """l2/mean/std/min/max/max_abs from a per-element scale and mean [S, R] over n elements per row."""
    data.stat("mean")[:] = mean
    data.stat("std")[:] = scale
    data.stat("l2")[:] = np.sqrt(n * (mean**2 + scale**2))
    data.stat("min")[:] = mean - 3 * scale
    data.stat("max")[:] = mean + 3 * scale
    data.stat("max_abs")[:] = np.abs(mean) + 3 * scale


def _gradient_scale(data: Series, rng: np.random.Generator) -> np.ndarray:
    """Per-element gradient scale [S, R]: ~1e-2, decaying with training, noisy."""
    shape = (len(data.steps), len(data.rows))
    return 1e-2 * np.exp(-1.5 * _progress(data.steps)) * _noise(rng, shape)


def _fill_gradients(data: Series, rng: np.random.Generator) -> None:
    scale = _gradient_scale(data, rng)
    n = np.array([_size(row) for row in data.rows], dtype=np.float64)
    _fill_tensor_stats(data, scale, scale * rng.normal(0.0, 0.1, scale.shape), n)


def _fill_backward(data: Series, rng: np.random.Generator) -> None:
    scale = _gradient_scale(data, rng) / BATCH
    n = np.array([BATCH * _size(row) for row in data.rows], dtype=np.float64)
    _fill_tensor_stats(data, scale, scale * rng.normal(0.0, 0.1, scale.shape), n)


def _fill_activations(data: Series, rng: np.random.Generator) -> None:
    shape = (len(data.steps), len(data.rows))
    n = np.array([BATCH * _size(row) for row in data.rows], dtype=np.float64)
    jitter = _noise(rng, shape, 0.05)
    for r, row in enumerate(data.rows):
        low, high, mean, std, zero_frac, saturated = _ACTIVATION_SHAPES.get(row.activation, _ACTIVATION_SHAPES[""])
        data.stat("mean")[:, r] = mean * jitter[:, r]
        data.stat("std")[:, r] = std * jitter[:, r]
        data.stat("min")[:, r] = low
        data.stat("max")[:, r] = high * jitter[:, r]
        data.stat("max_abs")[:, r] = max(abs(low), high) * jitter[:, r]
        data.stat("zero_frac")[:, r] = zero_frac
        data.stat("dead_frac")[:, r] = 0.02 if row.activation == "relu" else 0.0
        data.stat("saturated_frac")[:, r] = saturated
        data.stat("batch_std")[:, r] = 0.8 * std * jitter[:, r]
    means, stds = data.stat("mean").astype(np.float64), data.stat("std").astype(np.float64)
    data.stat("l2")[:] = np.sqrt(n * (means**2 + stds**2))


# activation -> (min, max, mean, std, zero_frac, saturated_frac) of a healthy layer output
_ACTIVATION_SHAPES = {
    "relu": (0.0, 3.0, 0.4, 0.6, 0.5, 0.0),
    "sigmoid": (0.05, 0.95, 0.5, 0.2, 0.0, 0.01),
    "tanh": (-0.9, 0.9, 0.0, 0.4, 0.0, 0.01),
    "softmax": (0.0, 0.9, 0.1, 0.2, 0.0, 0.0),
    "": (-3.0, 3.0, 0.0, 1.0, 0.0, 0.0),
}


def _fill_backward_time(data: Series, rng: np.random.Generator) -> None:
    base = _gradient_scale(data, rng)
    for i in range(8):
        data.stat(f"t_{i}")[:] = base * 0.95**i * _noise(rng, base.shape, 0.05)
    data.stat("seq_len")[:] = SEQ_LEN


def _fill_weights(data: Series, rng: np.random.Generator) -> None:
    shape = (len(data.steps), len(data.rows))
    n = np.array([_size(row) for row in data.rows], dtype=np.float64)
    fan_in = np.array([row.shape[0] for row in data.rows], dtype=np.float64)
    is_bias = np.array([row.role == "bias" for row in data.rows])
    per_element = np.where(is_bias, 0.01, 1.0 / np.sqrt(fan_in))
    norm = np.sqrt(n) * per_element * (1.0 + 0.3 * _progress(data.steps))
    ratio = 1e-3 * np.exp(-_progress(data.steps)) * _noise(rng, shape, 0.3)
    data.stat("norm")[:] = norm
    data.stat("max_abs")[:] = 3 * per_element * (1.0 + 0.3 * _progress(data.steps))
    data.stat("update_norm")[:] = ratio * norm
    data.stat("update_ratio")[:] = ratio


def _fill_inputs(data: Series, rng: np.random.Generator) -> None:
    shape = (len(data.steps), len(data.rows))
    mean = rng.normal(0.0, 0.15, shape)
    std = _noise(rng, shape, 0.1)
    z = 2.5 + rng.exponential(0.3, shape)
    data.stat("mean")[:] = mean
    data.stat("std")[:] = std
    data.stat("min")[:] = mean - z * std
    data.stat("max")[:] = mean + z * std
    data.stat("max_abs_z")[:] = z


def _fill_loss(data: Series, rng: np.random.Generator) -> None:
    progress = _progress(data.steps)[:, 0]
    data.stat("value")[:, 0] = 0.1 + 0.6 * np.exp(-5 * progress) * _noise(rng, progress.shape, 0.1)
    data.stat("learning_rate")[:, 0] = 1e-3
    data.stat("loss_scale")[:, 0] = 1.0


def _fill_loss_inputs(data: Series, rng: np.random.Generator) -> None:
    """A loss whose y_true and y_pred line up: no finding; 0/1 labels."""
    data.stat("classes")[:] = float(data.rows[0].facts["y_pred_shape"].strip("()").split(", ")[-1])
    data.stat("labels_max")[:] = 1.0
    data.stat("labels_integral")[:] = 1.0


def _fill_gradient_check(data: Series, rng: np.random.Generator) -> None:
    """Correct gradients: autodiff and finite differences agree to float32 rounding."""
    numeric = rng.uniform(1.0, 10.0, data.values.shape[:2])
    data.stat("numeric")[:] = numeric
    data.stat("autodiff")[:] = numeric * (1 + rng.normal(0, 1e-5, numeric.shape))
    data.stat("rel_error")[:] = np.abs(rng.normal(0, 1e-5, numeric.shape))
    data.stat("scale")[:] = 1.0
    data.stat("upstream_ratio")[:] = 2.0
    data.stat("noise")[:] = 1e-3 * numeric


_FILL = {
    "gradients": _fill_gradients,
    "activations": _fill_activations,
    "backward": _fill_backward,
    "backward_time": _fill_backward_time,
    "weights": _fill_weights,
    "inputs": _fill_inputs,
    "loss": _fill_loss,
    "loss_inputs": _fill_loss_inputs,
    "gradient_check": _fill_gradient_check,
}
