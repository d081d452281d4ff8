"""What the loss did with y_true and y_pred, read from its graph at trace time (`loss_inputs` rows).

Keras aligns the ranks of y_true and y_pred for its built-in and plain-function losses, but a
`keras.losses.Loss` subclass gets them as they come: y_true (B,) against y_pred (B, 1) broadcasts
to (B, B), every prediction against every target (keras-team/keras #19662), and the model learns
the batch mean while every gradient statistic looks normal. Sparse labels (B, 1) in a loss that
expects one-hot rows broadcast across the classes without an error either. Both show in the
loss's graph before the first step runs, at no cost per step:

- a mutual broadcast: an elementwise op whose operands derive from y_true alone and from y_pred
  alone and have different ranks, each expanded along an axis of the other, so its result is
  larger than both, where y_true and y_pred entered the loss with different shapes. The lower rank
  is padded with leading axes by NumPy's rules: (B,) meets (B, 1) as (1, B). Losses that pair
  elements on purpose (CTC, a distance between all predictions and targets) insert the axes
  themselves, on inputs of one shape;
- labels broadcast across the classes: in arithmetic (not a mask), the y_true operand has one
  column where y_pred has C > 1 and only it is expanded (also what a quantile or mixture loss
  does on purpose: the detector asks the label values, logged per step, whether they are class ids);
- one-hot labels used as indices: y_true shaped like y_pred (C > 1 columns) feeds the index input
  of a gather, one-hot or sparse cross-entropy op (a hand-written sparse loss).

In `fit` the step's own graph is read (the loss hook hands y, y_pred and the loss over); eagerly,
and for a loss function handed over in a custom loop, the loss is traced once on the shapes and
dtypes of its inputs. A failure of the check is logged once at debug level and costs nothing else.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import keras
import tensorflow as tf

from tb_gradcause import summary
from tb_gradcause.rows import LOSS, RowInfo

log = logging.getLogger("tb_gradcause")

# Elementwise ops that broadcast their operands (NumPy rules).
BROADCASTING_OPS = frozenset(
    {
        "Add",
        "AddV2",
        "Sub",
        "Mul",
        "MulNoNan",
        "RealDiv",
        "Div",
        "DivNoNan",
        "FloorDiv",
        "FloorMod",
        "TruncateDiv",
        "SquaredDifference",
        "Maximum",
        "Minimum",
        "Pow",
        "Atan2",
        "Xlogy",
        "Xdivy",
        "Xlog1py",
        "Equal",
        "NotEqual",
        "Less",
        "LessEqual",
        "Greater",
        "GreaterEqual",
        "LogicalAnd",
        "LogicalOr",
        "SelectV2",
    }
)
# Masks (conditions, comparisons) broadcast labels across the classes on purpose (e.g. `ignore_class`).
MASK_OPS = frozenset(
    {"Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual", "LogicalAnd", "LogicalOr", "SelectV2"}
)
# Ops that read a tensor as integer class indices: op type -> that input.
INDEX_INPUTS = {
    "OneHot": 0,
    "GatherV2": 1,
    "GatherNd": 1,
    "ResourceGather": 1,
    "SparseSoftmaxCrossEntropyWithLogits": 1,
}
TRUE, PRED = "y_true", "y_pred"

_failed_once = threading.Event()


@dataclasses.dataclass(frozen=True)
class Finding:
    """What one loss term's graph did with its y_true and y_pred (static: no tensors)."""

    name: str  # the row: "loss", or "loss/<output>" for a model with several outputs
    loss: str  # the loss, for people ("ManualMSE 'manual_mse'", "mse", "my_loss")
    y_true_shape: tuple[int | None, ...]
    y_pred_shape: tuple[int | None, ...]
    y_true_dtype: str
    y_pred_dtype: str
    broadcast: str = ""  # the first mutual broadcast: "Sub of (32, 1) and (32,) gives (32, 32)"
    broadcast_op: str = ""  # its op's name in the graph
    labels_broadcast: str = ""  # labels broadcast across the classes, worded as `broadcast`
    labels_as_index: str = ""  # one-hot-shaped labels read as indices: the op type

    @property
    def classes(self) -> float:
        """y_pred's last dimension (NaN when unknown or y_pred has rank < 2)."""
        last = self.y_pred_shape[-1] if len(self.y_pred_shape) >= 2 else None
        return float(last) if last is not None else float("nan")

    def row(self) -> RowInfo:
        facts = {
            "loss": self.loss,
            "y_true_shape": shape_text(self.y_true_shape),
            "y_pred_shape": shape_text(self.y_pred_shape),
            "y_true_dtype": self.y_true_dtype,
            "y_pred_dtype": self.y_pred_dtype,
        }
        found = {
            "broadcast": self.broadcast,
            "broadcast_op": self.broadcast_op,
            "labels_broadcast": self.labels_broadcast,
            "labels_as_index": self.labels_as_index,
        }
        return RowInfo(name=self.name, role=LOSS, depth=-1, facts={**facts, **{k: v for k, v in found.items() if v}})


def shape_text(shape: Sequence[int | None]) -> str:
    return str(tuple(shape))


def _static(t: tf.Tensor) -> tuple[int | None, ...] | None:
    shape = tf.TensorShape(t.shape)
    return tuple(shape.as_list()) if shape.rank is not None else None


def _expanded_axes(a: tuple[int | None, ...], b: tuple[int | None, ...]) -> set[int]:
    """Axes (counted from the end, -1 last) along which `a` is expanded to match `b`: where `a`
    has 1 (or no axis) and `b` has another size (a size unknown at trace time counts)."""
    axes = set()
    for k in range(1, max(len(a), len(b)) + 1):
        da = a[-k] if k <= len(a) else 1
        db = b[-k] if k <= len(b) else 1
        if da == 1 and db != 1:
            axes.add(-k)
    return axes


def _loss_ops(loss: tf.Tensor, stops: set[str]) -> list[tf.Operation]:
    """The ops the loss depends on, not looking past the tensors named in `stops` (y_true, y_pred),
    in graph-creation order (inputs before the ops that read them)."""
    seen: dict[str, tf.Operation] = {}
    stack = [loss.op]
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen[op.name] = op
        stack.extend(t.op for t in op.inputs if t.name not in stops and t.op.name not in seen)
    return sorted(seen.values(), key=lambda op: op._id)  # pylint: disable=protected-access


def _sides(ops: list[tf.Operation], y_true: tf.Tensor, y_pred: tf.Tensor) -> dict[str, frozenset[str]]:
    """Tensor name -> which of y_true and y_pred it derives from (absent: neither)."""
    sides: dict[str, frozenset[str]] = {y_true.name: frozenset({TRUE}), y_pred.name: frozenset({PRED})}
    for op in ops:  # inputs come before the ops that read them
        side = frozenset().union(*(sides.get(t.name, frozenset()) for t in op.inputs))
        if side:
            for out in op.outputs:
                sides[out.name] = side | sides.get(out.name, frozenset())
    return sides


def _wording(op: tf.Operation, a: tuple, b: tuple) -> str:
    out = _static(op.outputs[0])
    return f"{op.type} of {shape_text(a)} and {shape_text(b)} gives {shape_text(out) if out is not None else '?'}"


def _reads_one_hot_as_index(op: tf.Operation, sides: dict, true_shape: tuple, classes: int | None, rank: int) -> bool:
    """`op` reads y_true (alone) as indices while y_true has y_pred's rank and `classes` columns."""
    position = INDEX_INPUTS.get(op.type)
    if position is None or len(op.inputs) <= position or classes in (None, 1):
        return False
    one_hot_shaped = len(true_shape) == rank and true_shape[-1] == classes
    return one_hot_shaped and sides.get(op.inputs[position].name) == {TRUE}


def _operands(op: tf.Operation, sides: dict) -> Iterator[tuple[tuple, tuple, str]]:
    """(shape of the y_true operand, shape of the y_pred operand, wording) of each pair of `op`'s
    inputs derived from y_true alone and from y_pred alone, when `op` broadcasts them."""
    if op.type not in BROADCASTING_OPS:
        return
    for a_t in op.inputs:
        for b_t in op.inputs:
            a, b = _static(a_t), _static(b_t)
            if sides.get(a_t.name) == {TRUE} and sides.get(b_t.name) == {PRED} and a is not None and b is not None:
                yield a, b, _wording(op, a, b) if op.inputs[0] is a_t else _wording(op, b, a)


def inspect(name: str, loss_name: str, y_true: tf.Tensor, y_pred: tf.Tensor, loss: tf.Tensor) -> Finding:
    """Read what the graph of `loss` did with the graph tensors `y_true` and `y_pred`."""
    true_shape, pred_shape = _static(y_true), _static(y_pred)
    finding = Finding(
        name=name,
        loss=loss_name,
        y_true_shape=true_shape or (),
        y_pred_shape=pred_shape or (),
        y_true_dtype=y_true.dtype.name,
        y_pred_dtype=y_pred.dtype.name,
    )
    if true_shape is None or pred_shape is None:
        return finding
    ops = _loss_ops(loss, {y_true.name, y_pred.name})
    sides = _sides(ops, y_true, y_pred)
    classes = pred_shape[-1] if len(pred_shape) >= 2 else None
    broadcast = broadcast_op = labels_broadcast = labels_as_index = ""
    for op in ops:
        if not labels_as_index and _reads_one_hot_as_index(op, sides, true_shape, classes, len(pred_shape)):
            labels_as_index = op.type
        for a, b, wording in _operands(op, sides):
            a_axes, b_axes = _expanded_axes(a, b), _expanded_axes(b, a)
            # NumPy's silent rank padding ((B,) read as (1, B)) of inputs that came in unaligned;
            # axes inserted by hand (CTC, all-pairs distances) pair elements on purpose
            if not broadcast and a_axes and b_axes and len(a) != len(b) and true_shape != pred_shape:
                broadcast, broadcast_op = wording, op.name
            across_classes = a_axes == {-1} and not b_axes and b[-1] == classes and classes not in (None, 1)
            if not labels_broadcast and across_classes and op.type not in MASK_OPS:
                labels_broadcast = wording
    return dataclasses.replace(
        finding,
        broadcast=broadcast,
        broadcast_op=broadcast_op,
        labels_broadcast=labels_broadcast,
        labels_as_index=labels_as_index,
    )


def describe_loss(loss: Any) -> str:
    """A loss for people: a Loss object's class and name, a string as is, a function's name."""
    if isinstance(loss, str):
        return loss
    if isinstance(loss, keras.losses.Loss):
        return f"{type(loss).__name__} '{loss.name}'"
    return getattr(loss, "__name__", None) or type(loss).__name__


def row_names(n: int, output_names: Sequence[str] | None) -> list[str]:
    """ "loss" for one loss term; "loss/<output>" (or "loss/<i>") for several."""
    if n == 1:
        return [LOSS]
    names = list(output_names) if output_names is not None and len(output_names) == n else [str(i) for i in range(n)]
    return [f"{LOSS}/{name}" for name in names]


def _pairs(y_true: Any, y_pred: Any) -> list[tuple[tf.Tensor, tf.Tensor]] | None:
    trues, preds = tf.nest.flatten(y_true), tf.nest.flatten(y_pred)
    if not trues or len(trues) != len(preds) or not all(isinstance(t, tf.Tensor) for t in trues + preds):
        return None
    return list(zip(trues, preds))


def inspect_graph(
    y_true: Any, y_pred: Any, loss: tf.Tensor, losses: Sequence[str], output_names: Sequence[str] | None = None
) -> list[Finding]:
    """One `Finding` per (y_true, y_pred) pair of a loss traced in a graph; [] if they do not pair up."""
    pairs = _pairs(y_true, y_pred)
    if pairs is None or not isinstance(loss, tf.Tensor):
        return []
    names = row_names(len(pairs), output_names)
    described = list(losses) if len(losses) == len(pairs) else [", ".join(losses)] * len(pairs)
    return [inspect(n, d, t, p, loss) for n, d, (t, p) in zip(names, described, pairs)]


_traced: weakref.WeakKeyDictionary[Any, dict[tuple, list[Finding]]] = weakref.WeakKeyDictionary()
_traced_lock = threading.Lock()


def inspect_call(
    owner: Any,
    loss_fn: Callable[[Any, Any], Any],
    y_true: Any,
    y_pred: Any,
    losses: Sequence[str],
    output_names: Sequence[str] | None = None,
) -> list[Finding]:
    """`inspect_graph` of `loss_fn(y_true, y_pred)` traced once on its inputs' shapes and dtypes
    (eager steps, loss functions handed over in custom loops); cached per `owner` and signature."""
    specs = tf.nest.map_structure(lambda t: tf.TensorSpec(t.shape, t.dtype), (y_true, y_pred))
    key = tuple(
        (tuple(s.shape.as_list()) if s.shape.rank is not None else None, s.dtype.name) for s in tf.nest.flatten(specs)
    )
    with _traced_lock:
        cached = _traced.get(owner, {}).get(key)
    if cached is not None:
        return cached
    seen: dict[str, Any] = {}

    def traced(yt, yp):
        seen["loss"] = loss_fn(yt, yp)
        seen["y_true"], seen["y_pred"] = yt, yp
        return seen["loss"]

    tf.function(traced).get_concrete_function(*specs)  # its graph lives on in the tensors `seen` holds
    findings = inspect_graph(seen["y_true"], seen["y_pred"], seen["loss"], losses, output_names)
    with _traced_lock:
        _traced.setdefault(owner, {})[key] = findings
    return findings


def model_losses(model: Any) -> list[str]:
    """The compiled loss of each output, for people (one entry for a single loss)."""
    loss = getattr(model, "loss", None)
    if isinstance(loss, dict):
        names = getattr(model, "output_names", None) or list(loss)
        return [describe_loss(loss[n]) for n in names if n in loss]
    if isinstance(loss, (list, tuple)):
        return [describe_loss(each) for each in loss]
    return [describe_loss(loss)] if loss is not None else ["compute_loss"]


@tf.autograph.experimental.do_not_convert  # plain Python at trace time, called from users' tf.functions
def for_model(model: Any, compute_loss: Callable, args: tuple, kwargs: dict, value: Any) -> list[tuple[Finding, Any]]:
    """The findings of a model's `compute_loss(x, y, y_pred, sample_weight, ...)` call that
    returned `value`, each with its y_true (for the label values); [] when there is nothing to check."""

    def check() -> list[tuple[Finding, Any]]:
        bound = {**dict(zip(("x", "y", "y_pred", "sample_weight"), args)), **kwargs}
        y, y_pred = bound.get("y"), bound.get("y_pred")
        if y is None or y_pred is None:
            return []
        losses, outputs = model_losses(model), getattr(model, "output_names", None)
        if isinstance(value, tf.__internal__.EagerTensor):  # an eager step: trace the loss once
            call = lambda yt, yp: compute_loss(bound.get("x"), yt, yp, bound.get("sample_weight"))  # noqa: E731
            findings = inspect_call(model, call, y, y_pred, losses, outputs)
        else:
            findings = inspect_graph(y, y_pred, value, losses, outputs)
        return list(zip(findings, tf.nest.flatten(y)))

    return guarded(check)


@tf.autograph.experimental.do_not_convert  # plain Python at trace time, called from users' tf.functions
def for_function(loss_fn: Callable, y_true: Any, y_pred: Any, value: Any = None) -> list[tuple[Finding, Any]]:
    """The findings of `loss_fn(y_true, y_pred)` (that returned `value`, when given in a graph),
    each with its y_true."""

    def check() -> list[tuple[Finding, Any]]:
        losses = [describe_loss(loss_fn)]
        if isinstance(value, tf.Tensor) and not isinstance(value, tf.__internal__.EagerTensor):
            findings = inspect_graph(y_true, y_pred, value, losses)
        else:
            findings = inspect_call(loss_fn, loss_fn, y_true, y_pred, losses)
        return list(zip(findings, tf.nest.flatten(y_true)))

    return guarded(check)


def guarded(check: Callable[[], list[tuple[Finding, Any]]]) -> list[tuple[Finding, Any]]:
    """`check()`, or [] if it fails (logged once at debug level): the check must never stop training."""
    try:
        return check()
    except Exception as error:  # any failure of an optional check: no finding, training unchanged
        if not _failed_once.is_set():
            _failed_once.set()
            log.debug("tb_gradcause: the loss-shape check failed and is skipped", exc_info=error)
        return []


def label_stats(y_true: tf.Tensor) -> tf.Tensor:
    """[min, max, fraction of whole numbers] of the finite label values: float32 [3], NaN when
    none is finite (no boolean mask: XLA needs static shapes)."""
    y = tf.cast(y_true, tf.float32)
    finite = tf.math.is_finite(y)
    count = tf.reduce_sum(tf.cast(finite, tf.float32))
    inf = tf.constant(float("inf"))
    low = tf.reduce_min(tf.where(finite, y, inf))
    high = tf.reduce_max(tf.where(finite, y, -inf))
    whole = tf.reduce_sum(tf.cast(finite & tf.equal(y, tf.round(y)), tf.float32)) / tf.maximum(count, 1.0)
    values = tf.stack([low, high, whole])
    return tf.where(count > 0, values, tf.fill([3], float("nan")))


@tf.autograph.experimental.do_not_convert  # plain Python at trace time, called from users' tf.functions
def record(checked: Sequence[tuple[Finding, Any]]) -> summary.Record:
    """The `loss_inputs` record: per loss term its findings (constants) and its labels' values."""
    rows = []
    for f, y in checked:
        y = tf.convert_to_tensor(y)
        flags = tf.constant(
            [float(bool(f.broadcast)), float(bool(f.labels_broadcast)), float(bool(f.labels_as_index)), f.classes],
            tf.float32,
        )
        labels = label_stats(y) if y.dtype.is_floating or y.dtype.is_integer else tf.fill([3], float("nan"))
        rows.append(tf.concat([flags, labels], 0))
    return summary.Record("loss_inputs", [f.row() for f, _ in checked], tf.stack(rows))
