"""`ModelRecorder`: what `GradCauseCallback` records in `fit`, for a custom training loop.

A loop with its own `tf.GradientTape` gets the callback's whole capture, built by the same parts:
layer hooks (`hooks`: outputs, and d loss / d output taken from the loop's own backward pass),
records (`records`: per-layer rows for inputs, activations, backward signals, gradients, weights
and their updates), the finite check (`check`), the cadence (`cadence`) and writing (`pending`)::

    recorder = tb_gradcause.summary.ModelRecorder(model, every_n_steps=10)

    @tf.function
    def train_step(x, y, step):
        with recorder.watch(step, inputs=x), tf.GradientTape() as tape:
            loss = recorder.loss(loss_fn, y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        recorder.write(loss, grads)

`watch` records the forward pass (`loss`, inside it, also what the loss did with y_true and
y_pred) and, as it ends (before the update), copies the weights on the cadence's steps; `write`,
after the update, writes to the default summary writer: the loss on
every step, every other kind on the cadence's steps, on any step whose loss or gradients hold a
NaN/Inf (flushed at once) and on a loss spike, as in the callback. The loss is known only after
`watch`: those off-cadence steps log the weights without their update. A step that does not
capture runs only the checks and the loss row.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence

import keras
import tensorflow as tf

from tb_gradcause import metadata, summary
from tb_gradcause.capture import graph, hooks, loss_check, pending, records, snapshot
from tb_gradcause.capture.cadence import Mode
from tb_gradcause.capture.check import SpikeWatch, check_step
from tb_gradcause.capture.config import CaptureConfig
from tb_gradcause.capture.model_walk import walk


@dataclasses.dataclass
class _Watched:
    """One traced step between `watch` and `write`."""

    rec: hooks.Recorder
    step: tf.Tensor  # int64
    cadence: tf.Tensor  # bool: the step is captured in full
    before: snapshot.Snapshot | None
    learning_rate: tf.Tensor | None


class ModelRecorder:
    """Records a Keras model's training step in a custom loop, as `GradCauseCallback` does in `fit`.

    Args:
        model: the Keras model the loop trains (its layers are hooked once; the hooks do nothing
            outside `watch`).
        optimizer: for the learning rate in the loss row (default: `model.optimizer`, if any).
        every_n_steps, kinds, loss_every_step, max_input_features, max_units: as in
            `GradCauseCallback` (None: its default cadence).
    """

    def __init__(
        self,
        model: keras.Model,
        optimizer: keras.optimizers.Optimizer | None = None,
        every_n_steps: int | None = None,
        kinds: Iterable[str] | None = None,
        loss_every_step: bool = True,
        max_input_features: int = metadata.MAX_INPUT_FEATURES,
        max_units: int | None = metadata.SAMPLE_UNITS,
    ):
        self.model = model
        self.optimizer = optimizer if optimizer is not None else getattr(model, "optimizer", None)
        self.config = CaptureConfig.from_arguments(every_n_steps, kinds, loss_every_step, max_input_features, max_units)
        self._spikes = SpikeWatch()
        self._watched: _Watched | None = None
        self._hook()

    @contextlib.contextmanager
    @tf.autograph.experimental.do_not_convert  # plain Python at trace time: AutoGraph would only slow tracing
    def watch(self, step=None, inputs=None) -> Iterator[None]:
        """Record the model's forward pass of training step `step` (default: the `tf.summary`
        default step) on the batch's model `inputs` (tensor, list or dict; None: no input stats)."""
        if step is None:
            step = tf.summary.experimental.get_step()
            if step is None:
                raise ValueError("ModelRecorder.watch needs a step (or a tf.summary default step)")
        self._hook()  # layers built since the last step are hooked too
        if inputs is not None:  # numpy batches in eager loops
            inputs = tf.nest.map_structure(tf.convert_to_tensor, inputs)
        # Any step may capture (the cadence is decided in the graph): recurrent inputs' probes are
        # on the loop's backward pass on every step, as in the callback's in-graph cadence.
        rec = hooks.Recorder(
            lambda apply, grads, variables: apply(grads, variables),
            backward_time="backward_time" in self.config.kinds,
            inputs=inputs,
            anchors=lambda: self.model.trainable_weights,
        )
        step = tf.cast(step, tf.int64)
        cadence = self.config.cadence.in_graph(Mode.IN_GRAPH, step)
        with hooks.recording(rec):
            yield
        variables = self.model.trainable_variables
        before = None
        if "weights" in self.config.kinds:
            before = snapshot.take(snapshot.read(variables, [None] * len(variables)), variables, cadence, always=False)
        lr = self.optimizer.learning_rate if self.optimizer is not None else None
        learning_rate = tf.cast(tf.convert_to_tensor(lr), tf.float32) if lr is not None else None
        self._watched = _Watched(rec, step, cadence, before, learning_rate)

    @tf.autograph.experimental.do_not_convert
    def loss(self, loss_fn: Callable, y_true, y_pred, sample_weight=None):
        """`loss_fn(y_true, y_pred)` (with `sample_weight` if given), computed as is, inside `watch`.

        Handing the loss's inputs over lets the recorder check, once per trace, what the loss did
        with them (`loss_inputs`): y_true (B,) broadcast against y_pred (B, 1) into (B, B), class ids
        in a loss that expects one-hot rows, one-hot rows read as class ids. (`model.compute_loss`
        is checked without this.)"""
        rec = hooks.current()
        if rec is None:
            raise RuntimeError("ModelRecorder.loss must be called inside a `with recorder.watch(step):` block")
        value = loss_fn(y_true, y_pred) if sample_weight is None else loss_fn(y_true, y_pred, sample_weight)
        rec.loss_inputs = loss_check.for_function(loss_fn, y_true, y_pred, value)
        return value

    @tf.autograph.experimental.do_not_convert
    def write(self, loss, grads: Sequence, variables: Sequence | None = None) -> None:
        """Write the step `watch` recorded, after the optimizer's update: its `loss` and the
        `grads` of `variables` (default: the model's trainable variables, as given to the tape)."""
        watched, self._watched = self._watched, None
        if watched is None:
            raise RuntimeError("ModelRecorder.write must follow a `with recorder.watch(step):` block")
        variables = list(variables) if variables is not None else list(self.model.trainable_variables)
        grads = list(grads)
        if len(grads) != len(variables):
            raise ValueError(f"got {len(grads)} gradients for {len(variables)} variables")
        rec = watched.rec
        rec.seal()
        check = check_step(summary.mean_float32(loss), grads, scaled=False, spikes=self._spikes)
        full = graph.on_chief(graph.logical_or(watched.cadence, graph.logical_or(check.bad, check.spike)))
        pulse = summary.loss_record(check.loss, watched.learning_rate) if "loss" in self.config.kinds else None
        plan = pending.Plan(full, check.bad, tf.constant(self.config.loss_every_step), pulse, watched.step)
        owner = {id(v): e for e in walk(self.model) for v in e.own_variables}
        tensors = records.StepTensors(rec, rec.inputs, grads, variables, watched.before, None, owner)

        def build() -> list[summary.Record]:
            return ([pulse] if pulse is not None else []) + records.build(self.model, self.config, tensors)

        pending.write(plan, build)

    def _hook(self) -> None:
        """Hook every watched layer of the model and its `compute_loss` (each once)."""
        for entry in walk(self.model):
            hooks.hook_layer(entry)
        hooks.hook_model(self.model)
