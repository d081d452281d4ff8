"""A full capture's records, built from what the step recorded (traced in the capture branch).

Everything here reads tensors the training step computes anyway (layer outputs, the gradients
its probes took, the gradients, the weights): a step that does not capture computes nothing for
it. It still holds them until the conditional's predicate is known, and an op that would write
over one in place (ReluGrad over a probe's gradient) then writes a new buffer: hence a lean step's
full capture is decided by the loss, after the forward pass, where it can (`step`, `Plan.late`).
Built only inside a capture conditional, possibly traced more than once: pure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import keras
import tensorflow as tf

from tb_gradcause import stats, summary
from tb_gradcause.capture import loss_check
from tb_gradcause.capture.config import CaptureConfig
from tb_gradcause.capture.graph import variable_value
from tb_gradcause.capture.hooks import Recorder, Slot
from tb_gradcause.capture.model_walk import LayerEntry
from tb_gradcause.capture.replicas import Shares
from tb_gradcause.capture.row_info import layer_row, variable_rows
from tb_gradcause.capture.snapshot import Snapshot
from tb_gradcause.rows import RowInfo

# Keras' losses read a softmax's or sigmoid's logits, so training never runs these ops on a
# model's output: captures recompute them (same kernel, same input) rather than make every step
# run them for the capture branch.
_LOGITS_ACTIVATIONS = {"Softmax": tf.nn.softmax, "Sigmoid": tf.math.sigmoid}


@dataclasses.dataclass
class StepTensors:
    """What a full capture reads, gathered by the step (trace time)."""

    rec: Recorder
    x: Any  # the batch's model inputs
    grads: list  # as the optimizer got them (loss-scaled when `scale` is given); global under a strategy
    variables: list
    snapshot: Snapshot | None
    scale: tf.Tensor | None  # the loss scale
    owner: dict[int, LayerEntry]  # id(variable) -> the watched layer owning it
    gather: bool = False  # every replica runs the capture and all-gathers its share (`replicas`)


def build(model: keras.Model, options: CaptureConfig, t: StepTensors) -> list[summary.Record]:
    """Every kind but the loss, in a fixed order: inputs, activations, backward, backward_time,
    gradients, weights, loss_inputs. Under a strategy, inputs, layer outputs, backward signals and
    labels are those of every local replica's share of the batch, joined, or with `t.gather` of
    every replica's (`replicas`)."""
    kinds = options.kinds
    slots = t.rec.called()
    out: list[summary.Record] = []
    unscale = _unscaler(t.scale)
    shares = Shares(t.rec, t.x, t.gather)
    each_input = [model_inputs(model, x) for x in shares.inputs] if "inputs" in kinds else [{}]
    each_signals = [
        backward_signals([shares.slots(s)[i] for s in slots], unscale) for i in range(len(shares.recorders))
    ]
    labels = _label_shares(shares) if "loss_inputs" in kinds else []
    # Joined only when logged (a gather is a collective, which runs even when nothing reads it),
    # all at once (`Shares.join_all`: with `t.gather`, a few collectives for the whole capture).
    named, outputs, signals, input_signals, joined_labels = shares.join_all(
        [
            [[share[k] for share in each_input] for k in each_input[0]],
            [[_recomputed(p) for p in shares.slots(s)] for s in slots] if "activations" in kinds else [],
            [[o[j] for o, _ in each_signals] for j in range(len(slots))] if "backward" in kinds else [],
            [[i[j] for _, i in each_signals] for j in range(len(slots))] if "backward_time" in kinds else [],
            [parts for _, parts in labels],
        ]
    )
    if named:
        inputs = dict(zip(each_input[0], named))
        out.append(shares.mark(summary.inputs_record(inputs, max_features=options.max_input_features)))
    rows = [layer_row(s, s.output, options.max_units) for s in slots]
    if "activations" in kinds and slots:
        values = stats.activation_stats_list(outputs, [s.entry.activation for s in slots], options.max_units)
        out.append(shares.mark(summary.Record("activations", rows, values)))
    if "backward" in kinds and slots:
        grads_out = {s.entry.path: g for s, g in zip(slots, signals)}
        out.append(shares.mark(summary.backward_record(grads_out, rows=rows, max_units=options.max_units)))
    if "backward_time" in kinds:
        timed = [j for j, g in enumerate(input_signals) if g is not None]
        if timed:
            grads_in = {slots[j].entry.path: input_signals[j] for j in timed}
            out.append(shares.mark(summary.backward_time_record(grads_in, rows=[rows[j] for j in timed])))
    variables, grads = t.variables, t.grads
    if variables and {"gradients", "weights"} & kinds:
        depth = {id(s.entry.layer): s.order for s in slots}
        var_rows = variable_rows(variables, t.owner, depth)
        order = sorted(range(len(variables)), key=lambda i: (var_rows[i].depth < 0, var_rows[i].depth))
        pick = lambda seq: [seq[i] for i in order]  # noqa: E731
        if "gradients" in kinds:
            unscaled = [unscale(g) for g in pick(grads)]
            out.append(summary.gradients_record(unscaled, pick(variables), rows=pick(var_rows)))
        if "weights" in kinds:
            after = pick([tf.convert_to_tensor(variable_value(v)) for v in variables])
            out.append(weights_record(after, pick(var_rows), t.snapshot and t.snapshot.picked(order)))
    if labels:
        out.append(shares.mark(loss_check.record([(f, y) for (f, _), y in zip(labels, joined_labels)])))
    return out


def _label_shares(shares: Shares) -> list[tuple[loss_check.Finding, list]]:
    """The first replica's loss findings, each with every share's labels (its own alone when the
    replicas' loss terms differ)."""
    own = shares.recorders[0].loss_inputs
    each = [r.loss_inputs for r in shares.recorders]
    if any(len(e) != len(own) for e in each):
        return [(finding, [y]) for finding, y in own]
    return [(finding, [e[i][1] for e in each]) for i, (finding, _) in enumerate(own)]


def model_inputs(model: keras.Model, x: Any) -> dict[str, tf.Tensor]:
    """Numeric dense model inputs by name ("input" for a single one)."""
    if isinstance(x, dict):
        named = dict(x)
    else:
        flat = tf.nest.flatten(x)
        names = [getattr(t, "name", "") for t in (getattr(model, "inputs", None) or [])]
        if len(flat) == 1:
            named = {"input": flat[0]}
        else:
            names = names if len(names) == len(flat) else [f"input_{i}" for i in range(len(flat))]
            named = dict(zip(names, flat))
    return {
        k: t
        for k, t in named.items()
        if isinstance(t, tf.Tensor)
        and (t.dtype.is_floating or t.dtype.is_integer)
        and t.shape.rank is not None
        and (t.shape.rank < 2 or t.shape[-1] is not None)
    }


def backward_signals(slots: Sequence[Slot], unscale: Callable) -> tuple[list, list]:
    """Per slot: d loss / d output (d loss / d logits when the output gets none) and, for
    recurrent layers, d loss / d input (else None), as the probes took them from the training
    backward pass (unscaled). A recurrent layer fed by the model input has its input's probe on
    that pass only in steps that may capture (`hooks._probe`): in a lean step's capture of a
    non-finite step it has none."""
    outputs = [unscale(s.output_grad if s.output_grad is not None else s.logits_grad) for s in slots]
    return outputs, [unscale(s.input_grad) for s in slots]


def weights_record(after: list[tf.Tensor], rows: list[RowInfo], snapshot: Snapshot | None) -> summary.Record:
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


def _recomputed(slot: Slot) -> tf.Tensor:
    """The slot's output; a softmax or sigmoid of its logits is computed again from them."""
    output, logits = slot.output, slot.logits
    assert output is not None  # a called slot
    if logits is None or isinstance(output, tf.__internal__.EagerTensor):  # eager: the output was computed
        return output
    op = output.op
    activation = _LOGITS_ACTIVATIONS.get(op.type)
    if activation is None or op.inputs[0].name != logits.name:
        return output
    return activation(logits)


def _unscaler(scale: tf.Tensor | None) -> Callable:
    """Divides a gradient (or None) by the loss scale; the identity without a loss scaler."""
    if scale is None:
        return lambda g: g

    def unscale(g):
        if g is None:
            return None
        if isinstance(g, tf.IndexedSlices):
            return tf.IndexedSlices(g.values / tf.cast(scale, g.values.dtype), g.indices, g.dense_shape)
        return g / tf.cast(scale, g.dtype)

    return unscale
