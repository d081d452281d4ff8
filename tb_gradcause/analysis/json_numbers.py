"""The one way numbers become JSON: NaN/Inf as TensorBoard writes them, floats rounded for people.

TensorBoard's HTTP responses write NaN/Inf as the strings "NaN"/"Infinity"/"-Infinity"
(`http_util.Respond`); the tab and `tb-gradcause report --json` use the same strings, so one
parser reads both. Floats are rounded to a given number of significant digits: a float32 value
carries ~7.2 (`FLOAT32_DIGITS`, timelines); evidence meant for people keeps 6.
"""

from __future__ import annotations

import math

import numpy as np

FLOAT32_DIGITS = 7
EVIDENCE_DIGITS = 6

NAN, POS_INF, NEG_INF = "NaN", "Infinity", "-Infinity"
_NONFINITE = {NAN: math.nan, POS_INF: math.inf, NEG_INF: -math.inf}


def number(value: object, digits: int) -> object:
    """A JSON-ready scalar: NaN/Inf as strings, a float rounded to `digits`, anything else as is."""
    if isinstance(value, float):
        if math.isnan(value):
            return NAN
        if math.isinf(value):
            return POS_INF if value > 0 else NEG_INF
        return float(f"{value:.{digits}g}")
    return value


def parse(value: float | str) -> float:
    """`number`'s inverse for one number: NaN/Inf strings back to floats."""
    return _NONFINITE[value] if isinstance(value, str) else float(value)


def round_significant(values: np.ndarray, digits: int = FLOAT32_DIGITS) -> np.ndarray:
    """float64 copy of `values` rounded to `digits` significant digits, as `number` rounds one
    value but vectorized (timelines hold millions); NaN/Inf/0 kept."""
    out = np.asarray(values, dtype=np.float64).copy()
    nonzero = np.isfinite(out) & (out != 0)
    shift = digits - 1 - np.floor(np.log10(np.abs(out[nonzero]))).astype(np.int64)
    # With an exact power of ten (<= 1e22) one correctly rounded division or product gives the
    # double nearest to the rounded decimal, which prints as that decimal.
    exact = np.abs(shift) <= 22
    x = out[nonzero]
    up, down = exact & (shift >= 0), exact & (shift < 0)
    x[up] = np.round(x[up] * 10.0 ** shift[up]) / 10.0 ** shift[up]
    x[down] = np.round(x[down] / 10.0 ** -shift[down]) * 10.0 ** -shift[down]
    x[~exact] = [float(f"{v:.{digits}g}") for v in x[~exact].tolist()]
    out[nonzero] = x
    return out


def column(values: np.ndarray, digits: int = FLOAT32_DIGITS) -> list:
    """An array as nested lists: all-integral columns (counts, flags) as ints, others rounded by
    `round_significant`; NaN/Inf as their strings."""
    finite = np.isfinite(values)
    if finite.all():
        if (values == np.round(values)).all() and np.abs(values).max(initial=0) < 2**53:
            return values.astype(np.int64).tolist()
        return round_significant(values, digits).tolist()
    cells = round_significant(values, digits).astype(object)
    cells[np.isnan(values)] = NAN
    cells[np.isposinf(values)] = POS_INF
    cells[np.isneginf(values)] = NEG_INF
    return cells.tolist()
