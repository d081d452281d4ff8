"""The train functions the callback gives `model.fit`, traced once per model (not per `fit`).

One step per call: a "full" function for the steps on the cadence and a "lean" one for the
others (the finite check and the loss pulse only; a capture runs only on a non-finite step), so
the steps that do not log run at nearly the cost of plain training; the callback swaps them
before each batch. Several steps per call: one function that decides in the graph
(`cadence.Mode.IN_GRAPH`).

Each replica step runs the model's own `train_step` under a `hooks.Recorder`, whose optimizer
hook hands `apply` to `step.StepCapture`. With `jit_compile`, training and stats compile with
XLA, which has no summary kernels: the records come out of the compiled step as tensors and
are written by a small non-XLA function after it (the XLA split).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from tb_gradcause import summary
from tb_gradcause.capture import graph
from tb_gradcause.capture.cadence import Mode
from tb_gradcause.capture.hooks import Recorder, recording
from tb_gradcause.capture.model_walk import walk
from tb_gradcause.capture.pending import Pending
from tb_gradcause.capture.step import StepCapture

NO_APPLY = (
    "tb_gradcause: the model's train_step applied no gradients through an optimizer the model holds "
    "(model.optimizer or another attribute of the model), and the capture runs around that update: nothing is "
    "logged for this model"
)

SECOND_OPTIMIZER = (
    "tb_gradcause: the model's train_step also applies gradients with {optimizers} after {first}; the capture "
    "runs around the first update of each step only, so the gradients and weight updates of {layers} are not "
    "logged and no cause can be found in them (their layers' activations still are)"
)

# (recorder, mode, model inputs, the optimizer's own apply, grads, variables) -> apply's result
ApplyHook = Callable[[Recorder, Mode, Any, Callable, list, Any], Any]


def step_counter(model: keras.Model) -> tf.Variable:
    """The int64 step of the coming batch, starting at `optimizer.iterations`: unlike it, it
    also counts a batch whose update a loss scaler skipped."""
    with tf.init_scope():
        start = int(model.optimizer.iterations.numpy())
        return tf.Variable(start, dtype=tf.int64, trainable=False, name="gradcause_step")


class TrainFunctions:
    """The train functions of one model, by mode."""

    def __init__(
        self,
        model: keras.Model,
        capture: StepCapture,
        on_apply: ApplyHook,
        failed: Callable[[], bool],
    ):
        """`on_apply` runs the capture around the optimizer's apply (the callback's guard around
        `capture.apply`); `failed()` tells, at trace time, whether logging is off."""
        self._model = model
        self._train_step = model.train_step
        self._step = capture.step
        self._writer = capture.writer
        self._chunks = capture.chunks
        self._on_bad = capture.on_bad
        self._kinds = capture.config.kinds
        self._on_apply = on_apply
        self._failed = failed
        self._warned_no_apply = False
        self._warned_unmonitored = False
        modes = (Mode.FULL, Mode.LEAN) if model.steps_per_execution == 1 else (Mode.IN_GRAPH,)
        self.by_mode: dict[Mode, Callable] = {mode: self._make(mode) for mode in modes}

    @property
    def swapped_per_batch(self) -> bool:
        """One step per call: the host picks the function of each batch (`for_batch`)."""
        return Mode.IN_GRAPH not in self.by_mode

    def initial(self) -> Callable:
        return self.by_mode[Mode.LEAN if self.swapped_per_batch else Mode.IN_GRAPH]

    def for_batch(self, full: bool) -> Callable:
        return self.by_mode[Mode.FULL if full else Mode.LEAN]

    def owns(self, function: Any) -> bool:
        return any(function is f for f in self.by_mode.values())

    def next_step(self) -> int:
        """The step of the coming batch, as the step counter holds it."""
        return int(self._step.numpy())

    def _make(self, mode: Mode) -> Callable:
        model = self._model
        if model.jit_compile:
            xla_step_fn = self._xla_step(mode)
            model.jit_compile = False  # the step compiles its own XLA part; writing runs outside
            try:
                return model._make_function(xla_step_fn)  # pylint: disable=protected-access
            finally:
                model.jit_compile = True

        def step_fn(data):
            outputs, _ = self._replica_step(data, mode)
            self._advance_step()
            return outputs

        return model._make_function(step_fn)  # pylint: disable=protected-access

    def _replica_step(self, data: Any, mode: Mode) -> tuple[Any, Recorder]:
        """The model's `train_step` on one replica's batch, recorded."""
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        rec = Recorder(
            on_apply=lambda original, grads, variables: self._on_apply(rec, mode, x, original, grads, variables),
            backward_time="backward_time" in self._kinds,
            inputs=x,
            data=data,
            # A step that may capture has its recurrent inputs' probes on the training backward
            # pass even when the model input feeds them (`hooks._probe`): it computes their
            # d loss / d input, which lean steps, capturing only a non-finite step, never do.
            anchors=(lambda: self._model.trainable_weights) if mode is not Mode.LEAN else None,
        )
        with recording(rec):
            outputs = self._train_step(data)
        if not rec.applied and not self._warned_no_apply:
            self._warned_no_apply = True
            warnings.warn(NO_APPLY, RuntimeWarning, stacklevel=2)
        unmonitored = self._unmonitored(rec) if len(rec.applies) > 1 and not self._warned_unmonitored else None
        if unmonitored is not None:
            self._warned_unmonitored = True
            warnings.warn(unmonitored, RuntimeWarning, stacklevel=2)
        return outputs, rec

    def _unmonitored(self, rec: Recorder) -> str | None:
        """`SECOND_OPTIMIZER` for the layers whose variables only a later `apply` of `rec`'s step
        updates (a GAN's generator), else None."""

        def variables(optimizer: Any, given: Any) -> list:
            return list(given) if given is not None else list(optimizer._trainable_variables)  # pylint: disable=protected-access

        (first, given), *later = rec.applies
        captured = {id(v) for v in variables(first, given)}
        owners = {id(v): e.path for e in walk(self._model) for v in e.own_variables}
        layers: dict[str, None] = {}
        optimizers: dict[str, None] = {}
        for optimizer, given in later:
            for v in variables(optimizer, given):
                if id(v) not in captured:
                    layers[owners.get(id(v), getattr(v, "path", v.name))] = None
                    optimizers[_name(optimizer, self._model)] = None
        if not layers:
            return None
        return SECOND_OPTIMIZER.format(
            optimizers=", ".join(optimizers), first=_name(first, self._model), layers=", ".join(layers)
        )

    def _xla_step(self, mode: Mode) -> Callable:
        """A step whose training (and stats) compile with XLA; the summaries are written after it."""
        template: dict[str, Pending] = {}  # the pending records as traced, to rebuild from outputs

        @tf.function(jit_compile=True)
        def compiled(data):
            outputs, rec = self._replica_step(data, mode)
            if rec.pending is None:
                template.pop("pending", None)
                return outputs, []
            template["pending"] = rec.pending
            return outputs, rec.pending.tensors()

        def step_fn(data):
            outputs, tensors = compiled(data)
            if "pending" in template and not self._failed():
                pending = template["pending"].with_tensors(tensors)
                with summary.default_writer(self._writer):
                    pending.write(self._chunks, self._on_bad)
            self._advance_step()
            return outputs

        return step_fn

    def _advance_step(self) -> None:
        """Count the step on replica 0; when captures gather (`graph.gathers`), on every replica,
        each in its own copy of the counter (made in the strategy's scope): every worker then
        holds the same step and picks the same train function, with the same collectives."""
        ctx = tf.distribute.get_replica_context()
        if ctx is None or ctx.num_replicas_in_sync == 1 or graph.gathers():
            self._step.assign_add(1)
        else:
            tf.cond(tf.equal(ctx.replica_id_in_sync_group, 0), lambda: tf.group(self._step.assign_add(1)), tf.no_op)


def _name(optimizer: Any, model: keras.Model) -> str:
    """How the user's code names `optimizer`: the model attribute holding it (`self.g_optimizer`)."""
    attribute = next((k for k, v in vars(model).items() if v is optimizer), None)
    return f"`{attribute}`" if attribute else f"optimizer {optimizer.name!r}"
