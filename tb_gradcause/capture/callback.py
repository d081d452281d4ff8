"""`GradCauseCallback`: one line in `model.fit` logs tb_gradcause statistics.

This module is the Keras lifecycle and the failure policy: logging must never stop or change
training, so any error of its own disables logging with one warning and training goes on
(an error of the optimizer itself is re-raised as is). The callback hooks the model's layers,
loss and optimizer once (`hooks`) and installs train functions (`train_functions`) whose steps
record through `step`; which steps capture in full is `cadence`'s decision. Logs go to
`<log_dir>/train` (`writer`), where `keras.callbacks.TensorBoard(log_dir)` writes, so both can
share a run.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import keras
import tensorflow as tf

from tb_gradcause import metadata
from tb_gradcause.capture import hooks, strategy_support, writer
from tb_gradcause.capture.cadence import HostSchedule, Mode
from tb_gradcause.capture.check import SpikeWatch
from tb_gradcause.capture.config import CaptureConfig
from tb_gradcause.capture.loss_chunks import LossChunks
from tb_gradcause.capture.model_walk import walk
from tb_gradcause.capture.nan_origin import NanOrigin
from tb_gradcause.capture.step import StepCapture
from tb_gradcause.capture.train_functions import TrainFunctions, step_counter

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
            (`cadence`). A step with a non-finite loss or gradient is always logged in full
            and flushed to disk at once; so is a step whose loss spikes to 10x every loss
            before it (`check.SpikeWatch`).
        kinds: which kinds to log (default: all of `metadata.SUMMARY_KINDS`). With "nan_origin",
            the first step whose loss is non-finite is replayed eagerly, once, before the next
            batch, to name the op and the line of code that made the first NaN/Inf (`nan_origin`).
        loss_every_step: also log the loss row on every step (a cheap pulse).
        max_input_features: features per input logged (first ones of the last axis).
        max_units: layer outputs (and their backward signals) with more units per sample get
            their stats from every channel at evenly spaced positions, about this many units
            (their L2 norm and NaN/Inf counts stay exact); None: from every unit, at several
            times the cost on large conv outputs.
        gradient_check: which layers' gradients are checked against finite differences, once, at
            the first captured step (`capture/gradient_check.py`): "custom" (the default) the
            layers running code of the user's own (custom layer classes, `Lambda`, activations
            that are not Keras'), "all" every layer, None none. Skipped under `jit_compile` and
            several replicas.
    """

    def __init__(
        self,
        log_dir: str = "logs",
        every_n_steps: int | None = None,
        kinds: Iterable[str] | None = None,
        loss_every_step: bool = True,
        max_input_features: int = metadata.MAX_INPUT_FEATURES,
        max_units: int | None = metadata.SAMPLE_UNITS,
        gradient_check: str | None = "custom",
    ):
        super().__init__()
        self.config = CaptureConfig.from_arguments(
            every_n_steps, kinds, loss_every_step, max_input_features, max_units, gradient_check
        )
        self.log_dir = os.fspath(log_dir)
        self._schedule = HostSchedule(self.config.cadence)
        self._writer: tf.summary.SummaryWriter | None = None
        self._scratch_dir: str | None = None  # a non-chief worker's writer's directory
        self._step: tf.Variable | None = None
        self._spikes: SpikeWatch | None = None
        self._losses: LossChunks | None = None  # made with the writer
        self._capture: StepCapture | None = None
        self._origin: NanOrigin | None = None  # replays the first non-finite step (`nan_origin`)
        self._functions: TrainFunctions | None = None
        self._failed = False

    @property
    def train_dir(self) -> str:
        return os.path.join(self.log_dir, "train")

    @property
    def every_n_steps(self) -> int | None:
        return self.config.cadence.every_n_steps

    # ---- Keras callback API -----------------------------------------------------------------

    def on_train_begin(self, logs=None) -> None:
        if self._failed:
            return
        if self._functions is not None and self._functions.owns(self.model.train_function):
            self._schedule.next_step = self._functions.next_step()  # once per fit
            return
        if (unsupported := strategy_support.unsupported(self.model.distribute_strategy)) is not None:
            self._failed = True
            warnings.warn(unsupported, RuntimeWarning, stacklevel=2)
            return
        try:
            self._install()
        except Exception as error:  # logging must never stop training
            self._fail(error)

    def on_train_batch_begin(self, batch, logs=None) -> None:
        # (No on_train_batch_end: overriding it makes Keras sync the logs to the host every batch.)
        if self._capture is None or self._functions is None:
            return
        if self._failed:
            if self._in_lockstep():
                self._swap()
            return
        if self._origin is not None and self._origin.pending:
            self._replay()
        if self._capture.stale:
            # The first step built layers lazily: hook them too (one retrace, once).
            try:
                self._install()
            except Exception as error:
                self._fail(error)
                return
        self._swap()

    def _swap(self) -> None:
        """Give `fit` the train function of the coming batch (full on the cadence's steps)."""
        assert self._functions is not None
        if self._functions.swapped_per_batch:
            function = self._functions.for_batch(self._schedule.next_is_full())
            if self.model.train_function is not function:  # Keras' attribute tracking costs ~6 µs a set
                self.model.train_function = function

    def on_epoch_end(self, epoch, logs=None) -> None:
        self._replay()
        self._flush()

    def on_train_end(self, logs=None) -> None:
        self._replay()
        self._flush()
        if self._scratch_dir is not None:
            shutil.rmtree(self._scratch_dir, ignore_errors=True)

    # ---- internals --------------------------------------------------------------------------

    def _install(self) -> None:
        """Hook the model and give `fit` our train functions (again when layers were added)."""
        model = self.model
        if model.optimizer is None:
            raise ValueError("the model has no optimizer: compile it before fit")
        if self._writer is None:
            self._losses = LossChunks()
            self._writer, self._scratch_dir = writer.create(model, self.train_dir, self._losses)
        if self._step is None:
            with model.distribute_strategy.scope():  # a copy per replica (`TrainFunctions._advance_step`)
                self._step = step_counter(model)
            self._spikes = SpikeWatch()
            self._origin = NanOrigin(model) if "nan_origin" in self.config.kinds else None
        entries = walk(model)
        hooks.install(model, entries)
        assert self._spikes is not None and self._losses is not None  # made with the step counter, the writer
        capture = StepCapture(model, self.config, self._step, self._spikes, self._writer, self._losses, self._origin)
        self._capture = capture
        self._functions = TrainFunctions(
            model,
            capture,
            on_apply=functools.partial(self._safe_apply, capture),
            failed=lambda: self._failed,
        )
        self._schedule.next_step = self._functions.next_step()
        model.train_function = self._functions.initial()

    def _safe_apply(
        self,
        capture: StepCapture,
        rec: hooks.Recorder,
        mode: Mode,
        x: Any,
        original: Callable,
        grads: list,
        variables: Any,
    ) -> Any:
        """`capture.apply`, falling back to the bare optimizer (with one warning) if logging fails."""
        state: dict[str, Any] = {"called": False}

        def run_original(g, v):
            state["called"] = True
            try:
                state["result"] = original(g, v)
            except Exception as error:
                raise _OptimizerError(error) from error
            return state["result"]

        if self._failed and not self._in_lockstep():
            return original(grads, variables)
        try:
            return capture.apply(rec, mode, x, run_original, grads, variables)
        except _OptimizerError as wrapped:
            raise wrapped.error from None  # the optimizer's own error, without our wrapper
        except Exception as error:  # logging must never stop training
            self._fail(error)
            return state["result"] if state["called"] else original(grads, variables)

    def _in_lockstep(self) -> bool:
        """Whether this worker must keep tracing and running the same train functions as the
        others even after its logging failed (their collectives must match, or training fails):
        under MultiWorkerMirroredStrategy, whose full captures gather every worker's share."""
        return isinstance(self.model.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy)

    def _fail(self, error: BaseException) -> None:
        if self._failed:
            return
        self._failed = True
        reason = (str(error).strip().splitlines() or [""])[0][:300]
        # In lockstep the train functions (and whatever they write) go on: say so, not "disabled".
        what = "logging may be incomplete from here on" if self._in_lockstep() else "logging disabled"
        message = f"tb_gradcause: {what} after an internal error, training continues: {type(error).__name__}: {reason}"
        log.debug("tb_gradcause internal error", exc_info=error)
        warnings.warn(message, RuntimeWarning, stacklevel=2)

    def _replay(self) -> None:
        """Replay the first non-finite step, if one waits (`nan_origin`), between two batches."""
        if self._failed or self._origin is None or not self._origin.pending or self._writer is None:
            return
        try:
            self._origin.run(self._writer)
        except Exception as error:
            self._fail(error)

    def _flush(self) -> None:
        if self._writer is not None and self._losses is not None:
            try:
                writer.flush(self._writer, self._losses)
            except Exception as error:
                self._fail(error)
