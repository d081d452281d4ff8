"""Formatting helpers for event titles, evidence notes and advice."""

from __future__ import annotations

import math
from typing import Sequence


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
    parts: list[str] = []
    ordered = sorted(indices)
    start = prev = None
    for i in ordered + [None]:
        if start is not None and (i is None or i != prev + 1):
            parts.append(str(start) if start == prev else f"{start}–{prev}")
            start = None
        if i is not None and start is None:
            start = i
        prev = i
    return ", ".join(parts)
