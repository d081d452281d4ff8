"""The finite check's collective folded into Keras' own gradient all-reduce.

With several replicas the check (`check`) is global: a NaN on any replica captures the step, and
the spike watch sees the global loss. A collective of its own for that, an all-reduce of two
floats, is a whole extra synchronization of every replica on every step (under
MultiWorkerMirroredStrategy about as costly as the rest of the callback's lean step:
`benchmarks/multiworker_overhead.py`). Keras 3.15's TensorFlow optimizer already sums the
replicas' gradients in `_all_reduce_sum_gradients`, before its update, in one collective of their
concatenation: the check's two floats ride along there, and what needs the global check before
the update (the weight copy a non-finite loss or a spike takes, `snapshot`) is built right after
the sum, still before the update. The rest (the full capture's decision, the loss pulse, the
records) follows the update as before.

Folded only where Keras sums the gradients unconditionally in that method (`foldable`): not under
a loss scaler (its update is a conditional), not with gradient accumulation (likewise), not with
sparse or non-float32 gradients (their copy or their concatenation differs). Elsewhere the check
keeps its collective, before the update. If the method is not called after all (an optimizer of
the user's own that updates another way), the check's collective runs right after the update
(`Fold.finish`), so the weight copy, made of values read before it, still holds the old weights.
Every replica traces the same code, so all run the same collectives in the same order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from tb_gradcause.capture.check import Check, SpikeWatch
from tb_gradcause.capture.snapshot import Snapshot


def foldable(optimizer: Any, grads: Sequence, scaled: bool) -> bool:
    """Whether the check of a step whose `optimizer` applies `grads` rides Keras' gradient sum
    (`scaled`: under a loss scaler)."""
    return (
        tf.distribute.get_strategy().num_replicas_in_sync > 1
        and not scaled
        and getattr(optimizer, "_gradcause_reduce", None) is not None  # `hooks.hook_optimizer`
        and not getattr(optimizer, "gradient_accumulation_steps", None)
        and all(g is None or (isinstance(g, tf.Tensor) and g.dtype == tf.float32) for g in grads)
    )


class Fold:
    """One step's check (this replica's, `mine`) waiting for Keras' gradient sum; then
    `before_update(check)` builds, with the global check, the weight copy the update must not
    overwrite first."""

    def __init__(
        self, mine: Check, spikes: SpikeWatch | None, before_update: Callable[[Check], Snapshot | None]
    ) -> None:
        self.mine = mine
        self.spikes = spikes
        self.before_update = before_update
        self.check: Check | None = None  # the global check, once summed
        self.before: Snapshot | None = None

    def reduce(self, reduce: Callable[[Sequence], Sequence], grads_and_vars: Sequence) -> list:
        """Keras' `reduce` of `grads_and_vars`, the check's floats summed with them (the first
        sum of the step only)."""
        if self.check is not None:
            return list(reduce(grads_and_vars))
        *result, (summed, _) = reduce([*grads_and_vars, (self.mine.shared(), None)])
        self._settle(self.mine.joined(summed, self.spikes))
        return result

    def finish(self) -> tuple[Check, Snapshot | None]:
        """The global check and the weight copy, after the update; if Keras never summed the
        gradients in its method, by the check's own collective now."""
        if self.check is None:
            self._settle(self.mine.collected(self.spikes))
        assert self.check is not None
        return self.check, self.before

    def _settle(self, check: Check) -> None:
        self.check = check
        self.before = self.before_update(check)
