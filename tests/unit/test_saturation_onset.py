"""Where `stats.saturated_fraction` starts calling a unit saturated, measured on the activations
themselves: docs/causes.md states these pre-activation onsets and the slope there."""

from __future__ import annotations

import pytest
import tensorflow as tf

from tb_gradcause import stats

# activation: (the function, its slope relative to its largest slope, the onset |x| docs/causes.md states)
DOCUMENTED = {
    "sigmoid": (tf.sigmoid, lambda s: s * (1 - s) / 0.25, 5.29),
    "tanh": (tf.tanh, lambda t: 1 - t**2, 2.65),
}


def onset(name: str, sign: float) -> float:
    """The smallest |x| whose activation counts as saturated (bisection; saturation grows with |x|)."""
    fn = DOCUMENTED[name][0]

    def saturated(x: float) -> bool:
        return float(stats.saturated_fraction(fn(tf.constant([sign * x])), name)) == 1.0

    low, high = 0.0, 10.0
    assert not saturated(low) and saturated(high)
    for _ in range(30):
        mid = (low + high) / 2
        low, high = (low, mid) if saturated(mid) else (mid, high)
    return high


@pytest.mark.parametrize("name", list(DOCUMENTED))
def test_saturation_starts_at_the_documented_pre_activation(name):
    fn, relative_slope, documented = DOCUMENTED[name]
    first = onset(name, 1.0)
    assert abs(first - documented) < 0.01, first
    assert abs(onset(name, -1.0) - first) < 0.01  # both bounds alike
    # the slope there is ~2 % of the activation's largest slope
    assert 0.019 < relative_slope(float(fn(tf.constant(first)))) < 0.021
