"""The NaN's op and source line: the first non-finite step replayed eagerly, op by op.

What `jax_debug_nans` does for JAX: when a step's loss turns non-finite, the step hands its batch
and the weights it started from to the host (`NanOrigin.keep`, a conditional on the loss check:
the loss is known before the backward pass, so no update waits for it). It sits inside the
weight snapshot's copy (`snapshot.take`, taken on a non-finite loss): a step that takes no copy
runs nothing of it; where the copy is taken on every step (a full train function's) or `weights`
is not logged it is a conditional of its own, whose reads of the weights and inputs are what a
healthy step pays. Between two batches the callback replays that step
eagerly (`NanOrigin.run`): forward pass, loss and gradients, every op's outputs checked as it
runs (TensorFlow's op callbacks, which `tf.debugging.enable_check_numerics` is built on), and
writes one `nan_origin` record: the first op that produced NaN/Inf, its layer and the innermost
line of the user's code on the stack that ran it. The batch or the starting weights already
non-finite are named instead, without a replay.

The replay runs Keras' default step (`model(x, training=True)`, `compute_loss`, the gradients),
not a user's own `train_step`: a step whose loss does not come from `compute_loss` is not kept. It
writes the starting weights into the model's variables and puts every model variable back
afterwards (weights, batch-norm statistics and the layers' seed states: the training's random
streams are left as they were); it never touches the optimizer. Dropout in the replay draws from
the seed state as the bad step left it, so its masks differ from the step's: an op that overflows
only under the step's own mask may run finite (the record says so).

Only the first non-finite step is replayed. A step whose loss is finite and whose gradients are
not, a step compiled by XLA, and a step of several replicas are not kept: the record says why.
"""

from __future__ import annotations

import dataclasses
import linecache
import os
import sys
import sysconfig
import types
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.framework import op_callbacks  # pylint: disable=no-name-in-module

import tb_gradcause
from tb_gradcause import summary
from tb_gradcause.capture import graph
from tb_gradcause.capture.model_walk import LayerEntry, walk
from tb_gradcause.rows import RowInfo

# Why a step was not kept for the replay (the record's `reason`).
NOT_KEPT_GRADIENTS = (
    "the loss was finite and only the gradients were not: the weights a step starts from are kept only when "
    "its loss is non-finite, known before the backward pass (waiting for the gradients would hold back every "
    "step's update)"
)
NOT_KEPT_XLA = (
    "jit_compile: the weights the step started from live inside the compiled step (keeping them would copy "
    "every weight out of it on every step)"
)
NOT_KEPT_REPLICAS = (
    "several replicas (a distribution strategy): the replay of one device's share of the step is not supported"
)
NOT_KEPT_DATA = "the batch holds tensors other than dense ones (sparse, ragged): not kept"
NOT_KEPT_OWN_LOSS = (
    "the model's own train_step computes its loss without compute_loss, and the replay runs Keras' default "
    "step (the model's call, then compute_loss): it would not replay this step"
)

# Code whose frames are not the user's: the op's creator is the innermost frame outside them.
_LIBRARY_DIRS = tuple(
    os.path.dirname(os.path.abspath(path)) + os.sep
    for path in (keras.__file__, tf.__file__, tb_gradcause.__file__, np.__file__)
) + (sysconfig.get_paths()["stdlib"] + os.sep,)
_KERAS_DIR = os.path.dirname(os.path.abspath(keras.__file__)) + os.sep
# Keras' op wrappers and helpers: the Keras line named is the first one above them (an activation, a loss).
_KERAS_PLUMBING = tuple(os.path.join(_KERAS_DIR, "src", d) + os.sep for d in ("backend", "ops", "utils"))
_USER_DIRS = (os.path.join(os.path.dirname(os.path.abspath(tb_gradcause.__file__)), "demo") + os.sep,)


@dataclasses.dataclass
class Origin:
    """Where the replay found the first NaN/Inf of a step, or why it did not."""

    step: int
    phase: str = ""  # "input" | "weights" | "forward" | "loss" | "backward"; "" when not found
    op: str = ""  # the op type ("Exp"); the variable for "weights", the input for "input"
    layer: str = ""  # the innermost watched layer running the op ("" for the loss, inputs)
    layer_class: str = ""
    source: str = ""  # "model.py:42": the user's innermost line on the op's stack (else Keras')
    source_of: str = ""  # "user" | "keras": whose line `source` is
    path: str = ""  # that file's full path
    code: str = ""  # that line's text
    shape: tuple[int, ...] = ()  # of the first non-finite tensor
    dtype: str = ""
    nan: int = 0
    inf: int = 0
    reason: str = ""  # why there is no origin (not kept, ran finite, failed)

    def record(self) -> summary.Record:
        """One `nan_origin` row; its name holds the step, so each origin has its own metadata."""
        facts = {
            k: v
            for k, v in (
                ("phase", self.phase),
                ("op", self.op),
                ("source", self.source),
                ("source_of", self.source_of),
                ("path", self.path),
                ("code", self.code),
                ("dtype", self.dtype),
                ("reason", self.reason),
            )
            if v
        }
        row = RowInfo(
            name=f"nan_origin/{self.step}",
            layer=self.layer,
            layer_class=self.layer_class,
            shape=self.shape,
            role="nan_origin",
            facts=facts,
        )
        found = 1.0 if self.phase else 0.0
        values = tf.constant([[found, self.nan, self.inf, float(np.prod(self.shape)) if found else 0.0]])
        return summary.Record("nan_origin", [row], values)


@dataclasses.dataclass
class _Kept:
    """A step's batch and starting weights, on the host."""

    step: int
    data: Any  # the step's (x, y, sample_weight) as numpy arrays
    variables: list  # the variables the optimizer updates
    values: list[np.ndarray]  # their values before the update


class NanOrigin:
    """The replay of one model's first non-finite step: kept by the step, run by the callback."""

    def __init__(self, model: keras.Model):
        self.model = model
        self.kept: _Kept | None = None
        self.bad_step: int | None = None  # the first non-finite step the capture wrote
        self.done = False
        self.not_kept = NOT_KEPT_GRADIENTS  # why a bad step without a copy was not kept (trace time)

    @property
    def pending(self) -> bool:
        """A non-finite step waits for its replay (a host attribute: no device sync)."""
        return self.bad_step is not None and not self.done

    def keep(
        self,
        pred: tf.Tensor,
        step: tf.Tensor,
        data: Any,
        variables: Sequence,
        values: Sequence | None = None,
        gated: bool = False,
        *,
        own_loss: bool = False,
    ) -> None:
        """In the step, before the update: hand the batch and the variables' `values` to the host
        when `pred` (this step's loss is non-finite). Traced once per train function. `own_loss`:
        the step's loss did not come from `compute_loss`, so the replay cannot redo it.

        `values`: the weight snapshot's copies; with `gated`, inside its branch (taken on a
        non-finite loss or a spike): one host call there, which checks `pred` itself, so a step
        taking no copy skips one op (a conditional would add its own to the branch, which a
        lowered conditional visits on every step). Not `gated` (copies taken on every step of a
        full train function) or None (read here): under a conditional of its own, as a host call
        on every step costs a small model's step 5-6 % (benchmarks/RESULTS.md)."""
        if own_loss:
            self.not_kept = NOT_KEPT_OWN_LOSS
            return
        if summary.in_xla_context():
            self.not_kept = NOT_KEPT_XLA
            return
        if tf.distribute.get_strategy().num_replicas_in_sync > 1:
            self.not_kept = NOT_KEPT_REPLICAS
            return
        flat = tf.nest.flatten(data)
        if not all(t is None or isinstance(t, tf.Tensor) for t in flat):
            self.not_kept = NOT_KEPT_DATA
            return
        self.not_kept = NOT_KEPT_GRADIENTS
        tensors = [t for t in flat if t is not None]
        variables = list(variables)

        def store(pred_value, step_value, *arrays):
            if pred_value and self.kept is None and self.bad_step is None:  # the first non-finite step only
                batch = iter(np.array(a, copy=True) for a in arrays[: len(tensors)])
                data_copy = tf.nest.pack_sequence_as(data, [None if t is None else next(batch) for t in flat])
                copies = [np.array(a, copy=True) for a in arrays[len(tensors) :]]
                self.kept = _Kept(int(step_value), data_copy, variables, copies)
            return np.bool_(True)

        def hand_over(weights: Sequence) -> tf.Tensor:
            return tf.numpy_function(store, [pred, step, *tensors, *weights], Tout=tf.bool, stateful=True)

        if values is not None and gated:
            hand_over(values)
            return
        # Read outside the conditional, as `snapshot.take` does: read before the update, and a
        # conditional that took the variables would hold every update back until it ran.
        reads = values if values is not None else [tf.convert_to_tensor(graph.variable_value(v)) for v in variables]
        graph.cond(pred, lambda: hand_over(reads))

    def note_bad(self, step: tf.Tensor) -> tf.Tensor:
        """In a non-finite step's capture: tell the host which step to replay (the first one)."""

        def note(step_value):
            if self.bad_step is None:
                self.bad_step = int(step_value)
            return np.bool_(True)

        return tf.numpy_function(note, [step], Tout=tf.bool, stateful=True)

    def run(self, writer: tf.summary.SummaryWriter) -> None:
        """Replay the first non-finite step (once) and write its `nan_origin` record."""
        assert self.bad_step is not None
        self.done = True
        kept, self.kept = self.kept, None
        if kept is None or kept.step != self.bad_step:
            origin = Origin(self.bad_step, reason=self.not_kept)
        else:
            try:
                origin = locate(self.model, kept)
            except Exception as error:  # an error of the replay must not stop training
                origin = Origin(kept.step, reason=f"the replay failed: {type(error).__name__}: {error}"[:300])
        with summary.default_writer(writer):
            summary.write_record(origin.record(), tf.constant(origin.step, tf.int64))
        writer.flush()


def locate(model: keras.Model, kept: _Kept) -> Origin:
    """The first NaN/Inf of the kept step: in its batch, its starting weights, or the replay."""
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(kept.data)
    for name, value in _named(x):
        if _nonfinite(value):
            return _origin_of(kept.step, "input", name, value)
    for variable, value in zip(kept.variables, kept.values):
        if _nonfinite(value):
            return _origin_of(kept.step, "weights", variable.path, value)
    return _replay(model, kept, x, y, sample_weight)


def _named(x: Any) -> list[tuple[str, np.ndarray]]:
    if isinstance(x, dict):
        return [(str(k), v) for k, v in x.items() if v is not None]
    flat = [v for v in tf.nest.flatten(x) if v is not None]
    return [("input" if len(flat) == 1 else f"input_{i}", v) for i, v in enumerate(flat)]


def _nonfinite(value: Any) -> bool:
    array = np.asarray(value)
    return array.dtype.kind in "fc" and not bool(np.isfinite(array).all())


def _origin_of(step: int, phase: str, op: str, value: Any, **where: str) -> Origin:
    array = np.asarray(value)
    return Origin(
        step,
        phase,
        op,
        shape=tuple(array.shape),
        dtype=str(array.dtype),
        nan=int(np.isnan(array).sum()),
        inf=int(np.isinf(array).sum()),
        **where,
    )


class _Found(Exception):
    """Raised by the op check at the first non-finite output: the replay stops there."""


class _OpCheck:
    """An op callback checking each eagerly run op's float outputs (thread-local: only the
    replay's thread is checked), noting the first non-finite one with its stack."""

    def __init__(self, step: int, entries: list[LayerEntry]):
        self.step = step
        self.entries = {id(e.layer): e for e in entries}
        self.phase = "forward"
        self.found: Origin | None = None

    def __call__(self, op_type, inputs, attrs, outputs, op_name=None, graph=None):  # noqa: ARG002
        if graph is not None or self.found is not None or not outputs:
            return None
        for out in outputs:
            if isinstance(out, tf.Tensor) and out.dtype.is_floating and _nonfinite(out.numpy()):
                op = op_type.decode() if isinstance(op_type, bytes) else str(op_type)
                self.found = _origin_of(self.step, self.phase, op, out.numpy(), **self._where())
                raise _Found
        return None

    def _where(self) -> dict[str, str]:
        """The innermost watched layer and line of the user's code on the stack running the op,
        up to the replay itself (the frames above it are the callback's, not the op's creator).
        Without a user line (an op of a Keras layer or activation), Keras' own line, so marked."""
        where: dict[str, str] = {}
        library: types.FrameType | None = None
        frame: types.FrameType | None = sys._getframe(2)  # pylint: disable=protected-access
        while (
            frame is not None and frame.f_code is not _replay.__code__ and not ("source" in where and "layer" in where)
        ):
            if "layer" not in where:
                entry = self.entries.get(id(frame.f_locals.get("self")))
                if entry is not None:
                    where.update(layer=entry.path, layer_class=type(entry.layer).__name__)
            filename = os.path.abspath(frame.f_code.co_filename)
            if "source" not in where and _is_user(filename):
                where.update(_line(frame), source_of="user")
            elif library is None and filename.startswith(_KERAS_DIR) and not filename.startswith(_KERAS_PLUMBING):
                library = frame
            frame = frame.f_back
        if "source" not in where and library is not None:
            where.update(_line(library), source_of="keras")
        return where


def _line(frame: types.FrameType) -> dict[str, str]:
    filename = os.path.abspath(frame.f_code.co_filename)
    code = linecache.getline(filename, frame.f_lineno).strip()
    return {"source": f"{os.path.basename(filename)}:{frame.f_lineno}", "path": filename, "code": code}


def _is_user(filename: str) -> bool:
    if filename.startswith("<"):
        return False
    return filename.startswith(_USER_DIRS) or not filename.startswith(_LIBRARY_DIRS)


def _replay(model: keras.Model, kept: _Kept, x: Any, y: Any, sample_weight: Any) -> Origin:
    """Forward, loss and gradients from the kept weights, every op checked; then every variable
    of the model (and those the optimizer updates) back to its value before the replay."""
    state = list({id(v): v for v in [*model.variables, *kept.variables]}.values())
    saved = [v.numpy() for v in state]
    check = _OpCheck(kept.step, walk(model))
    try:
        for variable, value in zip(kept.variables, kept.values):
            variable.assign(value)
        op_callbacks.add_op_callback(check)
        try:
            with tf.GradientTape() as tape:
                y_pred = model(x, training=True)
                check.phase = "loss"
                loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
            check.phase = "backward"
            tape.gradient(loss, model.trainable_variables)
        except _Found:
            pass
        finally:
            op_callbacks.remove_op_callback(check)
    finally:
        for variable, value in zip(state, saved):
            variable.assign(value)
    if check.found is not None:
        return check.found
    return Origin(
        kept.step,
        reason="the replay ran finite (dropout or another random op drew differently, or the op is not deterministic)",
    )
