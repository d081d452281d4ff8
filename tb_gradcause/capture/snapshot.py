"""Copies of the weights before the optimizer's update, for the `weights` update columns.

A copy is taken on the cadence's steps and when the loss is non-finite (a step that may start
from overflowed weights) or spikes, not when only the gradients are: the loss is known early,
while waiting for the gradient check would hold every update back until the whole backward pass
is done. (Under a strategy the spike is one of the global loss, known after the step's one
collective, which follows the gradients; the update waits for them there anyway: `fold`.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from tb_gradcause.capture.graph import variable_value


@dataclasses.dataclass
class Snapshot:
    """Copies of the variables' values before the update, taken when `taken` (None: always)."""

    before: list[tf.Tensor]
    taken: tf.Tensor | None

    def picked(self, order: Sequence[int]) -> Snapshot:
        return Snapshot([self.before[i] for i in order], self.taken)


def read(variables: Sequence, grads: Sequence) -> list:
    """The variables' values as `take` copies them, read now (before the update): dense ones as
    tensors, sparsely updated ones (IndexedSlices gradients) as the variables themselves."""
    return [
        variable_value(v) if isinstance(g, tf.IndexedSlices) else tf.convert_to_tensor(variable_value(v))
        for v, g in zip(variables, grads)
    ]


def take(
    values: Sequence,
    variables: Sequence,
    taken: tf.Tensor,
    always: bool,
    then: Callable[[list[tf.Tensor], bool], Any] | None = None,
) -> Snapshot | None:
    """Copy `values` (`read` before the update) when `taken` or `always` (otherwise empty
    tensors, which only a branch under `taken` reads); None when `taken` is known to be False.
    `then(copies, gated)` runs where the copies are made (the replay's keep, `nan_origin`: no reads
    or conditional of its own on a step that takes no copy); `gated`: inside the conditional on
    `taken`, not on every step.

    The conditional takes values, not variables: one that takes a variable is ordered after every
    op using it, e.g. a recurrent layer's whole backward loop, and would hold its update back
    until then. A value read before the update shares the variable's memory until the update,
    which copies it if the snapshot still holds it. Sparsely updated variables (IndexedSlices
    gradients, e.g. embeddings) are read in the branch: once updated so, every read copies them;
    the branch must then run before the update.
    """
    static = tf.get_static_value(taken)
    if static is not None and not bool(static):
        return None

    def copy(gated: bool) -> list[tf.Tensor]:
        copies = [tf.identity(x) for x in values]
        if then is not None:
            then(copies, gated)
        return copies

    if always or static is not None:
        return Snapshot(copy(gated=False), None)
    return Snapshot(tf.cond(taken, lambda: copy(gated=True), lambda: [_empty_like(v) for v in variables]), taken)


def _empty_like(v) -> tf.Tensor:
    return tf.zeros([0] * len(v.shape), dtype=v.dtype)
