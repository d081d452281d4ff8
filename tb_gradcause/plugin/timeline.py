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


def masked_columns(series: Series, stats: Sequence[str]) -> list[np.ndarray]:
    """The [S, R] columns of `stats`, with `MASKED_WHEN_NONFINITE` stats set to NaN where the row's
    `nan`/`inf` count is positive: views of the reader's stat-major arrays (never written), copies
    only where something is masked."""
    counts = [series.stat(name) > 0 for name in ("nan", "inf") if series.has(name)]
    bad = np.logical_or.reduce(counts) if counts else None  # [S, R]
    if bad is not None and not bad.any():
        bad = None
    columns = []
    for name in stats:
        column = series.stat(name)
        if bad is not None and name in MASKED_WHEN_NONFINITE:
            column = np.where(bad, np.float32(np.nan), column)
        columns.append(column)
    return columns


def nonfinite_steps(values: np.ndarray, stats: Sequence[str]) -> np.ndarray:
    """Bool [S]: steps with a NaN/Inf value or a positive `nan`/`inf` count in any row of `values` [S, R, K]."""
    bad = np.zeros(len(values), bool)
    for k, name in enumerate(stats):
        column = values[:, :, k]
        bad |= ~np.isfinite(column).all(axis=1)
        if name in ("nan", "inf"):
            bad |= (column > 0).any(axis=1)
    return bad


def cause_steps(diagnosis: RunDiagnosis) -> list[int]:
    """The steps a run's causes name: each one's first and last step and the steps its evidence cites."""
    named = {step for cause in diagnosis.causes for step in (cause.first_step, cause.last_step)}
    named.update(item.step for cause in diagnosis.causes for item in cause.evidence if item.step is not None)
    return sorted(named)


def bucket_extremes(
    values: np.ndarray, starts: np.ndarray, ends: np.ndarray, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The minimum and maximum over axis 0 within each bucket `starts[i]..ends[i]` (inclusive) of
    `values`, or of `values[rows]` (taken row by row as needed rather than copied whole).

    Buckets of similar lengths (evenly spaced steps: the usual case) are folded one offset into the
    buckets at a time, ~9x faster than `reduceat`, which walks the buckets one by one (0.6 s for a
    200-layer run's gradients); skewed ones, where that would visit far more than every row twice,
    use `reduceat`.
    """
    at = np.arange(len(values)) if rows is None else rows
    longest = int((ends - starts).max()) + 1
    if len(starts) * longest > 2 * len(at):
        chosen = values if rows is None else values[rows]
        return np.minimum.reduceat(chosen, starts, axis=0), np.maximum.reduceat(chosen, starts, axis=0)
    low = values[at[starts]]
    high = low.copy()
    for offset in range(1, longest):
        taken = values[at[np.minimum(starts + offset, ends)]]
        np.minimum(low, taken, out=low)
        np.maximum(high, taken, out=high)
    return low, high


def decimate(
    steps: np.ndarray, columns: Sequence[np.ndarray], bad: np.ndarray, max_points: int
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Reduce `steps` [S] and each of `columns` [S, ...] to about `max_points` steps (see module docstring).

    The result holds every `bad` step (non-finite or named by a cause) plus at most two steps per
    bucket, with `max(1, (max_points - bad.sum()) // 2)` buckets, so at most `max_points` steps
    unless there are that many bad steps. The steps kept are found once, then each column's values
    are taken (a stat's contiguous [S, R] block: gathering steps of an [S, R, K] array strides
    across all of it, 3x slower).
    """
    if len(steps) <= max_points:
        return steps, list(columns)
    good = np.flatnonzero(~bad)
    taken = np.flatnonzero(bad)
    sources = [steps[taken]]
    starts = ends = several = np.zeros(0, np.int64)
    if len(good):
        buckets = max(1, (max_points - len(taken)) // 2)
        good_steps = steps[good]
        span = int(good_steps[-1] - good_steps[0]) + 1
        bucket = (good_steps - good_steps[0]) * buckets // span
        starts = np.concatenate(([0], np.flatnonzero(np.diff(bucket)) + 1))
        ends = np.append(starts[1:], len(good)) - 1
        several = np.flatnonzero(ends > starts)  # a one-step bucket keeps just that step
        sources += [good_steps[starts], good_steps[ends[several]]]
    out_steps = np.concatenate(sources)
    order = np.argsort(out_steps, kind="stable")
    place = np.empty_like(order)
    place[order] = np.arange(len(order))
    at_bad, at_first, at_last = np.split(place, np.cumsum([len(taken), len(starts)]))
    out_columns = []
    for column in columns:
        out = np.empty((len(out_steps), *column.shape[1:]), column.dtype)
        out[at_bad] = column[taken]
        if len(good):
            low, high = bucket_extremes(column, starts, ends, good)
            rising = column[good[ends]] >= column[good[starts]]
            out[at_first] = np.where(rising, low, high)
            out[at_last] = np.where(rising, high, low)[several]
        out_columns.append(out)
    return out_steps[order], out_columns


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
    chosen = tuple(stats) if stats else tuple(series.stats)
    steps = series.steps
    columns = masked_columns(series, chosen)
    if max_points is not None and len(steps) > max_points:
        bad = nonfinite_steps(series.values, series.stats) | np.isin(steps, keep_steps)
        steps, columns = decimate(steps, columns, bad, max_points)
    values = np.empty((len(chosen), len(series.rows), len(steps)), np.float32)
    for out, column in zip(values, columns):
        out[...] = column.T
    return TimelineContent(run, series.kind, np.asarray(steps, np.int64), series.rows, chosen, values)


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

    uint32 LE header length H; H bytes of JSON header (run, kind, rows, stats, `n_steps`,
    `zero_rows`), padded with spaces to a multiple of 8 bytes with the length word; float64 LE steps
    [S]; float32 LE values [K][R][S], NaN/Inf as IEEE values, without the rows whose values are all
    +0.0: `zero_rows[k]` lists those of stat k. Encoding a 200-layer run's 3 million floats as JSON
    took ~5 s of the tab's cold open; this is a copy, and leaving out the zero rows (most count
    columns: no NaN, no Inf, nothing missing) halves what is then compressed and sent.
    """
    shape = (len(content.stats), len(content.rows))
    values = np.ascontiguousarray(content.values, dtype="<f4").reshape(shape[0] * shape[1], len(content.steps))
    zero = ~values.view(np.uint32).any(axis=1)  # bit for bit: -0.0 and NaN are sent
    zero_rows = zero.reshape(shape)
    header = {
        **content.header(),
        "n_steps": len(content.steps),
        "zero_rows": [np.flatnonzero(rows).tolist() for rows in zero_rows],
    }
    header_bytes = json.dumps(header, allow_nan=False, separators=(",", ":")).encode()
    header_bytes += b" " * (-(4 + len(header_bytes)) % 8)
    return b"".join(
        (
            struct.pack("<I", len(header_bytes)),
            header_bytes,
            content.steps.astype("<f8").tobytes(),
            values[~zero].tobytes(),
        )
    )
