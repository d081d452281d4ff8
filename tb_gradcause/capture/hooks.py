"""Trace-time hooks into Keras instances: layer `call`, model `compute_loss`, optimizer `apply`,
and `tf.GradientTape.gradient`.

The hooks are installed once per instance and do nothing unless a `Recorder` is active on the
current thread (one per traced training step and replica). While one is, they record the
tensors of that step's graph: layer outputs (and, through an identity with a custom gradient,
the gradient flowing back into them), recurrent layers' inputs and their gradients, the loss,
and hand the first optimizer `apply` of the step to the recorder.

A `train_step` of the user's own may compute its loss without `compute_loss` (keras.io's VAE) and
apply it with optimizers of its own (keras.io's GAN: `d_optimizer`, `g_optimizer`). So every
optimizer the model holds as an attribute is hooked, not only `model.optimizer`, and the loss is,
failing `compute_loss`, the tensor whose gradients the step hands to that `apply`
(`tape.gradient(loss, ...)`; a gradient penalty differentiates something else first): the one
class-level hook, a no-op outside a recorded step.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import keras
import tensorflow as tf

from tb_gradcause.capture import loss_check
from tb_gradcause.capture.model_walk import LayerEntry

if TYPE_CHECKING:
    from tb_gradcause.capture.fold import Fold
    from tb_gradcause.capture.pending import Pending

_local = threading.local()
_HOOKED = "_gradcause_hooked"
# Per traced graph, its replicas' recorders by replica id: MirroredStrategy traces every local
# replica of a step into one graph, so the chief's capture can read the other replicas' tensors.
_replicas: weakref.WeakKeyDictionary[Any, dict[int, Recorder]] = weakref.WeakKeyDictionary()
_replicas_lock = threading.Lock()


@dataclasses.dataclass
class Slot:
    """What one watched layer produced in the traced step."""

    entry: LayerEntry
    order: int
    output: tf.Tensor | None = None
    output_grad: Any = None  # d loss / d output once the backward pass ran; None = no signal
    # A softmax or sigmoid output's logits, which Keras' losses read instead of the output
    # (`_keras_logits`), and d loss / d logits: the error signal when the output gets none.
    logits: tf.Tensor | None = None
    logits_grad: Any = None
    input: tf.Tensor | None = None  # recurrent layers: the input [batch, time, features]
    input_grad: Any = None  # recurrent layers: d loss / d input, once the backward pass ran
    call: tuple[tuple, dict] | None = None  # the arguments of its `call` (`gradient_check`)


class Recorder:
    """Trace-time record of one training step (one replica).

    Backward signals come from the training backward pass itself: probes (identities with a
    custom gradient) on layer outputs and recurrent inputs take the gradient flowing through them.
    A capture reads only what a step computes anyway, so steps that do not capture compute nothing
    for it (a second backward pass in the capture would hold the forward pass's weights past the
    update); its conditional holds those tensors until its predicate is known (`records`).
    """

    def __init__(
        self,
        on_apply: Callable,
        backward_time: bool,
        inputs: Any = None,
        data: Any = None,
        anchors: Callable[[], Sequence] | None = None,
    ):
        """`anchors` (the model's trainable weights), given to steps that may capture
        `backward_time` (never to lean ones): recurrent inputs' probes are then anchored to their
        layer's first trainable weight, or the model's first if the layer has none (`_probe`), so
        the training backward pass computes d loss / d input even when nothing upstream of the
        layer is trainable."""
        self.on_apply = on_apply
        self.backward_time = backward_time
        self.anchors = anchors if backward_time else None
        self.inputs = inputs  # the step's model inputs (this replica's share of the batch)
        self.data = data  # the step's (x, y, sample_weight) as `train_step` got them (`nan_origin`)
        self.slots: dict[int, Slot] = {}
        self.loss: tf.Tensor | None = None
        self.loss_inputs: list[tuple[loss_check.Finding, Any]] = []  # what the loss did with y_true, y_pred
        self.applied = False
        self.optimizer: Any = None  # the optimizer whose `apply` the capture runs around (set by its hook)
        # (optimizer, variables or None: the optimizer's own) of every `apply` in the step, in order;
        # the capture runs around the first.
        self.applies: list[tuple[Any, Any]] = []
        self.differentiated: list[tuple[tf.Tensor, list]] = []  # (target, gradients) of each `tape.gradient`
        self.loss_by_hand = False  # the loss is one the step differentiated, not `compute_loss`'s
        self.reduced_grads: dict[int, Any] = {}  # id(tf variable) -> all-reduced gradient (replicas > 1)
        self.fold: Fold | None = None  # the check riding the gradient all-reduce, during the update
        self.pending: Pending | None = None  # the records, when the step is compiled by XLA
        self.graph = tf.compat.v1.get_default_graph()
        self.sealed = False
        self.replica = _replica_id()
        if self.replica is not None:
            with _replicas_lock:
                _replicas.setdefault(self.graph, {})[self.replica] = self

    def replicas(self) -> list[Recorder]:
        """The recorders whose share of the batch a capture on this replica reads, in replica
        order: every local replica of the step for replica 0 (the only one that writes), else this
        one. Read once every replica has passed a synchronization point of the step (the gradient
        all-reduce, or the finite check's own: `fold`), so the others' forward and backward passes
        are traced."""
        if self.replica != 0:
            return [self]
        with _replicas_lock:
            peers = dict(_replicas.get(self.graph, {}))
        return [peers[i] for i in sorted(peers)]

    def seal(self) -> None:
        """The training backward pass is done: probes keep what they took (gradients the capture
        itself takes must not reach them)."""
        self.sealed = True

    def take(self, slot: Slot, field: str, gradient) -> None:
        """A probe's gradient, from the training backward pass only."""
        if not self.sealed:
            setattr(slot, field, gradient)

    def slot_for(self, entry: LayerEntry) -> Slot | None:
        """A new slot for the entry's first call in this step's graph; None for later calls
        (shared layers) and for calls elsewhere (Keras' shape inference while building)."""
        key = id(entry.layer)
        if key in self.slots or tf.compat.v1.get_default_graph() is not self.graph:
            return None
        slot = Slot(entry, len(self.slots))
        self.slots[key] = slot
        return slot

    def loss_of(self, grads: Sequence) -> tf.Tensor | None:
        """The tensor whose gradients `grads` are (the last one differentiated, if none matches:
        the user clipped them), for a step whose loss did not go through `compute_loss`."""
        for target, results in reversed(self.differentiated):
            if any(g is r for g in grads for r in results):
                return target
        return self.differentiated[-1][0] if self.differentiated else None

    def called(self) -> list[Slot]:
        """Slots of the layers that produced an output, in forward (call) order."""
        return sorted((s for s in self.slots.values() if s.output is not None), key=lambda s: s.order)


def _replica_id() -> int | None:
    """This replica's id when tracing under a strategy with several replicas, else None."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return None
    replica = tf.get_static_value(ctx.replica_id_in_sync_group)
    return int(replica) if replica is not None else None


def current() -> Recorder | None:
    return getattr(_local, "recorder", None)


@contextlib.contextmanager
def recording(recorder: Recorder | None) -> Iterator[Recorder | None]:
    """Make `recorder` the active one on this thread while a training step is traced (None: none)."""
    previous = current()
    _local.recorder = recorder
    try:
        yield recorder
    finally:
        _local.recorder = previous


def _probe(x: tf.Tensor, store: Callable[[Any], None], anchor: tf.Tensor | None = None) -> tf.Tensor:
    """Identity whose gradient is handed to `store` on its way back.

    A tape records an op only when an input derives from what it watches: a probe on a tensor
    nothing trainable produces (a model input) is left off the training backward pass. With
    `anchor` (a read of a trainable weight, an extra input of the identity given no gradient)
    every tape that watches that weight records the probe, so the backward pass computes the
    gradient into it, and the weight's own gradient is left exactly as it was."""

    @tf.custom_gradient
    def identity(t, *anchors):
        def grad(dy):
            store(dy)
            return (dy, *(None for _ in anchors))

        return tf.identity(t), grad

    return identity(x) if anchor is None else identity(x, anchor)


def _anchor(layer, model_weights: Callable[[], Sequence]) -> tf.Tensor | None:
    """A read of the layer's first trainable weight, else of the model's (None if neither has
    one): see `_probe`."""
    weights = layer.trainable_weights or model_weights()
    return tf.convert_to_tensor(weights[0]) if weights else None


def _is_float_tensor(x: Any) -> bool:
    return isinstance(x, tf.Tensor) and x.dtype.is_floating


def is_hooked(entry: LayerEntry) -> bool:
    return getattr(entry.layer, _HOOKED, None) is not None


def install(model, entries: Sequence[LayerEntry]) -> None:
    """Hook the watched layers, the model's loss, its optimizers and the tape (each once)."""
    for entry in entries:
        hook_layer(entry)
    hook_model(model)
    for optimizer in optimizers(model):
        hook_optimizer(optimizer)
    hook_tape()


def optimizers(model) -> list:
    """`model.optimizer` and every other optimizer the model holds as an attribute, once each."""
    found = {id(model.optimizer): model.optimizer} if model.optimizer is not None else {}
    for value in vars(model).values():
        if isinstance(value, keras.optimizers.Optimizer):
            found.setdefault(id(value), value)
    return list(found.values())


def hook_layer(entry: LayerEntry) -> None:
    """Wrap `entry.layer.call` on the instance (once)."""
    layer = entry.layer
    if getattr(layer, _HOOKED, None) == entry.path:
        return
    original = getattr(layer, "_gradcause_call", None) or layer.call

    def call(*args, **kwargs):
        rec = current()
        slot = rec.slot_for(entry) if rec is not None else None
        if rec is None or slot is None:
            return original(*args, **kwargs)
        if entry.recurrent and rec.backward_time and args and _is_float_tensor(args[0]) and args[0].shape.rank == 3:
            anchor = _anchor(layer, rec.anchors) if rec.anchors is not None else None
            slot.input = _probe(args[0], lambda g: rec.take(slot, "input_grad", g), anchor)
            args = (slot.input,) + args[1:]
        slot.call = (args, kwargs)
        outputs = original(*args, **kwargs)
        flat = tf.nest.flatten(outputs)
        if not flat or not _is_float_tensor(flat[0]):
            return outputs
        main = flat[0]
        slot.output = main
        slot.logits = getattr(main, "_keras_logits", None)
        probed = _probe(main, lambda g: rec.take(slot, "output_grad", g))
        mask = getattr(main, "_keras_mask", None)
        if mask is not None:
            probed._keras_mask = mask  # pylint: disable=protected-access
        if slot.logits is not None:  # the loss keeps reading the logits, through a probe
            probed._keras_logits = _probe(slot.logits, lambda g: rec.take(slot, "logits_grad", g))  # pylint: disable=protected-access
        flat[0] = probed
        return tf.nest.pack_sequence_as(outputs, flat)

    layer._gradcause_call = original  # pylint: disable=protected-access
    layer.call = call
    setattr(layer, _HOOKED, entry.path)


def hook_model(model) -> None:
    """Wrap `model.compute_loss` on the instance (once) to see each step's loss and check, at
    trace time, what it did with y and y_pred (`loss_check`)."""
    if getattr(model, "_gradcause_compute_loss", None) is not None:
        return
    original = model.compute_loss

    def compute_loss(*args, **kwargs):
        value = original(*args, **kwargs)
        rec = current()
        if rec is not None:
            rec.loss = value
            rec.loss_inputs = loss_check.for_model(model, original, args, kwargs, value)
        return value

    model._gradcause_compute_loss = original  # pylint: disable=protected-access
    model.compute_loss = compute_loss


def hook_optimizer(optimizer) -> None:
    """Wrap `optimizer.apply` on the instance (once): the active recorder runs it."""
    if getattr(optimizer, "_gradcause_apply", None) is not None:
        return
    original = optimizer.apply

    def apply(grads, trainable_variables=None):
        rec = current()
        if rec is not None:
            rec.applies.append((optimizer, trainable_variables))
        if rec is None or rec.applied:
            return original(grads, trainable_variables)
        grads = list(grads)
        rec.applied = True
        rec.optimizer = optimizer
        if rec.loss is None:
            rec.loss = rec.loss_of(grads)
            rec.loss_by_hand = rec.loss is not None
        return rec.on_apply(original, grads, trainable_variables)

    optimizer._gradcause_apply = original  # pylint: disable=protected-access
    optimizer.apply = apply
    reduce = getattr(optimizer, "_all_reduce_sum_gradients", None)
    if reduce is not None:  # Keras' private all-reduce (TF backend): the global gradient
        # Keras 3.15 sums the replicas' gradients here before updating; record the sums. The
        # step's check, when it can, rides along (`fold`).

        def all_reduce_sum_gradients(grads_and_vars):
            rec = current()
            if rec is None:
                return reduce(grads_and_vars)
            result = reduce(grads_and_vars) if rec.fold is None else rec.fold.reduce(reduce, grads_and_vars)
            rec.reduced_grads.update({id(v): g for g, v in result})
            return result

        optimizer._gradcause_reduce = reduce  # pylint: disable=protected-access
        optimizer._all_reduce_sum_gradients = all_reduce_sum_gradients  # pylint: disable=protected-access


def hook_tape() -> None:
    """Wrap `tf.GradientTape.gradient` (once): in a recorded step, before the optimizer's `apply`,
    each single float tensor differentiated and its gradients (`Recorder.loss_of`)."""
    if getattr(tf.GradientTape, "_gradcause_gradient", None) is not None:
        return
    original = tf.GradientTape.gradient

    @functools.wraps(original)
    def gradient(self, target, sources, *args, **kwargs):
        result = original(self, target, sources, *args, **kwargs)
        rec = current()
        if rec is not None and not rec.sealed and _is_float_tensor(target):
            rec.differentiated.append((target, tf.nest.flatten(result)))
        return result

    tf.GradientTape._gradcause_gradient = original  # pylint: disable=protected-access
    tf.GradientTape.gradient = gradient
