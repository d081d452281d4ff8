"""The one JSON encoding of numbers, shared by causes, timelines and the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from tb_gradcause.analysis import json_numbers


def test_rounding_keeps_seven_significant_digits_and_short_text():
    x = np.array([0.1, 1 / 3, 123456789, 1e-30, 3.4e38, -2.5e-7, 0, 1e-45], np.float32)
    rounded = json_numbers.round_significant(x)
    np.testing.assert_allclose(rounded, x.astype(np.float64), rtol=5e-7)
    assert max(len(repr(v)) for v in rounded.tolist()) <= 13


@pytest.mark.parametrize("digits", [json_numbers.EVIDENCE_DIGITS, json_numbers.FLOAT32_DIGITS])
def test_one_value_and_a_column_round_alike(digits):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(2000) * 10.0 ** rng.integers(-40, 40, 2000)
    assert json_numbers.column(x, digits) == [json_numbers.number(v, digits) for v in x.tolist()]


def test_nonfinite_values_are_tensorboards_strings():
    values = [float("nan"), float("inf"), -float("inf")]
    assert [json_numbers.number(v, 6) for v in values] == ["NaN", "Infinity", "-Infinity"]
    assert json_numbers.column(np.array([1.5, *values])) == [1.5, "NaN", "Infinity", "-Infinity"]
    assert json_numbers.column(np.array([3.0, 0.0])) == [3, 0]  # integral columns as ints
    assert json_numbers.number(7, 6) == 7 and json_numbers.number(None, 6) is None
