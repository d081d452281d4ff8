"""Trace-time helpers that keep the capture's ops off steps that do not need them.

A step's predicates are often known when it is traced (a lean step is never on the cadence,
the loss pulse may go out every step): folding them builds no op, and a conditional whose
predicate is known builds only the branch taken. Every op left in the graph runs on every
training step, so each one the fold saves is saved on every step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf


def logical_or(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """`a | b`, folded when either is known at trace time."""
    static_a, static_b = tf.get_static_value(a), tf.get_static_value(b)
    if static_a is not None:
        return tf.constant(True) if static_a else b
    if static_b is not None:
        return tf.constant(True) if static_b else a
    return tf.logical_or(a, b)


def logical_and(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """`a & b`, folded when either is known at trace time."""
    static_a, static_b = tf.get_static_value(a), tf.get_static_value(b)
    if static_a is not None:
        return b if static_a else tf.constant(False)
    if static_b is not None:
        return a if static_b else tf.constant(False)
    return tf.logical_and(a, b)


def logical_not(a: tf.Tensor) -> tf.Tensor:
    """`~a`, folded when known at trace time."""
    known = tf.get_static_value(a)
    return tf.logical_not(a) if known is None else tf.constant(not known)


def cond(
    pred: tf.Tensor, true_fn: Callable[[], Any], false_fn: Callable[[], Any] | None = None, separate: bool = False
) -> Any:
    """`tf.cond` that builds no conditional when `pred` is known at trace time (a conditional
    costs far more per step than a scalar op); `false_fn` defaults to a constant False.

    `separate`: build `true_fn` as one function call that is never inlined. TensorFlow lowers a
    conditional into the step's graph, and its executor then visits every op of the branch not
    taken, on every step: thousands of ops for a full capture, where a call is one.
    """
    false_fn = false_fn or (lambda: tf.constant(False))
    static = tf.get_static_value(pred)
    if static is not None:
        return true_fn() if static else false_fn()
    if separate:
        true_fn = tf.function(true_fn, autograph=False, experimental_attributes={"_noinline": True})
    return tf.cond(pred, lambda: tf.identity(true_fn()), lambda: tf.identity(false_fn()))


def on_chief(pred: tf.Tensor) -> tf.Tensor:
    """`pred` on replica 0, False on the others. Not folded at trace time: a worker's replica id
    is a constant of its graph, and every worker must trace the same conditionals (collectives)."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return pred
    return tf.logical_and(pred, tf.equal(ctx.replica_id_in_sync_group, 0))


def gathers() -> bool:
    """Whether a full capture that runs on every step of its train function (the cadence's
    function of one step per call) runs on every replica and all-gathers their shares
    (`replicas`): under MultiWorkerMirroredStrategy, whose other workers trace their replicas in
    other processes. Never in a conditional: the strategy cannot synchronize replicas there
    (`merge_call`), and a gather some worker skips would wait for it forever."""
    return isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy)


def variable_value(v: Any) -> Any:
    """The TensorFlow variable behind a Keras one (what reads and Keras' all-reduce see)."""
    return v.value if isinstance(v, keras.Variable) else v
