"""The `tf.distribute` strategies the callback logs under, and the warning for the others.

The capture runs inside Keras' synchronous replicated step: every replica takes the same step, the
NaN check is all-reduced across replicas and replica 0 of the chief writes (`replicas`, `writer`).
That holds, and is tested, without a strategy and under OneDevice, Mirrored and MultiWorkerMirrored
strategies. Under any other (ParameterServerStrategy's workers step on their own, TPUStrategy
compiles the step for the TPU, ...) the callback logs nothing and says so once: training goes on
unchanged.
"""

from __future__ import annotations

import tensorflow as tf

SUPPORTED = (tf.distribute.OneDeviceStrategy, tf.distribute.MirroredStrategy, tf.distribute.MultiWorkerMirroredStrategy)


def unsupported(strategy: tf.distribute.Strategy) -> str | None:
    """None if the callback logs under `strategy` (a model's `distribute_strategy`), else the warning."""
    # The default strategy (no strategy) is the one `get_strategy` returns outside every scope.
    default = not tf.distribute.has_strategy() and strategy is tf.distribute.get_strategy()
    if default or isinstance(strategy, SUPPORTED):
        return None
    return (
        f"tb_gradcause: logging disabled, training continues unchanged: {type(strategy).__name__} is not "
        "supported (supported: no strategy, OneDeviceStrategy, MirroredStrategy, MultiWorkerMirroredStrategy)"
    )
