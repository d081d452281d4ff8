"""The `timeline` route's payload: one kind of one run as columnar JSON, decimated to a point budget.

Decimation splits the step axis into equal-width buckets and keeps, per bucket and per column
(row x stat), the bucket's minimum and maximum at the bucket's first and last step: the minimum
first where the column ends the bucket at least as high as it began, else the maximum first (a
column monotonic within a bucket is kept exactly at those steps). Every step holding a NaN/Inf
value, or a non-zero `nan`/`inf` count, is kept as it is, and so is every step a cause names (its
first and last step, the steps its evidence cites): dense where it matters, however long the run.

Stats that describe a tensor holding NaN/Inf only by a convention (over its finite elements, see
docs/stats.md) are sent as NaN for a row whose `nan`/`inf` count is positive at that step: the L2
norm of a tensor's finite part is not the tensor's norm (a NaN gradient's finite part is often
empty: norm 0), and a chart would draw it as that step's value. The counts stay, so the tab still
tells NaN from Inf. The mask is applied here, once, rather than in the tab: the stats' definitions
live on this side, and it covers every kind, chart and consumer of the route alike. Detectors
read the series unmasked.
"""

from __future__ import annotations

import dataclasses
import json
import struct
from collections.abc import Sequence

import numpy as np

from tb_gradcause.analysis import json_numbers
from tb_gradcause.analysis.causes import RunDiagnosis
from tb_gradcause.analysis.reader import Series
from tb_gradcause.rows import RowInfo

# Stats that describe a row with NaN/Inf elements only by a convention: over the finite elements
# (or, `update_ratio`, over such a stat), or fractions counting a NaN unit as dead and a NaN element
# as not saturated (an all-NaN output would read "100 % dead", "0 % saturated").
MASKED_WHEN_NONFINITE = frozenset(
    (
        "l2",
        "mean",
        "std",
        "min",
        "max",
        "max_abs",
        "batch_std",
        "dead_frac",
        "saturated_frac",
        "norm",
        "update_ratio",
        "max_abs_z",
    )
)


def mask_nonfinite_rows(values: np.ndarray, stats: Sequence[str]) -> np.ndarray:
    """`values` [S, R, K] with `MASKED_WHEN_NONFINITE` set to NaN where the row's `nan`/`inf` count is positive.

    Returns `values` itself when nothing is masked (the reader's arrays are shared: never written).
    """
    counts = [stats.index(name) for name in ("nan", "inf") if name in stats]
    masked = [k for k, name in enumerate(stats) if name in MASKED_WHEN_NONFINITE]
    if not counts or not masked:
        return values
    bad = (values[:, :, counts] > 0).any(axis=2)  # [S, R]
    if not bad.any():
        return values
    out = values.copy()
    for k in masked:
        out[:, :, k][bad] = np.nan
    return out


def nonfinite_steps(values: np.ndarray, stats: Sequence[str]) -> np.ndarray:
    """Bool [S]: steps with a NaN/Inf value or a positive `nan`/`inf` count in any row."""
    bad = ~np.isfinite(values).all(axis=(1, 2))
    for name in ("nan", "inf"):
        if name in stats:
            bad |= (values[:, :, stats.index(name)] > 0).any(axis=1)
    return bad


def cause_steps(diagnosis: RunDiagnosis) -> list[int]:
    """The steps a run's causes name: each one's first and last step and the steps its evidence cites."""
    named = {step for cause in diagnosis.causes for step in (cause.first_step, cause.last_step)}
    named.update(item.step for cause in diagnosis.causes for item in cause.evidence if item.step is not None)
    return sorted(named)


def bucket_extremes(values: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The minimum and maximum over axis 0 of `values` within each bucket `starts[i]..ends[i]` (inclusive).

    Buckets of similar lengths (evenly spaced steps: the usual case) are folded one offset into the
    buckets at a time, ~9x faster than `reduceat`, which walks the buckets one by one (0.6 s for a
    200-layer run's gradients); skewed ones, where that would visit far more than every row twice,
    use `reduceat`.
    """
    longest = int((ends - starts).max()) + 1
    if len(starts) * longest > 2 * len(values):
        return np.minimum.reduceat(values, starts, axis=0), np.maximum.reduceat(values, starts, axis=0)
    low = values[starts]
    high = low.copy()
    for offset in range(1, longest):
        rows = values[np.minimum(starts + offset, ends)]
        np.minimum(low, rows, out=low)
        np.maximum(high, rows, out=high)
    return low, high


def decimate(steps: np.ndarray, values: np.ndarray, bad: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Reduce `steps` [S] / `values` [S, R, K] to about `max_points` steps (see module docstring).

    The result holds every `bad` step (non-finite or named by a cause) plus at most two steps per
    bucket, with `max(1, (max_points - bad.sum()) // 2)` buckets, so at most `max_points` steps
    unless there are that many bad steps.
    """
    if len(steps) <= max_points:
        return steps, values
    good = np.flatnonzero(~bad)
    kept_steps = [steps[bad]]
    kept_values = [values[bad]]
    if len(good):
        buckets = max(1, (max_points - int(bad.sum())) // 2)
        good_steps = steps[good]
        good_values = values if len(good) == len(steps) else values[good]
        span = int(good_steps[-1] - good_steps[0]) + 1
        bucket = (good_steps - good_steps[0]) * buckets // span
        starts = np.concatenate(([0], np.flatnonzero(np.diff(bucket)) + 1))
        ends = np.append(starts[1:], len(good)) - 1
        low, high = bucket_extremes(good_values, starts, ends)
        rising = good_values[ends] >= good_values[starts]
        several = ends > starts  # a one-step bucket keeps just that step
        kept_steps += [good_steps[starts], good_steps[ends[several]]]
        kept_values += [np.where(rising, low, high), np.where(rising, high, low)[several]]
    out_steps = np.concatenate(kept_steps)
    order = np.argsort(out_steps, kind="stable")
    return out_steps[order], np.concatenate(kept_values)[order]


def json_columns(values: np.ndarray) -> list:
    """`values` [K, ...] as nested lists, one per stat, each a `json_numbers.column`."""
    return [json_numbers.column(stat) for stat in values]


@dataclasses.dataclass(frozen=True)
class TimelineContent:
    """The `timeline` route's content before encoding: `values[k, r, i]` is stat `stats[k]` of row
    `rows[r]` at `steps[i]` (masked and decimated)."""

    run: str
    kind: str
    steps: np.ndarray  # int64 [S]
    rows: tuple[RowInfo, ...]
    stats: tuple[str, ...]
    values: np.ndarray  # float32 [K, R, S]

    def header(self) -> dict:
        return {
            "run": self.run,
            "kind": self.kind,
            "rows": [row.to_json() for row in self.rows],
            "stats": list(self.stats),
        }


def timeline_content(
    run: str,
    series: Series,
    max_points: int | None = None,
    stats: Sequence[str] | None = None,
    keep_steps: Sequence[int] = (),
) -> TimelineContent:
    """A reader `Series` (optionally only some `stats`) masked, and decimated to `max_points`
    keeping every non-finite step and every step of `keep_steps`."""
    all_stats = tuple(series.stats)
    chosen = tuple(stats) if stats else all_stats
    steps = series.steps
    values = mask_nonfinite_rows(series.values, all_stats)[:, :, [all_stats.index(name) for name in chosen]]
    if max_points is not None:
        bad = nonfinite_steps(series.values, all_stats) | np.isin(steps, keep_steps)
        steps, values = decimate(steps, values, bad, max_points)
    return TimelineContent(
        run, series.kind, np.asarray(steps, np.int64), series.rows, chosen, np.transpose(values, (2, 1, 0))
    )


def timeline_json(content: TimelineContent) -> str:
    """The `timeline` route's JSON text: NaN/Inf as strings, values rounded to 7 significant digits."""
    payload = {
        **content.header(),
        "steps": content.steps.tolist(),
        "values": dict(zip(content.stats, json_columns(content.values))),
    }
    return json.dumps(payload, allow_nan=False, separators=(",", ":"))


def timeline_binary(content: TimelineContent) -> bytes:
    """The `timeline` route's binary body (`format=binary`), for the tab: the floats as logged, in
    the layout a browser reads into typed arrays without parsing.

    uint32 LE header length H; H bytes of JSON header (run, kind, rows, stats, `n_steps`), padded
    with spaces to a multiple of 8 bytes with the length word; float64 LE steps [S]; float32 LE
    values [K][R][S], NaN/Inf as IEEE values. Encoding a 200-layer run's 3 million floats as JSON
    took ~5 s of the tab's cold open; this is a copy.
    """
    header = {**content.header(), "n_steps": len(content.steps)}
    header_bytes = json.dumps(header, allow_nan=False, separators=(",", ":")).encode()
    header_bytes += b" " * (-(4 + len(header_bytes)) % 8)
    return b"".join(
        (
            struct.pack("<I", len(header_bytes)),
            header_bytes,
            content.steps.astype("<f8").tobytes(),
            np.ascontiguousarray(content.values, dtype="<f4").tobytes(),
        )
    )
