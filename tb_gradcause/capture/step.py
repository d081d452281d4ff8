"""The in-graph part of `GradCauseCallback`: what one training step records and when.

Every step runs a cheap finite check before the optimizer applies: the loss and the sum of every
gradient's sum (one pass that overlaps the backward pass; every Keras optimizer passes a NaN/Inf
gradient on to the weights it updates). A step captures in full when its train function's mode
says so (`MODES`) or when it is non-finite: the weights are copied before the update, then one
summary per kind is written (outside XLA; inside, the records are returned as `Pending` and
written after the compiled step). Where that is decided at run time, the capture is one function
call that is never inlined, so a step that does not capture runs none of its ops. A non-finite
step also flushes the writer, so it is on disk even if training dies next. An update that
overflows finite weights is caught by the next step, whose copy shows the weights it started
from were non-finite (`nonfinite_before`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import keras
import tensorflow as tf

from tb_gradcause import metadata, stats, summary
from tb_gradcause.capture.hooks import Recorder, Slot, is_hooked
from tb_gradcause.capture.model_walk import LayerEntry, walk
from tb_gradcause.rows import RowInfo


# How a train function decides to capture: every kind on every step ("full"), only on a
# non-finite step ("lean"), or on multiples of every_n_steps and non-finite steps ("every_n",
# for several steps per call).
MODES = ("full", "lean", "every_n")


@dataclasses.dataclass
class CaptureConfig:
    kinds: frozenset[str]
    every_n_steps: int
    loss_every_step: bool
    max_input_features: int
    max_units: int | None


def _shape(v) -> list[int]:
    shape = tf.TensorShape(v.shape)
    return [d if d is not None else -1 for d in shape.as_list()] if shape.rank is not None else []


def _dtype(v) -> str:
    return tf.as_dtype(v.dtype).name


class StepCapture:
    """Builds, at trace time, the capture ops of one training step of one model."""

    def __init__(
        self,
        model: keras.Model,
        config: CaptureConfig,
        step: tf.Variable,
        writer: tf.summary.SummaryWriter,
    ):
        self.model = model
        self.config = config
        self.step = step
        self.writer = writer
        self.owner: dict[int, LayerEntry] = {}
        # Set when tracing found layers that were not hooked (built lazily by the first step):
        # the callback then hooks them and rebuilds its train function once.
        self.stale = False

    # ---- rows -------------------------------------------------------------------------------

    def _layer_row(self, slot: Slot, tensor) -> RowInfo:
        e = slot.entry
        return RowInfo(
            name=e.path,
            layer=e.path,
            layer_class=type(e.layer).__name__,
            activation=e.activation,
            shape=_shape(tensor)[1:],
            recurrent=e.recurrent,
            role="output",
            depth=slot.order,
            facts={"dtype": _dtype(tensor), **stats.sample_facts(_shape(tensor), self.config.max_units)},
        )

    def _variable_rows(self, variables: Sequence, depth: dict[int, int]) -> list[RowInfo]:
        rows, used = [], set()
        for v in variables:
            e = self.owner.get(id(v))
            role = getattr(v, "name", "").split("/")[-1].split(":")[0]
            name = f"{e.path}/{role}" if e is not None else summary.variable_name(v)
            if name in used:
                name = summary.variable_name(v)
            used.add(name)
            rows.append(
                RowInfo(
                    name=name,
                    layer=e.path if e is not None else "",
                    layer_class=type(e.layer).__name__ if e is not None else "",
                    activation=e.activation if e is not None else "",
                    shape=_shape(v),
                    recurrent=e.recurrent if e is not None else False,
                    role=role,
                    depth=depth.get(id(e.layer), -1) if e is not None else -1,
                    facts={"dtype": _dtype(v), "path": summary.variable_name(v)},
                )
            )
        return rows

    def _input_tensors(self, x) -> dict[str, tf.Tensor]:
        """Numeric dense model inputs by name ("input" for a single one)."""
        if isinstance(x, dict):
            named = dict(x)
        else:
            flat = tf.nest.flatten(x)
            names = [getattr(t, "name", "") for t in (getattr(self.model, "inputs", None) or [])]
            if len(flat) == 1:
                named = {"input": flat[0]}
            else:
                names = names if len(names) == len(flat) else [f"input_{i}" for i in range(len(flat))]
                named = dict(zip(names, flat))
        return {
            k: t
            for k, t in named.items()
            if isinstance(t, tf.Tensor) and (t.dtype.is_floating or t.dtype.is_integer) and t.shape.rank is not None
            and (t.shape.rank < 2 or t.shape[-1] is not None)
        }

    # ---- the step ---------------------------------------------------------------------------

    def apply(self, rec: Recorder, mode: str, x, original: Callable, grads: list, variables) -> Any:
        """Run the optimizer's `apply` with this step's checks, snapshot and records around it.

        Outside XLA the records are written here; inside XLA (no summary kernels) they go to
        `rec.pending` and the caller writes them after the compiled step.
        """
        rec.seal()
        entries = walk(self.model)
        self.stale = self.stale or not all(is_hooked(e) for e in entries)
        self.owner = {id(v): e for e in entries for v in e.own_variables}
        opt = self.model.optimizer
        variables = list(variables) if variables is not None else list(opt._trainable_variables)  # pylint: disable=protected-access
        scaled = isinstance(opt, keras.optimizers.LossScaleOptimizer)
        if scaled and not opt.built:
            opt.build(variables)
            opt.built = True
        scale = tf.cast(tf.convert_to_tensor(opt.dynamic_scale), tf.float32) if scaled else None
        loss = self._loss_value(rec.loss)
        lr = tf.cast(tf.convert_to_tensor(opt.learning_rate), tf.float32)
        loss_bad = tf.logical_not(tf.math.is_finite(loss)) if loss is not None else tf.constant(False)
        if scaled:  # non-finite scaled gradients are the scaler's business: the step is skipped
            skipped = tf.logical_not(_all_finite(grads))
            bad = loss_bad
        else:  # one sum: the loss's and every gradient's
            skipped = tf.constant(False)
            bad = tf.logical_not(_all_finite(grads + ([loss] if loss is not None else [])))
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:  # one collective: any replica non-finite, and the global mean loss
            summed = tf.distribute.get_replica_context().all_reduce(
                tf.distribute.ReduceOp.SUM, tf.stack([tf.cast(bad, tf.float32), loss if loss is not None else 0.0])
            )
            bad = summed[0] > 0
            loss = summed[1] if loss is not None else None
        step = tf.identity(self.step)
        if mode == "lean":
            cadence = tf.constant(False)
        elif mode == "full":
            cadence = tf.constant(True)
        else:
            cadence = tf.math.floormod(step, self.config.every_n_steps) == 0
        full = _on_chief(_or(_and(cadence, _not(skipped)), bad))
        xla = summary.in_xla_context()
        snapshot = None
        # Copies of the weights before the update, on the cadence's steps and when the loss is
        # non-finite (a step that starts from overflowed weights). Not on a step found bad by its
        # gradients alone: waiting for their check would hold every update back until the whole
        # backward pass is done. Compiled lean steps copy nothing (XLA would copy every step).
        if "weights" in self.config.kinds and not (xla and mode == "lean"):
            taken = _or(cadence, loss_bad)
            snapshot = _snapshot(variables, grads, taken, always=xla)
        pulse = None
        if loss is not None and "loss" in self.config.kinds:
            pulse = summary.loss_record(loss, lr, scale, tf.cast(skipped, tf.float32) if scaled else None)
        record_pulse = tf.constant(True) if self.config.loss_every_step else skipped

        result = original(grads, variables)
        if replicas > 1:
            grads = [rec.reduced_grads.get(id(_value(v)), g) for g, v in zip(grads, variables)]

        def records() -> list[summary.Record]:
            return ([pulse] if pulse is not None else []) + self._records(rec, x, grads, variables, snapshot, scale)

        if xla:
            rec.pending = pending_records(records, full, bad, record_pulse, pulse, step)
        else:
            with summary.default_writer(self.writer):
                write_pending(records, full, bad, record_pulse, pulse, step, bare_pulse=mode == "lean")
        return result

    @staticmethod
    def _loss_value(loss):
        """This replica's loss, a float32 scalar (Keras divides it by the replica count: replicas
        sum to the mean)."""
        return None if loss is None else summary.mean_float32(loss)

    @staticmethod
    def _backward_signals(rec: Recorder, slots: Sequence[Slot], unscale: Callable) -> tuple[dict, dict]:
        """Per slot order: d loss / d output (d loss / d logits when the output gets none) and,
        for recurrent layers, d loss / d input, as the probes took them from the training
        backward pass (unscaled). A recurrent layer fed by the model input, which no probe sees,
        gets one gradient of the unscaled loss on `rec.tape` when there is one. Pure: a capture
        function may be traced more than once."""
        outputs = {s.order: unscale(s.output_grad if s.output_grad is not None else s.logits_grad) for s in slots}
        inputs = {s.order: unscale(s.input_grad) for s in slots if s.input_grad is not None}
        missing = [s for s in slots if s.input is not None and s.order not in inputs]
        if missing and rec.tape is not None and rec.loss is not None:
            grads = rec.tape.gradient(rec.loss, [s.input for s in missing])
            inputs.update({s.order: g for s, g in zip(missing, grads)})
        return outputs, inputs

    def _records(self, rec: Recorder, x, grads, variables, snapshot: "Snapshot | None", scale) -> list[summary.Record]:
        """Every kind but the loss, from what the step recorded (trace time, in the capture branch).
        `grads` are loss-scaled when `scale` is given."""
        kinds = self.config.kinds
        slots = rec.called()
        out: list[summary.Record] = []
        unscale = (lambda g: g) if scale is None else (lambda g: None if g is None else _divide(g, scale))  # noqa: E731
        if "inputs" in kinds:
            named = self._input_tensors(x)
            if named:
                out.append(summary.inputs_record(named, max_features=self.config.max_input_features))
        if "activations" in kinds and slots:
            rows = [self._layer_row(s, s.output) for s in slots]
            values = stats.activation_stats_list(
                [_recomputed(s) for s in slots], [s.entry.activation for s in slots], self.config.max_units
            )
            out.append(summary.Record("activations", rows, values))
        signals, input_signals = self._backward_signals(rec, slots, unscale)
        if "backward" in kinds and slots:
            grads_out = {s.entry.path: signals.get(s.order) for s in slots}
            rows = [self._layer_row(s, s.output) for s in slots]
            out.append(summary.backward_record(grads_out, rows=rows, max_units=self.config.max_units))
        if "backward_time" in kinds:
            timed = [s for s in slots if input_signals.get(s.order) is not None]
            if timed:
                rows = [self._layer_row(s, s.output) for s in timed]
                out.append(summary.backward_time_record({s.entry.path: input_signals[s.order] for s in timed}, rows=rows))
        if variables and {"gradients", "weights"} & kinds:
            depth = {id(s.entry.layer): s.order for s in slots}
            var_rows = self._variable_rows(variables, depth)
            order = sorted(range(len(variables)), key=lambda i: (var_rows[i].depth < 0, var_rows[i].depth))
            pick = lambda seq: [seq[i] for i in order]  # noqa: E731
            if "gradients" in kinds:
                out.append(summary.gradients_record([unscale(g) for g in pick(grads)], pick(variables), rows=pick(var_rows)))
            if "weights" in kinds:
                after = pick([tf.convert_to_tensor(_value(v)) for v in variables])
                out.append(_weights_record(after, pick(var_rows), snapshot and snapshot.picked(order)))
        return out


# Keras' losses read a softmax's or sigmoid's logits, so training never runs these ops on a
# model's output: captures recompute them (same kernel, same input) rather than make every step
# run them for the capture branch.
_LOGITS_ACTIVATIONS = {"Softmax": tf.nn.softmax, "Sigmoid": tf.math.sigmoid}


def _recomputed(slot: Slot) -> tf.Tensor:
    """The slot's output; a softmax or sigmoid of its logits is computed again from them."""
    op, logits = slot.output.op, slot.logits
    activation = _LOGITS_ACTIVATIONS.get(op.type)
    if activation is None or logits is None or op.inputs[0].name != logits.name:
        return slot.output
    return activation(logits)


@dataclasses.dataclass
class Snapshot:
    """Copies of the variables' values before the update, taken when `taken` (None: always)."""

    before: list[tf.Tensor]
    taken: tf.Tensor | None

    def picked(self, order: Sequence[int]) -> "Snapshot":
        return Snapshot([self.before[i] for i in order], self.taken)


def _snapshot(variables: Sequence, grads: Sequence, taken: tf.Tensor, always: bool) -> Snapshot | None:
    """Copy the variables' values now (before the update) when `taken` or `always` (otherwise
    empty tensors, which only a branch under `taken` reads); None when `taken` is known to be False.

    The conditional takes values, not variables: one that takes a variable is ordered after every
    op using it, e.g. a recurrent layer's whole backward loop, and holds its update back until
    then (9 % of an LSTM step). A value read here shares the variable's memory until the update,
    which copies it if the snapshot still holds it. Sparsely updated variables (IndexedSlices
    gradients, e.g. embeddings) are read in the branch: once updated so, every read copies them.
    """
    static = tf.get_static_value(taken)
    if static is not None and not bool(static):
        return None
    values = [
        _value(v) if isinstance(g, tf.IndexedSlices) else tf.convert_to_tensor(_value(v)) for v, g in zip(variables, grads)
    ]
    copy = lambda: [tf.identity(x) for x in values]  # noqa: E731
    if always or static is not None:
        return Snapshot(copy(), None)
    return Snapshot(tf.cond(taken, copy, lambda: [_empty_like(v) for v in variables]), taken)


def _weights_record(after: list[tf.Tensor], rows: list[RowInfo], snapshot: Snapshot | None) -> summary.Record:
    """The weights record, with updates and `nonfinite_before` when the snapshot was taken."""
    if snapshot is None:
        return summary.weights_record(after, rows=rows)
    if snapshot.taken is None:
        return summary.weights_record(after, rows=rows, before=snapshot.before)
    values = tf.cond(
        snapshot.taken,
        lambda: summary.weights_record(after, rows=rows, before=snapshot.before).values,
        lambda: summary.weights_record(after, rows=rows).values,
    )
    return summary.Record("weights", rows, values)


@dataclasses.dataclass
class Pending:
    """Records computed inside an XLA step, to be written after it (`write_pending`)."""

    records: list[summary.Record]
    full: tf.Tensor
    bad: tf.Tensor
    record_pulse: tf.Tensor
    pulse: summary.Record | None
    step: tf.Tensor

    def tensors(self) -> list[tf.Tensor]:
        return [r.values for r in self.records] + [self.full, self.bad, self.record_pulse, self.step]

    def with_tensors(self, tensors: Sequence[tf.Tensor]) -> "Pending":
        """The same records carried by `tensors` (e.g. a compiled function's outputs)."""
        n = len(self.records)
        records = [summary.Record(r.kind, r.rows, t) for r, t in zip(self.records, tensors[:n])]
        pulse = next((r for r in records if r.kind == "loss"), None)
        return Pending(records, *tensors[n : n + 3], pulse, tensors[n + 3])


def pending_records(records_fn: Callable, full, bad, record_pulse, pulse, step) -> Pending:
    """Compute the records under `full` (zeros otherwise; fixed shapes for XLA)."""
    built: list[summary.Record] = []

    def compute():
        built[:] = records_fn()
        return [r.values for r in built]

    def skip():
        values = [tf.zeros([len(r.rows), len(metadata.KIND_STATS[r.kind])]) for r in built]
        if pulse is not None:
            values[0] = pulse.values  # the loss pulse is always computed
        return values

    values = tf.cond(full, compute, skip)
    return Pending([summary.Record(r.kind, r.rows, v) for r, v in zip(built, values)], full, bad, record_pulse, pulse, step)


def write_pending(records_fn: Callable, full, bad, record_pulse, pulse, step, bare_pulse: bool = False) -> None:
    """Write all records when `full` (and flush when `bad`), else only the loss pulse if asked.

    A pulse known at trace time to go out every step is written outside the capture conditional,
    which then runs nothing when it does not capture. `bare_pulse`: that pulse goes without
    metadata (`summary.write_record_bare`): for lean steps, which the writer's first step, a
    full one, precedes.
    """
    pulse_pred = _on_chief(record_pulse) if pulse is not None else tf.constant(False)
    known = tf.get_static_value(pulse_pred)
    every_step = known is not None and bool(known)
    if every_step:
        (summary.write_record_bare if bare_pulse else summary.write_record)(pulse, step)

    def write_full():
        for record in records_fn():
            if not (every_step and record is pulse):
                summary.write_record(record, step)
        tf.cond(bad, lambda: tf.summary.flush(), tf.no_op)
        return tf.constant(True)

    def write_pulse():
        if known is None:
            _when(pulse_pred, lambda: summary.write_record(pulse, step))
        return tf.constant(False)

    _when(full, write_full, write_pulse, separate=True)


def _or(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """`a | b`, folded when either is known at trace time (an op less on every step)."""
    static_a, static_b = tf.get_static_value(a), tf.get_static_value(b)
    if static_a is not None:
        return tf.constant(True) if static_a else b
    if static_b is not None:
        return tf.constant(True) if static_b else a
    return tf.logical_or(a, b)


def _not(a: tf.Tensor) -> tf.Tensor:
    """`~a`, folded when known at trace time."""
    known = tf.get_static_value(a)
    return tf.logical_not(a) if known is None else tf.constant(not known)


def _and(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """`a & b`, folded when either is known at trace time."""
    static_a, static_b = tf.get_static_value(a), tf.get_static_value(b)
    if static_a is not None:
        return b if static_a else tf.constant(False)
    if static_b is not None:
        return a if static_b else tf.constant(False)
    return tf.logical_and(a, b)


def _when(pred, true_fn, false_fn=None, separate: bool = False):
    """`tf.cond` that builds no conditional op when `pred` is known at trace time (each costs
    tens of microseconds per step on a CPU).

    `separate`: build `true_fn` as one function call that is never inlined. TensorFlow lowers a
    conditional into the step's graph, and its executor then visits every op of the branch not
    taken, each step: thousands of ops for a full capture (about 0.25 ms a step on a CPU), one
    call instead.
    """
    false_fn = false_fn or (lambda: tf.constant(False))
    static = tf.get_static_value(pred)
    if static is not None:
        return true_fn() if static else false_fn()
    if separate:
        true_fn = tf.function(true_fn, autograph=False, experimental_attributes={"_noinline": True})
    return tf.cond(pred, lambda: tf.identity(true_fn()), lambda: tf.identity(false_fn()))


def _value(v):
    return v.value if isinstance(v, keras.Variable) else v


def _empty_like(v) -> tf.Tensor:
    return tf.zeros([0] * len(v.shape), dtype=v.dtype)


def _divide(g, scale):
    if isinstance(g, tf.IndexedSlices):
        return tf.IndexedSlices(g.values / tf.cast(scale, g.values.dtype), g.indices, g.dense_shape)
    return g / tf.cast(scale, g.dtype)


def _all_finite(grads: Sequence) -> tf.Tensor:
    """Cheap: the sum of each tensor's sum is finite iff no element is NaN/Inf (barring overflow)."""
    sums = [
        tf.reduce_sum(tf.cast(g.values if isinstance(g, tf.IndexedSlices) else g, tf.float32))
        for g in grads
        if g is not None and tf.as_dtype(g.dtype).is_floating
    ]
    if not sums:
        return tf.constant(True)
    return tf.math.is_finite(tf.add_n(sums))


def _on_chief(pred: tf.Tensor) -> tf.Tensor:
    """`pred` on replica 0, False on the others. Not folded at trace time: a worker's replica id
    is a constant of its graph, and every worker must trace the same conditionals (collectives)."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return pred
    return tf.logical_and(pred, tf.equal(ctx.replica_id_in_sync_group, 0))
