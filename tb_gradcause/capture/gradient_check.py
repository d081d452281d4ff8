"""Hand-written gradients checked against finite differences, once (`gradient_check` rows).

A custom layer or `tf.custom_gradient` whose gradient is zero, sign-flipped, ignores the upstream
gradient or is simply wrong trains silently wrong (tensorflow/tensorflow #42311): every statistic
looks plausible. The check compares, for each checked layer `f`, each of its float inputs and its
trainable weights together `a`, the autodiff directional derivative of phi(a) = <u, f(a)> (u a
random upstream gradient) along random directions v with central finite differences
(phi(a + h v) - phi(a - h v)) / 2h without the output elements that jump (a step function's jump
is no derivative: binarizing layers with a surrogate gradient stay silent), and the autodiff
gradient for upstream 2u against twice the one for u (a gradient that ignores its upstream gives
the same for both).

Design: the check is traced into the step itself, where the layer's inputs of that step are at
hand (the host never sees the batch), inside a conditional that runs once per writer: at the first
captured step whose layers were all hooked, then never again (a flag variable), so later steps pay
one scalar read on captured steps and nothing on the others. Every evaluation goes through
`layer.stateless_call` with inference behaviour (`training=False`): perturbed weights are values,
never assigned, and random layers draw from copies of their seed state, so the real weights, RNG
state and optimizer are untouched. The comparison is float-aware: h = eps^(1/3) of the layer's
dtype (relative to the argument's RMS), and the row logs the rounding error of the finite
difference (`noise`) for the detector to weigh. Skipped: XLA-compiled steps (the summary ops
cannot run inside them), several replicas (a per-replica flag), custom training loops
(`ModelRecorder` does not run it), dtypes under 32 bits (h would
have to be so large that smooth layers fail), layers whose forward graph holds a `StopGradient`
(a surrogate gradient by design: straight-through estimators, targets held fixed).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tb_gradcause import summary
from tb_gradcause.capture import graph
from tb_gradcause.capture.hooks import Recorder, Slot, recording
from tb_gradcause.rows import RowInfo

log = logging.getLogger("tb_gradcause")

KIND = "gradient_check"
SCOPES = ("custom", "all")  # layers whose own code computes (custom classes, Lambda, custom activations); all
DIRECTIONS = 3  # random directions per argument: 4 * DIRECTIONS forward passes each
SHRINK = 8.0  # the second, smaller step of the finite differences: h / SHRINK
_STOP_OPS = frozenset({"StopGradient", "PreventGradient"})
_KERAS_MODULES = ("keras.", "tf_keras.", "tensorflow.")

_lock = threading.Lock()
_done: weakref.WeakKeyDictionary[Any, tf.Variable] = weakref.WeakKeyDictionary()  # writer -> checked


def selected(layer: keras.layers.Layer, scope: str) -> bool:
    """Whether `scope` checks this layer: "all" every layer; "custom" the layers running code of
    the user's own: a class defined outside Keras, or a Keras class calling a user function (a
    `Lambda`, an `Activation` or any layer's `activation` that is not one of Keras')."""
    if scope == "all":
        return True
    if not _from_keras(type(layer)):
        return True
    return any(
        callable(f) and not _from_keras(f)
        for f in (getattr(layer, "function", None), getattr(layer, "activation", None))
    )


def _from_keras(obj: Any) -> bool:
    return (getattr(obj, "__module__", "") or "").startswith(_KERAS_MODULES)


def emit(rec: Recorder, scope: str | None, writer: Any, step: tf.Tensor) -> None:
    """Trace the check of the recorded layers into the step (outside XLA, one replica): it runs
    and writes its record at the first step that reaches it, then never again for this writer."""
    if scope is None or summary.in_xla_context() or tf.distribute.get_strategy().num_replicas_in_sync > 1:
        return
    slots = [s for s in rec.called() if s.call is not None and selected(s.entry.layer, scope)]
    if not slots:
        return
    done = _flag(writer)

    def run() -> tf.Tensor:
        with recording(None):  # the layers' hooks stay out of the check's own calls
            checked = [part for slot in slots for part in _guarded(slot)]
        if checked:
            rows = [row for row, _ in checked]
            values = tf.stack([v for _, v in checked])
            summary.write_record(summary.Record(KIND, rows, values), step)
        done.assign(True)
        return tf.constant(True)

    with summary.default_writer(writer):
        graph.cond(tf.logical_not(done), run, separate=True)


def _flag(writer: Any) -> tf.Variable:
    """The writer's "already checked" flag (a new writer, a new run: checked again)."""
    with _lock:
        if writer not in _done:
            with tf.init_scope():
                _done[writer] = tf.Variable(False, trainable=False, name="gradcause_gradient_checked")
        return _done[writer]


def _guarded(slot: Slot) -> list[tuple[RowInfo, tf.Tensor]]:
    """The slot's rows, or none (logged at debug level) when its layer cannot be checked."""
    try:
        return check_layer(slot)
    except Exception:  # logging must never stop training: this layer goes unchecked
        log.debug("tb_gradcause: gradient check of %s skipped", slot.entry.path, exc_info=True)
        return []


def check_layer(slot: Slot) -> list[tuple[RowInfo, tf.Tensor]]:
    """One row per float input of the slot's layer and one for its trainable weights together, as traced."""
    layer = slot.entry.layer
    assert slot.call is not None
    args, kwargs = slot.call
    if layer._call_has_training_arg:  # pylint: disable=protected-access
        kwargs = {**kwargs, "training": False}
    flat = tf.nest.flatten(args)
    inputs = [i for i, t in enumerate(flat) if isinstance(t, tf.Tensor) and t.dtype.is_floating]
    weights = [v.value for v in layer.trainable_variables]
    fixed = [v.value for v in layer.non_trainable_variables]

    n = len(inputs)

    def forward(points: list) -> tf.Tensor:
        """The layer's first output at `points` (its float inputs, then its trainable weights)."""
        values = list(flat)
        for i, t in zip(inputs, points[:n]):
            values[i] = t
        outputs, _ = layer.stateless_call(points[n:], fixed, *tf.nest.pack_sequence_as(args, values), **kwargs)
        return tf.nest.flatten(outputs)[0]

    points = [flat[i] for i in inputs] + weights
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(points)
        y = forward(points)
    if not y.dtype.is_floating or y.dtype.size < 4 or any(p.dtype.size < 4 for p in points):
        return []
    by_design = "stop_gradient" if _stops_gradient(y, points) else ""
    u = tf.random.stateless_normal(tf.shape(y), seed=[7, 0], dtype=y.dtype)
    grads = tape.gradient(y, points, output_gradients=u)
    grads2 = tape.gradient(y, points, output_gradients=2 * u)
    del tape
    eps = float(np.finfo(y.dtype.as_numpy_dtype).eps)
    h = eps ** (1 / 3)
    identity = _identity(y, [flat[i] for i in inputs])
    u64 = tf.cast(u, tf.float64)
    magnitude = tf.reduce_sum(tf.abs(u64 * tf.cast(y, tf.float64)))

    def change(group: list[int], step: list[tf.Tensor]) -> tf.Tensor:
        """f(a + step) - f(a - step), moving the group's points, per output element in float64."""
        plus = forward(_moved(points, group, step))
        minus = forward(_moved(points, group, [-s for s in step]))
        return tf.cast(plus, tf.float64) - tf.cast(minus, tf.float64)

    def derivative(group: list[int], v: list[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        """The central differences of <u, f> along v at steps h and h / SHRINK, without the output
        elements that jump: a jump (a step function crossing its threshold) does not shrink with
        the step, so at the smaller step such an element changes by as much or not at all, where a
        continuous one changes about SHRINK times less (a ReLU kink crossed too: its change stays
        O(step)). A piecewise-constant function thus reads as flat, as its derivative is wherever
        it is defined. The two steps' disagreement measures the differences' own error."""
        d = change(group, [h * t for t in v])
        small = change(group, [h / SHRINK * t for t in v])
        kept = tf.logical_not((tf.abs(small) > 0.5 * tf.abs(d)) | ((small == 0) & (d != 0)))
        at = lambda change: tf.reduce_sum(tf.where(kept, u64 * change, tf.zeros_like(change)))  # noqa: E731
        return at(d) / (2 * h), at(small) * SHRINK / (2 * h)

    # Each float input alone (a wrong input gradient starves the layers before it), the trainable
    # weights together: 4 * DIRECTIONS forward passes per row, whatever the number of weights.
    groups = [[i] for i in range(n)] + ([list(range(n, len(points)))] if len(points) > n else [])
    names = ["input"] if n == 1 else [f"input_{i}" for i in range(n)]
    names.append("weights")
    rows = []
    for j, group in enumerate(groups):
        ad, ad2, fd, fd_small = [], [], [], []
        for k in range(DIRECTIONS):
            v = [_direction(points[p], k, p) for p in group]
            ad.append(tf.add_n([_dot(grads[p], t) for p, t in zip(group, v)]))
            ad2.append(tf.add_n([_dot(grads2[p], t) for p, t in zip(group, v)]))
            at_h, at_small = derivative(group, v)
            fd.append(at_h)
            fd_small.append(at_small)
        # rounding at the smaller step, and the disagreement of the two steps (truncation, kinks)
        rounding = np.sqrt(DIRECTIONS) * eps * magnitude * SHRINK / h
        noise = rounding + tf.norm(tf.stack(fd) - tf.stack(fd_small))
        values = compare(tf.stack(ad), tf.stack(ad2), tf.stack(fd), noise, identity)
        facts = {"dtype": y.dtype.name, "argument": names[j], "h": f"{h:.3g}", "directions": str(DIRECTIONS)}
        if j >= n:
            facts["weights"] = ", ".join(_weight_names(layer))
        if by_design:
            facts["by_design"] = by_design
        point = points[group[0]]
        shape = point.shape.as_list() if j < n and point.shape.rank is not None else []
        row = RowInfo(
            name=f"{slot.entry.path}/{names[j]}",
            layer=slot.entry.path,
            layer_class=type(layer).__name__,
            activation=slot.entry.activation,
            shape=[d or 0 for d in shape],
            role=names[j],
            depth=slot.order,
            facts=facts,
        )
        rows.append((row, values))
    return rows


def compare(ad: tf.Tensor, ad2: tf.Tensor, fd: tf.Tensor, noise: tf.Tensor, identity: tf.Tensor) -> tf.Tensor:
    """The row's stats (float32, `metadata.KIND_STATS["gradient_check"]`) from the directional
    derivatives along each direction: autodiff for upstream u (`ad`) and 2u (`ad2`), finite
    differences (`fd`), all float64."""
    num, auto = tf.norm(fd), tf.norm(ad)
    largest = tf.maximum(num, auto)
    rel_error = tf.math.divide_no_nan(tf.norm(ad - fd), largest)
    nan = tf.constant(np.nan, tf.float64)
    scale = tf.where(num > 0, tf.math.divide_no_nan(tf.reduce_sum(ad * fd), num**2), nan)
    upstream = tf.where(auto > 0, tf.math.divide_no_nan(tf.reduce_sum(ad2 * ad), auto**2), nan)
    row = [rel_error, num, auto, scale, upstream, tf.cast(noise, tf.float64), tf.cast(identity, tf.float64)]
    return tf.cast(tf.stack(row), tf.float32)


def _moved(points: list, group: list[int], step: list[tf.Tensor]) -> list:
    """`points` with those of `group` moved by `step` (one tensor each)."""
    moves = dict(zip(group, step))
    return [p + moves[i] if i in moves else p for i, p in enumerate(points)]


def _dot(g: Any, v: tf.Tensor) -> tf.Tensor:
    """<g, v> in float64; a missing gradient (None) is zero, as autodiff means it."""
    if g is None:
        return tf.constant(0.0, tf.float64)
    return tf.reduce_sum(tf.cast(tf.convert_to_tensor(g), tf.float64) * tf.cast(v, tf.float64))


def _direction(point: tf.Tensor, k: int, j: int) -> tf.Tensor:
    """Random direction k shaped like point j, of its RMS (1 for an all-zero point, e.g. a bias
    at init), so h is a relative step."""
    rms = tf.sqrt(tf.reduce_mean(tf.square(point)))
    scale = tf.where(rms > 0, rms, tf.ones_like(rms))
    return tf.random.stateless_normal(tf.shape(point), seed=[k + 1, j], dtype=point.dtype) * scale


def _identity(y: tf.Tensor, inputs: Sequence[tf.Tensor]) -> tf.Tensor:
    """1 when the layer's output is its one input, unchanged: a layer that exists for its
    backward pass (gradient reversal, scaling or clipping), whose gradient is its design."""
    if len(inputs) != 1 or inputs[0].dtype != y.dtype or not inputs[0].shape.is_compatible_with(y.shape):
        return tf.constant(0.0)
    x = inputs[0]
    same_shape = tf.reduce_all(tf.equal(tf.shape(x), tf.shape(y)))
    return tf.cast(
        tf.cond(same_shape, lambda: tf.reduce_all(tf.equal(x, tf.reshape(y, tf.shape(x)))), lambda: tf.constant(False)),
        tf.float32,
    )


def _stops_gradient(y: tf.Tensor, points: Sequence[tf.Tensor]) -> bool:
    """Whether the graph from the checked arguments to `y` passes a `StopGradient`."""
    stop = {p.ref() for p in points}
    seen: set[str] = set()
    frontier = [y.op]
    while frontier:
        op = frontier.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        if op.type in _STOP_OPS and not _in_moments(op):
            return True
        frontier.extend(t.op for t in op.inputs if t.ref() not in stop)
    return False


def _in_moments(op: tf.Operation) -> bool:
    """`tf.nn.moments`' stop_gradient of the mean (LayerNormalization, BatchNormalization): the
    variance's derivative through the mean is exactly 0, so autodiff stays exact."""
    scopes = op.name.split("/")
    return len(scopes) > 1 and scopes[-2].startswith("moments")


def _weight_names(layer: keras.layers.Layer) -> list[str]:
    """The layer's trainable weights' paths within it ("kernel", "dense/bias")."""
    prefix = f"{layer.name}/"
    paths = [getattr(v, "path", v.name) for v in layer.trainable_variables]
    return [path.removeprefix(prefix) for path in paths]
