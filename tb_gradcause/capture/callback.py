"""`GradCauseCallback`: one line in `model.fit` logs tb_gradcause statistics.

The callback hooks the model's layers, loss and optimizer once (see `capture_hooks`) and builds
two train functions whose steps record through `capture_step`: a "full" one for the steps the
cadence logs (`capture_cadence`) and a "lean" one (finite check and loss only) for the others,
swapped before each batch; both are traced once per model, not per `fit`. Logs go to
`<log_dir>/train`, where `keras.callbacks.TensorBoard(log_dir)` writes, so both can share a run.
Only the chief (replica 0 of the first worker) writes.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
import warnings
import weakref
from typing import Any, Iterable

import keras
import tensorflow as tf

from tb_gradcause import metadata, stats, summary
from tb_gradcause.capture import cadence as capture_cadence
from tb_gradcause.capture.hooks import Recorder, hook_layer, hook_model, hook_optimizer, recording
from tb_gradcause.capture.model_walk import walk
from tb_gradcause.capture.step import CaptureConfig, Pending, StepCapture, write_pending

log = logging.getLogger("tb_gradcause")


class _OptimizerError(Exception):
    """An exception raised by the optimizer itself (not by logging): re-raised as is."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


class GradCauseCallback(keras.callbacks.Callback):
    """Log per-layer gradient, activation, backward-signal, weight, input and loss statistics.

    Args:
        log_dir: the run directory; events go to `<log_dir>/train`.
        every_n_steps: log every kind in full on steps that are multiples of this. None (the
            default): every 10 steps until step 100, every 25 until 1000, then every 100
            (`capture_cadence`). A step with a non-finite loss or gradient is always logged in
            full and flushed to disk at once.
        kinds: which kinds to log (default: all of `metadata.KINDS`).
        loss_every_step: also log the loss row on every step (a cheap pulse).
        max_input_features: features per input logged (first ones of the last axis).
        max_units: layer outputs (and their backward signals) with more units per sample get
            their stats from every channel at evenly spaced positions, about this many units
            (their L2 norm and NaN/Inf counts stay exact); None: from every unit, at several
            times the cost on large conv outputs.
    """

    def __init__(
        self,
        log_dir: str = "logs",
        every_n_steps: int | None = None,
        kinds: Iterable[str] | None = None,
        loss_every_step: bool = True,
        max_input_features: int = metadata.MAX_INPUT_FEATURES,
        max_units: int | None = metadata.SAMPLE_UNITS,
    ):
        super().__init__()
        kinds = frozenset(metadata.KINDS if kinds is None else kinds)
        unknown = kinds - set(metadata.KINDS)
        if unknown:
            raise ValueError(f"unknown kinds {sorted(unknown)}; expected some of {metadata.KINDS}")
        if every_n_steps is not None and int(every_n_steps) < 1:
            raise ValueError(f"every_n_steps must be >= 1 or None, got {every_n_steps}")
        if int(max_input_features) < 1:
            raise ValueError(f"max_input_features must be >= 1, got {max_input_features}")
        if max_units is not None and int(max_units) < 1:
            raise ValueError(f"max_units must be >= 1 or None, got {max_units}")
        self.log_dir = os.fspath(log_dir)
        self.every_n_steps = int(every_n_steps) if every_n_steps is not None else None
        # Several steps per call decide in the graph, at a fixed cadence.
        in_graph_every = self.every_n_steps or capture_cadence.EARLY_EVERY
        self.config = CaptureConfig(
            kinds,
            in_graph_every,
            bool(loss_every_step),
            int(max_input_features),
            int(max_units) if max_units is not None else None,
        )
        self._writer: Any = None
        self._step: tf.Variable | None = None
        self._functions: dict[str, Any] = {}  # capture mode -> train function
        self._host_step = 0  # the next batch's step (one step per call)
        # The writer's first step is a full one: it writes every tag's metadata, which lean
        # steps' loss pulse then leaves out.
        self._first_step_done = False
        self._capture: StepCapture | None = None
        self._scratch_dir: str | None = None
        self._failed = False

    @property
    def train_dir(self) -> str:
        return os.path.join(self.log_dir, "train")

    # ---- Keras callback API -----------------------------------------------------------------

    def on_train_begin(self, logs=None) -> None:
        if self._failed:
            return
        if any(self.model.train_function is f for f in self._functions.values()):
            self._host_step = int(self._step.numpy())  # once per fit
            return
        try:
            self._install()
        except Exception as error:  # logging must never stop training
            self._fail(error)

    def on_train_batch_begin(self, batch, logs=None) -> None:
        # (No on_train_batch_end: overriding it makes Keras sync the logs to the host every batch.)
        if self._failed or self._capture is None:
            return
        if self._capture.stale:
            # The first step built layers lazily: hook them too (one retrace, once).
            try:
                self._install()
            except Exception as error:
                self._fail(error)
                return
        if len(self._functions) == 2:
            full = not self._first_step_done or capture_cadence.is_full(self._host_step, self.every_n_steps)
            self._first_step_done = True
            self.model.train_function = self._functions["full" if full else "lean"]
            self._host_step += 1

    def on_epoch_end(self, epoch, logs=None) -> None:
        self._flush()

    def on_train_end(self, logs=None) -> None:
        self._flush()
        if self._scratch_dir is not None:
            shutil.rmtree(self._scratch_dir, ignore_errors=True)

    # ---- internals --------------------------------------------------------------------------

    def _install(self) -> None:
        model = self.model
        if model.optimizer is None:
            raise ValueError("the model has no optimizer: compile it before fit")
        if self._writer is None:
            # Non-chief workers trace the same graph (collectives must match) into a writer
            # nothing reaches: only replica 0 of the chief writes.
            if not _is_chief(model):
                self._scratch_dir = tempfile.mkdtemp(prefix="gradcause_worker_")
            # Steps write without flushing (a flush syncs the file): the queue goes to disk every
            # few seconds, at once on a non-finite step, and at the end of each epoch, of
            # training and of the process (Ctrl-C, an uncaught exception).
            self._writer = tf.summary.create_file_writer(
                self._scratch_dir or self.train_dir, max_queue=_MAX_QUEUE, flush_millis=_FLUSH_MILLIS
            )
            atexit.register(_flush_at_exit, weakref.ref(self._writer))
        if self._step is None:
            with tf.init_scope():
                start = int(model.optimizer.iterations.numpy())
                self._step = tf.Variable(start, dtype=tf.int64, trainable=False, name="gradcause_step")
        entries = walk(model)
        for entry in entries:
            hook_layer(entry)
        hook_model(model)
        hook_optimizer(model.optimizer)
        capture = StepCapture(model, self.config, self._step, self._writer)
        self._capture = capture
        train_step = model.train_step
        kinds = self.config.kinds
        recurrent = any(e.recurrent for e in entries)

        def recorded_step(data, mode: str) -> tuple[Any, Recorder]:
            x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
            rec = Recorder(
                on_apply=lambda original, grads, variables: self._safe_apply(capture, rec, mode, x, original, grads, variables),
                backward_time="backward_time" in kinds,
            )
            # The gradient into a recurrent layer fed by the model input reaches no probe: a tape
            # gives it. A tape around a recurrent layer's gradient makes TensorFlow keep what a
            # second-order gradient of its loop would need, every step: lean steps take none.
            if rec.backward_time and recurrent and mode != "lean":
                rec.start_tape(x)
            try:
                with recording(rec):
                    outputs = train_step(data)
            finally:
                rec.stop_tape()
            return outputs, rec

        # One step per call: an uninstrumented-cost ("lean") function on the steps that do not
        # log and a "full" one on those that do, swapped before each batch. Several steps per
        # call: one function deciding in the graph.
        modes = ("full", "lean") if model.steps_per_execution == 1 else ("every_n",)
        self._functions = {mode: self._make_function(recorded_step, mode) for mode in modes}
        self._host_step = int(self._step.numpy())
        model.train_function = self._functions[modes[-1]]

    def _make_function(self, recorded_step, mode: str):
        model = self.model
        if model.jit_compile:
            step_fn = self._xla_step(lambda data: recorded_step(data, mode), bare_pulse=mode == "lean")
            model.jit_compile = False  # the step compiles its own XLA part; writing runs outside
            try:
                return model._make_function(step_fn)  # pylint: disable=protected-access
            finally:
                model.jit_compile = True

        def step_fn(data):
            outputs, _ = recorded_step(data, mode)
            self._advance_step()
            return outputs

        return model._make_function(step_fn)  # pylint: disable=protected-access

    def _xla_step(self, recorded_step, bare_pulse: bool):
        """A step whose training (and stats) compile with XLA; the summaries are written after it."""
        template: dict[str, Pending] = {}

        @tf.function(jit_compile=True)
        def compiled(data):
            outputs, rec = recorded_step(data)
            if rec.pending is None:
                template.pop("pending", None)
                return outputs, []
            template["pending"] = rec.pending
            return outputs, rec.pending.tensors()

        def step_fn(data):
            outputs, tensors = compiled(data)
            if "pending" in template and not self._failed:
                p = template["pending"].with_tensors(tensors)
                with summary.default_writer(self._writer):
                    write_pending(lambda: p.records, p.full, p.bad, p.record_pulse, p.pulse, p.step, bare_pulse)
            self._advance_step()
            return outputs

        return step_fn

    def _advance_step(self) -> None:
        ctx = tf.distribute.get_replica_context()
        if ctx is None or ctx.num_replicas_in_sync == 1:
            self._step.assign_add(1)
        else:
            tf.cond(tf.equal(ctx.replica_id_in_sync_group, 0), lambda: tf.group(self._step.assign_add(1)), tf.no_op)

    def _safe_apply(self, capture: StepCapture, rec: Recorder, mode: str, x, original, grads, variables):
        """`capture.apply`, falling back to the bare optimizer (with one warning) if logging fails."""
        state: dict[str, Any] = {"called": False}

        def run_original(g, v):
            state["called"] = True
            try:
                state["result"] = original(g, v)
            except Exception as error:
                raise _OptimizerError(error) from error
            return state["result"]

        if self._failed:
            return original(grads, variables)
        try:
            return capture.apply(rec, mode, x, run_original, grads, variables)
        except _OptimizerError as wrapped:
            raise wrapped.error
        except Exception as error:  # logging must never stop training
            self._fail(error)
            return state["result"] if state["called"] else original(grads, variables)

    def _fail(self, error: BaseException) -> None:
        if self._failed:
            return
        self._failed = True
        reason = (str(error).strip().splitlines() or [""])[0][:300]
        message = f"tb_gradcause: logging disabled after an internal error, training continues: {type(error).__name__}: {reason}"
        log.debug("tb_gradcause internal error", exc_info=error)
        warnings.warn(message, RuntimeWarning, stacklevel=2)

    def _flush(self) -> None:
        if self._writer is not None:
            try:
                self._writer.flush()
            except Exception as error:
                self._fail(error)


# Events a writer queues before it writes them; after this long it writes them at the next step.
_MAX_QUEUE = 1000
_FLUSH_MILLIS = 5000


def _flush_at_exit(writer_ref: "weakref.ref[Any]") -> None:
    writer = writer_ref()
    if writer is not None:
        try:
            writer.flush()
        except Exception:  # the writer may be closed, or TensorFlow shutting down
            log.debug("tb_gradcause: no flush at exit", exc_info=True)


def _is_chief(model: keras.Model) -> bool:
    """True unless this process is a non-chief worker of a multi-worker strategy."""
    resolver = getattr(model.distribute_strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None)
    if task_type in (None, "chief"):
        return True
    has_chief = bool(resolver.cluster_spec().as_dict().get("chief"))
    return task_type == "worker" and resolver.task_id == 0 and not has_chief
