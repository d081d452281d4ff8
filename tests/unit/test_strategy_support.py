"""Which strategies the callback logs under (`capture.strategy_support`).

TPUStrategy cannot be built without a TPU: an instance made without its constructor stands for one
(the detection only looks at the class). ParameterServerStrategy is tested for real, with the
callback, in tests/training/test_strategies_unsupported.py.
"""

from __future__ import annotations

import pytest
import tensorflow as tf

from tb_gradcause.capture.strategy_support import unsupported


def test_no_strategy_and_the_synchronous_ones_are_supported():
    assert unsupported(tf.distribute.get_strategy()) is None
    assert unsupported(tf.distribute.OneDeviceStrategy("/cpu:0")) is None
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0"])
    assert unsupported(mirrored) is None
    with mirrored.scope():  # fit inside a scope (README's multi-worker way): the model's strategy is the scope's
        assert unsupported(mirrored) is None
        assert unsupported(tf.distribute.get_strategy()) is None


@pytest.mark.parametrize("cls", [tf.distribute.TPUStrategy, tf.distribute.experimental.TPUStrategy])
def test_tpu_strategy_is_named_in_the_warning(cls):
    message = unsupported(object.__new__(cls))
    assert message is not None
    assert message.startswith("tb_gradcause: logging disabled, training continues unchanged: ")
    assert f"{cls.__name__} is not supported" in message
