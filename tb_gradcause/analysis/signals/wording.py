"""Formatting helpers for event titles, evidence notes and advice."""

from __future__ import annotations

import math
from collections.abc import Sequence


def num(value: float) -> str:
    """A number for people: 3 significant digits, scientific when very large or small."""
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) >= 1e4 or abs(value) < 1e-2):
        return f"{value:.2g}"
    return f"{value:.3g}"


def names(items: Sequence[str], limit: int = 6) -> str:
    """'a, b, c' with an ellipsis beyond `limit` items."""
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def index_ranges(indices: Sequence[int]) -> str:
    """[0, 1, 2, 5, 7, 8] -> '0–2, 5, 7–8'."""
    runs: list[list[int]] = []  # [first, last] of each run of consecutive indices
    for i in sorted(indices):
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in runs)
