"""`tf.summary`-style ops writing tb_gradcause summaries, and their TensorFlow-free `*_pb` twin.

Usable eagerly and inside `tf.function` (custom training loops)::

    with writer.as_default(step=step):
        tb_gradcause.summary.gradients(grads, model.trainable_variables)
        tb_gradcause.summary.loss(loss, learning_rate=optimizer.learning_rate)

`ModelRecorder` (from `tb_gradcause.capture.custom_loop`) records a Keras model's whole step in
two calls, as the callback does in `fit`: layer outputs, backward signals, inputs, gradients,
weights and updates, and the loss.

Each op computes its stats on the device (`tb_gradcause.stats`) and writes one tensor summary
`[rows, stats]` under `metadata.tag_for(kind, row names)`; the metadata goes into the first
event of each tag per writer only. Every op returns the boolean `tf.summary.write` returns.

`record_pb` builds the same summary from numpy values without TensorFlow (as TensorBoard pairs
`scalar` with `scalar_pb`): synthetic runs and benchmarks write through it, so they cannot
drift from what the ops write. TensorFlow is imported on first use of an op, not on import.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from tensorboard import lazy
from tensorboard.compat.proto import summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2

from tb_gradcause import metadata
from tb_gradcause.rows import LOSS, RowInfo, feature_name

if TYPE_CHECKING:
    import tensorflow as tf
    from tensorflow.python.ops import control_flow_util, summary_ops_v2

    from tb_gradcause import stats
else:

    @lazy.lazy_load("tensorflow")
    def tf():
        import tensorflow

        return tensorflow

    @lazy.lazy_load("tensorflow.python.ops.summary_ops_v2")
    def summary_ops_v2():
        from tensorflow.python.ops import summary_ops_v2

        return summary_ops_v2

    @lazy.lazy_load("tensorflow.python.ops.control_flow_util")
    def control_flow_util():
        from tensorflow.python.ops import control_flow_util

        return control_flow_util

    @lazy.lazy_load("tb_gradcause.stats")
    def stats():
        from tb_gradcause import stats

        return stats


__all__ = [  # and ModelRecorder, imported on first use (`__getattr__`)
    "Record",
    "record_pb",
    "write",
    "write_record",
    "gradients",
    "activations",
    "backward",
    "backward_time",
    "weights",
    "inputs",
    "loss",
    "loss_inputs",
    "variable_name",
]

_lock = threading.Lock()
# writer -> {tag: tf.Variable(bool) "metadata already written"}.
_metadata_written: weakref.WeakKeyDictionary[object, dict[str, tf.Variable]] = weakref.WeakKeyDictionary()


def _written_flag(tag: str) -> tf.Variable | None:
    """Per (default writer, tag) flag recording that the tag's metadata is on disk."""
    # The default writer has no public getter; it keys the flags so a new writer (a new event
    # file, maybe a new run) gets the metadata again.
    writer = summary_ops_v2._summary_state.writer  # pylint: disable=protected-access
    if writer is None:
        return None
    with _lock:
        flags = _metadata_written.setdefault(writer, {})
        if tag not in flags:
            with tf.init_scope():
                flags[tag] = tf.Variable(False, trainable=False, name="gradcause_metadata_written")
        return flags[tag]


@contextlib.contextmanager
def default_writer(writer: tf.summary.SummaryWriter) -> Iterator[None]:
    """`writer.as_default()` without its flush on leaving.

    Inside a `tf.function` that flush is an op run on every call, and it syncs the event file to
    disk whenever an event waits: on every training step that writes. Callers flush when a step
    must be on disk; the writer's queue flushes itself otherwise.
    """
    state = summary_ops_v2._summary_state  # pylint: disable=protected-access
    previous, state.writer = state.writer, writer
    try:
        yield
    finally:
        state.writer = previous


def write(kind: str, rows: Sequence[RowInfo], values: tf.Tensor, step=None, consecutive: bool = False) -> tf.Tensor:
    """Write a `[len(rows), stats]` float32 matrix of `kind` (metadata once per tag and writer).

    `consecutive`: `values` is `[n, stats]`, the one row of `rows` at each of the n steps from
    `step` (the callback's loss row, a chunk of steps per summary: `capture.loss_chunks`)."""
    names = [r.name for r in rows]
    tag = metadata.tag_for(kind, names)
    flag = _written_flag(tag)
    if flag is None:
        return tf.constant(False)
    serialized = metadata.create_summary_metadata(kind, rows).SerializeToString()
    written = flag.read_value()
    meta = tf.where(written, tf.constant(b""), tf.constant(serialized))
    shape = [None if consecutive else len(rows), len(metadata.KIND_STATS[kind])]
    values = tf.cast(values, tf.float32)
    if values.shape != shape:
        values = tf.ensure_shape(values, shape)
    ok = tf.summary.write(tag, values, step=step, metadata=meta)
    with tf.control_dependencies([flag.assign(written | ok, read_value=False)]):
        return tf.identity(ok)


@dataclasses.dataclass
class Record:
    """One kind's rows and its `[rows, stats]` float32 values, ready to `write`."""

    kind: str
    rows: list[RowInfo]
    values: tf.Tensor


def write_record(record: Record, step=None) -> tf.Tensor:
    return write(record.kind, record.rows, record.values, step)


def record_pb(
    kind: str,
    rows: Sequence[RowInfo],
    values: np.ndarray,
    *,
    with_metadata: bool = True,
    stats_names: Sequence[str] | None = None,
    version: int = metadata.PROTO_VERSION,
) -> summary_pb2.Summary:
    """The `Summary` proto `write` puts on disk for a `[rows, stats]` value, built without TensorFlow.

    `with_metadata` as in the first event of a tag (later events carry none); `stats_names`
    and `version` let tests write other column sets and format versions. The shape is not
    checked against the rows, so tests can write the malformed samples readers must drop."""
    array = np.asarray(values, dtype="<f4")
    dims = [tensor_shape_pb2.TensorShapeProto.Dim(size=n) for n in array.shape]
    tensor = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_FLOAT,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=dims),
        tensor_content=array.tobytes(),
    )
    value = summary_pb2.Summary.Value(tag=metadata.tag_for(kind, [r.name for r in rows]), tensor=tensor)
    if with_metadata:
        value.metadata.CopyFrom(metadata.create_summary_metadata(kind, rows, stats_names, version=version))
    return summary_pb2.Summary(value=[value])


def variable_name(variable) -> str:
    """A variable's path ("dense_1/kernel"), falling back to its name."""
    name = getattr(variable, "path", None) or variable.name
    return name[:-2] if name.endswith(":0") else name


def _shape(x) -> list[int]:
    shape = tf.TensorShape(x.shape)
    return [d if d is not None else -1 for d in shape.as_list()] if shape.rank is not None else []


def variable_rows(variables: Sequence) -> list[RowInfo]:
    """Default rows of variables, grouped by the layer their path names: "model/h/kernel" is the
    kernel of layer "model/h", so detectors see layers, not loose variables, in custom loops too."""
    rows = []
    for variable in variables:
        path = variable_name(variable)
        layer, _, role = path.rpartition("/")
        rows.append(
            RowInfo(
                name=path,
                layer=layer,
                role=role if layer else "",
                shape=_shape(variable),
                depth=-1,
                facts={"path": path},
            )
        )
    return rows


def _default_rows(names: Sequence[str], tensors: Sequence, batch_axis: bool, **facts) -> list[RowInfo]:
    rows = []
    for name, t in zip(names, tensors):
        shape = _shape(t) if t is not None else []
        rows.append(RowInfo(name=name, shape=shape[1:] if batch_axis else shape, depth=-1, **facts))
    return rows


def gradients_record(grads: Sequence, variables: Sequence, rows: Sequence[RowInfo] | None = None) -> Record:
    if len(grads) != len(variables):
        raise ValueError(f"got {len(grads)} gradients for {len(variables)} variables")
    if rows is None:
        rows = variable_rows(variables)
    dense_slices = in_xla_context()
    return Record("gradients", list(rows), stats.gradient_stats_list(grads, dense_slices))


def _output_rows(names: Sequence[str], tensors: Sequence, max_units: int | None) -> list[RowInfo]:
    """Default rows of layer outputs (or signals of their shape): the layer is the name."""
    rows = _default_rows(names, tensors, batch_axis=True)
    return [
        r.replace(
            layer=r.name, facts={**r.facts, **(stats.sample_facts(_shape(t), max_units) if t is not None else {})}
        )
        for r, t in zip(rows, tensors)
    ]


def activations_record(
    outputs: Mapping[str, tf.Tensor],
    activation_names: Mapping[str, str] | None = None,
    rows: Sequence[RowInfo] | None = None,
    max_units: int | None = metadata.SAMPLE_UNITS,
) -> Record:
    names = list(outputs)
    acts = dict(activation_names or {})
    if rows is None:
        rows = [
            r.replace(activation=acts.get(r.name, ""))
            for r in _output_rows(names, [outputs[n] for n in names], max_units)
        ]
    values = stats.activation_stats_list([outputs[n] for n in names], [acts.get(n, "") for n in names], max_units)
    return Record("activations", list(rows), values)


def backward_record(
    output_grads: Mapping[str, tf.Tensor | None],
    rows: Sequence[RowInfo] | None = None,
    max_units: int | None = metadata.SAMPLE_UNITS,
) -> Record:
    names = list(output_grads)
    if rows is None:
        rows = _output_rows(names, [output_grads[n] for n in names], max_units)
    present = [n for n in names if output_grads[n] is not None]
    zero = tf.constant(stats.MISSING_GRADIENT[:-1], tf.float32)  # no signal: all zeros
    if not present:
        return Record("backward", list(rows), tf.stack([zero for _ in names]))
    computed = stats.output_stats_list([output_grads[n] for n in present], max_units)
    values = tf.stack([computed[present.index(n)] if n in present else zero for n in names])
    return Record("backward", list(rows), values)


def backward_time_record(input_grads: Mapping[str, tf.Tensor], rows: Sequence[RowInfo] | None = None) -> Record:
    names = list(input_grads)
    if rows is None:
        rows = [
            r.replace(layer=r.name)
            for r in _default_rows(names, [input_grads[n] for n in names], batch_axis=True, recurrent=True)
        ]
    return Record("backward_time", list(rows), tf.stack([stats.time_grad_stats(input_grads[n]) for n in names]))


def weights_record(
    variables: Sequence,
    updates: Sequence | None = None,
    rows: Sequence[RowInfo] | None = None,
    before: Sequence | None = None,
) -> Record:
    if updates is not None and before is not None:
        raise ValueError("give either updates or before, not both")
    for name, given in (("updates", updates), ("before", before)):
        if given is not None and len(given) != len(variables):
            raise ValueError(f"got {len(given)} {name} for {len(variables)} variables")
    if rows is None:
        rows = variable_rows(variables)
    values = [tf.convert_to_tensor(v) for v in variables]
    befores = [tf.convert_to_tensor(b) for b in before] if before is not None else None
    if befores is not None:
        updates = [tf.cast(v, tf.float32) - tf.cast(b, tf.float32) for v, b in zip(values, befores)]
    ups = updates if updates is not None else [None] * len(variables)
    return Record("weights", list(rows), stats.weight_stats_list(values, ups, befores))


def input_rows(name: str, x: tf.Tensor, max_features: int = metadata.MAX_INPUT_FEATURES) -> list[RowInfo]:
    """Rows of one input's features: "<name>/feature_<i>" for the first `max_features` of the last axis."""
    shape = _shape(x)
    n = shape[-1] if len(shape) >= 2 else 1
    if n < 0:
        raise ValueError(f"input {name!r} needs a static last dimension, got shape {shape}")
    facts = {"features": str(n), "dtype": tf.as_dtype(x.dtype).name}
    return [
        RowInfo(name=feature_name(name, i), role=name, shape=shape[1:], depth=-1, facts=facts)
        for i in range(min(n, max_features))
    ]


def inputs_record(x, name: str = "input", max_features: int = metadata.MAX_INPUT_FEATURES) -> Record:
    named = dict(x) if isinstance(x, Mapping) else {name: x}
    rows: list[RowInfo] = []
    blocks = []
    for key, t in named.items():
        t = tf.convert_to_tensor(t)
        rows.extend(input_rows(key, t, max_features))
        blocks.append(stats.input_stats(t, max_features))
    return Record("inputs", rows, tf.concat(blocks, 0))


def mean_float32(value) -> tf.Tensor:
    """The float32 mean of `value` (no op for a float32 scalar: the loss row may go out every step)."""
    value = tf.cast(value, tf.float32)
    return value if value.shape.rank == 0 else tf.reduce_mean(value)


def loss_record(value, learning_rate=None, loss_scale=None, step_skipped=None) -> Record:
    def f(v, default):  # a float32 scalar
        v = tf.cast(v if v is not None else default, tf.float32)
        return v if v.shape.rank == 0 else tf.reshape(v, [])

    row = tf.stack([mean_float32(value), f(learning_rate, float("nan")), f(loss_scale, 1.0), f(step_skipped, 0.0)])
    return Record("loss", [RowInfo(name=LOSS, depth=-1)], tf.expand_dims(row, 0))


def gradients(grads: Sequence, variables: Sequence, step=None, rows: Sequence[RowInfo] | None = None):
    """Stats of each variable's gradient (`None` = missing; `tf.IndexedSlices` merged exactly)."""
    return write_record(gradients_record(grads, variables, rows), step)


def activations(
    outputs: Mapping[str, tf.Tensor],
    step=None,
    activation_names: Mapping[str, str] | None = None,
    rows: Sequence[RowInfo] | None = None,
    max_units: int | None = metadata.SAMPLE_UNITS,
):
    """Stats of layer outputs `{layer name: [batch, ...] tensor}`; `activation_names` gives each
    layer's activation function ("relu", "sigmoid", ...) for the saturation stat. Outputs with
    more than `max_units` units per sample are sampled (`stats.unit_sample`; None: never)."""
    return write_record(activations_record(outputs, activation_names, rows, max_units), step)


def backward(
    output_grads: Mapping[str, tf.Tensor | None],
    step=None,
    rows: Sequence[RowInfo] | None = None,
    max_units: int | None = metadata.SAMPLE_UNITS,
):
    """Stats of d loss / d (layer output) per layer; `None` (no signal reaches it) counts as zeros.
    Signals with more than `max_units` units per sample are sampled as in `activations`."""
    return write_record(backward_record(output_grads, rows, max_units), step)


def backward_time(input_grads: Mapping[str, tf.Tensor], step=None, rows: Sequence[RowInfo] | None = None):
    """Per-time-step norms of d loss / d (recurrent layer input [batch, time, ...]) per layer."""
    return write_record(backward_time_record(input_grads, rows), step)


def weights(
    variables: Sequence,
    updates: Sequence | None = None,
    step=None,
    rows: Sequence[RowInfo] | None = None,
    before: Sequence | None = None,
):
    """Norm of each variable and of the update applied to it: give `updates` (`updates[i]` = new -
    old value) or `before` (copies of the values before the update, e.g. `tf.identity(v)` taken
    before `optimizer.apply`; they also tell whether the step started from NaN/Inf weights)."""
    return write_record(weights_record(variables, updates, rows, before), step)


def inputs(x, step=None, name: str = "input", max_features: int = metadata.MAX_INPUT_FEATURES):
    """Per-feature stats of a model input (tensor, or `{name: tensor}`), capped at `max_features` each."""
    return write_record(inputs_record(x, name, max_features), step)


def loss(value, step=None, learning_rate=None, loss_scale=None, step_skipped=None):
    """The loss of a step, with the learning rate (NaN when unknown), loss scale (1 without one)
    and whether a loss scaler skipped the update."""
    return write_record(loss_record(value, learning_rate, loss_scale, step_skipped), step)


def loss_inputs(loss_fn, y_true, y_pred, step=None):
    """What `loss_fn` does with `y_true` and `y_pred`, found by tracing it once on their shapes and
    dtypes (y_true (B,) broadcast against y_pred (B, 1) into (B, B), class ids in a loss that
    expects one-hot rows, one-hot rows read as class ids), with the label values of this batch.
    The check never raises: when it cannot run, nothing is written and False is returned."""
    from tb_gradcause.capture import loss_check  # needs Keras

    checked = loss_check.for_function(loss_fn, y_true, y_pred)
    return write_record(loss_check.record(checked), step) if checked else tf.constant(False)


def __getattr__(name: str):
    # Imported on first use: it needs Keras, and this module must load without TensorFlow.
    if name == "ModelRecorder":
        from tb_gradcause.capture.custom_loop import ModelRecorder

        return ModelRecorder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def in_xla_context() -> bool:
    """True while tracing inside an XLA-compiled function."""
    return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())
