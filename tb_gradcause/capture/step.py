"""What one training step records, built at trace time around the optimizer's `apply`.

In order: the checks (`check`: finite, loss spike), the decision to capture in full (the train
function's `cadence.Mode`, a non-finite step or a loss spike; on one device outside XLA a step that
may not capture decides by its loss, known after the forward pass, and a finite loss with
non-finite gradients gets a smaller capture of its own, `LATE_KINDS`), a copy of the weights before the
update (`snapshot`), on a non-finite loss the batch and those weights for its replay
(`nan_origin`), the update itself, then the records (`records`), written at once or, inside XLA,
handed back as `pending.Pending`. Where the decision is made at run time, the capture is one function call
that is never inlined, so a step that does not capture runs none of its ops. An update that
overflows finite weights is caught by the next step, whose copy shows the weights it started
from were non-finite (`nonfinite_before`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

import keras
import tensorflow as tf

from tb_gradcause import summary
from tb_gradcause.capture import fold, gradient_check, graph, records, snapshot
from tb_gradcause.capture.cadence import Mode
from tb_gradcause.capture.check import Check, SpikeWatch, check_replica
from tb_gradcause.capture.config import CaptureConfig
from tb_gradcause.capture.hooks import Recorder, is_hooked
from tb_gradcause.capture.loss_chunks import LossChunks
from tb_gradcause.capture.model_walk import LayerEntry, walk
from tb_gradcause.capture.nan_origin import NanOrigin
from tb_gradcause.capture.pending import Pending, Plan, write

# What a step whose full capture is decided by its loss records when only its gradients turn out
# non-finite (`Plan.late`): what the step holds until the gradient check, at the end of the
# backward pass, anyway or at little cost (the batch, the labels and the layer outputs are held
# for the backward pass itself). Not the backward signals: held until then, they keep ReluGrad and
# the like from writing over them in place on every step (4-6 % of a CNN's lean step,
# benchmarks/RESULTS.md). Nor the update: its copy of the weights would be held across it. The
# next step, started from the weights the update made non-finite, is captured in full by its loss,
# its `nonfinite_before` naming them.
LATE_KINDS = frozenset({"inputs", "activations", "gradients", "loss_inputs"})


class StepCapture:
    """Builds, at trace time, the capture ops of one training step of one model."""

    def __init__(
        self,
        model: keras.Model,
        config: CaptureConfig,
        step: tf.Variable,
        spikes: SpikeWatch,
        writer: tf.summary.SummaryWriter,
        losses: LossChunks,
        origin: NanOrigin | None = None,
    ):
        """`origin`: keeps the first non-finite step for its replay (None: no replay)."""
        self.model = model
        self.config = config
        self.step = step
        self.spikes = spikes
        self.writer = writer
        # The loss rows of every step, written a chunk of steps at a time (`loss_every_step`).
        self.chunks = losses if config.loss_every_step else None
        self.origin = origin
        self.on_bad = origin.note_bad if origin is not None else None  # in a non-finite step's capture
        self.owner: dict[int, LayerEntry] = {}
        # Set when tracing found layers that were not hooked (built lazily by the first step):
        # the callback then hooks them and rebuilds its train functions once.
        self.stale = False

    def apply(
        self, rec: Recorder, mode: Mode, x: Any, original: Callable, grads: list, variables: Sequence | None
    ) -> Any:
        """Run the optimizer's `apply` (`original`) with this step's check, snapshot and records
        around it. Outside XLA the records are written here; inside XLA (no summary kernels)
        they go to `rec.pending`, which the caller writes after the compiled step."""
        rec.seal()
        self._refresh_layers()
        variables, scale, lr = self._optimizer_state(rec.optimizer, variables)
        loss = None if rec.loss is None else summary.mean_float32(rec.loss)
        mine = check_replica(loss, grads, scaled=scale is not None)
        step = tf.identity(self.step)
        cadence = self.config.cadence.in_graph(mode, step)
        xla = summary.in_xla_context()
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        keep = (
            None
            if self.origin is None
            else functools.partial(self.origin.keep, mine.loss_bad, step, rec.data, own_loss=rec.loss_by_hand)
        )
        copy = self._snapshot(mode, xla, cadence, mine, variables, grads, keep)
        if keep is not None and copy is None:  # no copy to share: the keep reads the weights itself
            keep(variables)
        if mode is not Mode.LEAN:  # read before the update
            gradient_check.emit(rec, self.config.gradient_check, self.writer, step)
        before_update = copy or (lambda check: None)
        if fold.foldable(rec.optimizer, grads, scaled=scale is not None):  # the check rides Keras' all-reduce
            rec.fold = folding = fold.Fold(mine, self.spikes, before_update)
            try:
                result = original(grads, variables)
            finally:
                rec.fold = None
            check, before = folding.finish()
        else:
            check = mine.collected(self.spikes)
            before = before_update(check)
            result = original(grads, variables)
        by_loss = mode is not Mode.FULL and not xla and scale is None and replicas == 1
        plan = self._plan(step, cadence, check, lr, scale, gather=graph.gathers() and not xla, by_loss=by_loss)
        if replicas > 1:  # the global gradients, as applied
            grads = [rec.reduced_grads.get(id(graph.variable_value(v)), g) for g, v in zip(grads, variables)]
        self._emit(plan, records.StepTensors(rec, x, grads, variables, before, scale, self.owner, plan.gathered), xla)
        return result

    def _refresh_layers(self) -> None:
        """Walk the model again: layers may have been built (and not hooked) since it was hooked."""
        entries = walk(self.model)
        self.stale = self.stale or not all(is_hooked(e) for e in entries)
        self.owner = {id(v): e for e in entries for v in e.own_variables}

    def _optimizer_state(self, opt: Any, variables: Sequence | None) -> tuple[list, tf.Tensor | None, tf.Tensor]:
        """The variables `opt` updates, its loss scale (None without a loss scaler) and its
        learning rate, read before the update (a schedule follows `optimizer.iterations`)."""
        variables = list(variables) if variables is not None else list(opt._trainable_variables)  # pylint: disable=protected-access
        scale = None
        if isinstance(opt, keras.optimizers.LossScaleOptimizer):
            if not opt.built:  # built lazily inside the first traced `apply`
                opt.build(variables)
                opt.built = True
            scale = tf.cast(tf.convert_to_tensor(opt.dynamic_scale), tf.float32)
        return variables, scale, tf.cast(tf.convert_to_tensor(opt.learning_rate), tf.float32)

    def _snapshot(
        self,
        mode: Mode,
        xla: bool,
        cadence: tf.Tensor,
        mine: Check,
        variables: list,
        grads: list,
        keep: Callable[..., None] | None,
    ) -> Callable[[Check], snapshot.Snapshot | None] | None:
        """The weights, read now (before the update), and what copies them given the step's
        global check: on the cadence's steps and when the loss is non-finite or spikes; none on
        compiled lean steps (XLA would copy them on every step), nor when no loss can ask for one.
        `keep(variables, copies, gated)` (the replay's) runs where the copies are made."""
        if "weights" not in self.config.kinds or (xla and mode is Mode.LEAN):
            return None
        on_cadence = tf.get_static_value(cadence)
        if mine.loss is None and on_cadence is not None and not on_cadence:
            return None
        values = snapshot.read(variables, grads)
        then = None if keep is None else functools.partial(keep, variables)

        def copy(check: Check) -> snapshot.Snapshot | None:
            taken = graph.logical_or(cadence, graph.logical_or(check.loss_bad, check.spike))
            return snapshot.take(values, variables, taken, always=xla, then=then)

        return copy

    def _plan(
        self,
        step: tf.Tensor,
        cadence: tf.Tensor,
        check: Check,
        lr: tf.Tensor,
        scale: tf.Tensor | None,
        gather: bool = False,
        by_loss: bool = False,
    ) -> Plan:
        """Full on the cadence (unless the loss scaler skips the step), on a non-finite step and on
        a loss spike (its batch is the evidence, skipped or not). The loss pulse is computed on
        every step and kept in `chunks`, or with the pulse off written only when the loss scaler
        skipped the step (its only record). Replica 0 alone captures, but with `gather` every
        replica captures a step that captures unconditionally (`graph.gathers`).

        `by_loss`: the full capture is decided without the gradients (the cadence, a non-finite loss,
        a spike), and a finite loss with non-finite gradients is the `late` plan."""
        on_cadence = graph.logical_and(cadence, graph.logical_not(check.skipped))
        bad = check.loss_bad if by_loss else check.bad
        full = graph.logical_or(on_cadence, graph.logical_or(bad, check.spike))
        late = graph.logical_and(check.bad, graph.logical_not(full)) if by_loss else None
        static = tf.get_static_value(full)
        gather = gather and static is not None and bool(static)
        full = full if gather else graph.on_chief(full)
        pulse = None
        if check.loss is not None and "loss" in self.config.kinds:
            skipped = tf.cast(check.skipped, tf.float32) if scale is not None else None
            pulse = summary.loss_record(check.loss, lr, scale, skipped)
        record_pulse = tf.constant(True) if self.config.loss_every_step else check.skipped
        return Plan(full, check.bad, record_pulse, pulse, step, gathered=gather, late=late)

    def _emit(self, plan: Plan, tensors: records.StepTensors, xla: bool) -> None:
        """Write the plan's records now, or (inside XLA) leave them pending on the recorder."""

        def build() -> list[summary.Record]:
            return ([plan.pulse] if plan.pulse is not None else []) + records.build(self.model, self.config, tensors)

        if xla:
            tensors.rec.pending = Pending.compute(plan, build)
            return
        late_config = dataclasses.replace(self.config, kinds=self.config.kinds & LATE_KINDS)
        with summary.default_writer(self.writer):
            write(plan, build, self.chunks, self.on_bad, lambda: records.build(self.model, late_config, tensors))
