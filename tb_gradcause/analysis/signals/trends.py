"""Step-window helpers shared by the detectors: persistent spans, baselines and the loss trend."""

from __future__ import annotations

import collections
import dataclasses
import functools
import hashlib
import math
import threading
import warnings

import numpy as np

from tb_gradcause.analysis.causes import Evidence, evidence

# A condition must hold on this fraction of a series' logged samples in a row (bounded below).
PERSIST_FRACTION = 0.1
PERSIST_MIN, PERSIST_MAX = 2, 5
# The run's own early baseline: the first BASELINE_FRACTION of its logged samples (at least 3).
BASELINE_FRACTION = 0.1
BASELINE_MIN = 3
# Loss guards: "not converged" = the loss has not fallen to half its early baseline and is not
# still falling (the last third of the window below 0.9 x its first third).
CONVERGED_PROGRESS = 0.5
STILL_FALLING = 0.9
# Fewer finite losses than this from the span start to the end say nothing about a stall.
TREND_MIN_SAMPLES = 6
# "Rising": the smoothed loss sits RISE_FACTOR x above its best so far, by at least
# RISE_MIN_OF_BASELINE of its early level (small noisy losses near 0 do not count).
RISE_FACTOR = 2.0
RISE_MIN_OF_BASELINE = 0.25
# The loss is smoothed by a trailing rolling median over 10 % of its samples (5 to 100): one
# noisy minibatch, or a lucky one setting the "best so far", moves nothing.
SMOOTH_FRACTION = 0.1
SMOOTH_MIN, SMOOTH_MAX = 5, 100
# A run's typical level (a median over steps) is estimated from this many evenly spaced samples.
TYPICAL_SAMPLES = 1024


def nanmedian(values: np.ndarray, axis: int | None = None) -> np.ndarray:
    """`np.nanmedian` without the all-NaN warning (all-NaN slices give NaN)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(values, axis=axis)


def row_median(values: np.ndarray) -> np.ndarray:
    """Median of each row of a 2-D array ignoring NaN (NaN for all-NaN rows), by one sort."""
    ordered = np.sort(np.asarray(values, dtype=np.float64), axis=1)  # NaN sort last
    if ordered.shape[1] == 0:
        return np.full(len(ordered), np.nan)
    count = np.sum(~np.isnan(ordered), axis=1)
    rows = np.arange(len(ordered))
    low = ordered[rows, np.maximum((count - 1) // 2, 0)]
    high = ordered[rows, np.maximum(count // 2, 0)]
    return np.where(count > 0, (low + high) / 2, np.nan)


def persistence(n_samples: int) -> int:
    """Consecutive logged samples a condition must hold before a detector fires."""
    if n_samples < PERSIST_MIN:
        return 1
    return int(min(PERSIST_MAX, max(PERSIST_MIN, math.ceil(PERSIST_FRACTION * n_samples))))


def true_runs(mask: np.ndarray) -> np.ndarray:
    """Maximal runs of True down axis 0 of a [S] or [S, C] mask, as int [n, 3] rows of
    (column, start, end) with inclusive indices, ordered by column then start."""
    mask = np.asarray(mask, dtype=bool)
    grid = mask[:, None] if mask.ndim == 1 else mask
    padded = np.zeros((grid.shape[1], grid.shape[0] + 2), dtype=np.int8)  # [C, S+2], one column per row
    padded[:, 1:-1] = grid.T
    edges = np.diff(padded, axis=1).ravel()  # [C * (S+1)]: +1 where a run starts, -1 after it ends
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    width = grid.shape[0] + 1
    return np.stack([starts // width, starts % width, ends % width - 1], axis=1)


def persistent_spans(mask: np.ndarray, min_len: int, terminal_ok: bool = False) -> list[tuple[int, int, int]]:
    """(column, start, end) of the runs of True down axis 0 at least `min_len` long; with
    `terminal_ok` a run touching the last sample also counts (the series stops there because
    training died). A 1-D mask has the single column 0."""
    runs = true_runs(mask)
    keep = (runs[:, 2] - runs[:, 1] + 1 >= min_len) | (terminal_ok & (runs[:, 2] == len(mask) - 1))
    return [(int(c), int(a), int(b)) for c, a, b in runs[keep]]


def baseline_count(n_samples: int) -> int:
    """How many leading samples form the run's early baseline."""
    return max(BASELINE_MIN, math.ceil(BASELINE_FRACTION * n_samples))


def baseline(values: np.ndarray) -> np.ndarray:
    """Median over the first finite samples along axis 0 ([S, ...] -> [...]); NaN where none."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return np.full(values.shape[1:], np.nan)
    count = baseline_count(len(values))
    if np.isfinite(values[:count]).all():
        return np.median(values[:count], axis=0)
    finite = np.isfinite(values)
    # The shortest prefix holding `count` finite samples in every column (usually just `count`).
    enough = np.flatnonzero(np.all(np.cumsum(finite, axis=0) >= count, axis=tuple(range(1, values.ndim))))
    prefix = int(enough[0]) + 1 if len(enough) else len(values)
    head, ok = values[:prefix], finite[:prefix]
    keep = ok & (np.cumsum(ok, axis=0) <= count)
    return nanmedian(np.where(keep, head, np.nan), axis=0)


def typical(values: np.ndarray) -> np.ndarray:
    """Median along axis 0, ignoring NaN, estimated from at most TYPICAL_SAMPLES evenly spaced samples."""
    values = np.asarray(values)
    if len(values) > TYPICAL_SAMPLES:
        values = values[np.linspace(0, len(values) - 1, TYPICAL_SAMPLES).astype(np.int64)]
    return nanmedian(values.astype(np.float64, copy=False), axis=0)


def smoothing_window(n_samples: int) -> int:
    """Samples in the loss's rolling median."""
    return int(min(SMOOTH_MAX, max(SMOOTH_MIN, math.ceil(SMOOTH_FRACTION * n_samples))))


def rolling_median(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing rolling median of a 1-D array (shorter windows at the start)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return values
    window = max(1, min(window, len(values)))
    padded = np.concatenate((np.full(window - 1, np.nan), values))
    return row_median(np.lib.stride_tricks.sliding_window_view(padded, window))


# The last few losses smoothed, by a digest of their values and window (a run's detectors share one).
_SMOOTHED: collections.OrderedDict[bytes, np.ndarray] = collections.OrderedDict()
_SMOOTHED_SIZE = 4
_SMOOTHED_LOCK = threading.Lock()


def _smoothed(values: np.ndarray, window: int) -> np.ndarray:
    """`rolling_median(values, window)`, read-only, computed once for the same values and window."""
    key = hashlib.blake2b(values.tobytes(), digest_size=20, person=str(window).encode()[:16]).digest()
    with _SMOOTHED_LOCK:
        hit = _SMOOTHED.get(key)
    if hit is not None:
        return hit
    result = rolling_median(values, window)
    result.flags.writeable = False
    with _SMOOTHED_LOCK:
        _SMOOTHED[key] = result
        while len(_SMOOTHED) > _SMOOTHED_SIZE:
            _SMOOTHED.popitem(last=False)
    return result


@dataclasses.dataclass(frozen=True)
class LossTrend:
    """The run's loss over steps, for the detectors' false-alarm guards."""

    steps: np.ndarray  # int64 [S]
    values: np.ndarray  # float64 [S], may hold NaN/Inf

    @classmethod
    def from_run(cls, run) -> LossTrend | None:
        """The trend of the run's `loss` series, or None when the loss was not logged."""
        series = run.get("loss")
        if series is None or len(series.steps) == 0 or not series.has("value"):
            return None
        return cls(np.asarray(series.steps), series.stat("value")[:, 0].astype(np.float64))

    @property
    def first_nonfinite_step(self) -> int | None:
        """First step whose loss is NaN or Inf."""
        bad = np.flatnonzero(~np.isfinite(self.values))
        return int(self.steps[bad[0]]) if len(bad) else None

    @property
    def baseline(self) -> float:
        """Median of the first finite losses of the run."""
        return float(baseline(self.values))

    @property
    def start_level(self) -> float:
        """The loss's level before anything could happen: the smaller of `baseline` and the median of
        its first BASELINE_MIN finite values (a loss exploding from step 1 inflates the baseline)."""
        finite = self.values[np.isfinite(self.values)][:BASELINE_MIN]
        if not len(finite):
            return math.nan
        return float(min(abs(self.baseline), abs(np.median(finite))))

    def _window(self, first_step: int, last_step: int) -> np.ndarray:
        sel = (self.steps >= first_step) & (self.steps <= last_step) & np.isfinite(self.values)
        return self.values[sel]

    def progress(self, first_step: int, last_step: int) -> float:
        """Fraction of the early loss removed by the end of the window (NaN when not measurable)."""
        window = self._window(first_step, last_step)
        base = self.baseline
        if len(window) == 0 or not np.isfinite(base) or base <= 0:
            return math.nan
        tail = window[len(window) // 2 :]
        return float(1.0 - np.median(tail) / base)

    def still_falling(self, first_step: int, last_step: int) -> bool:
        """The last third of the window's losses sits clearly below its first third."""
        window = self._window(first_step, last_step)
        if len(window) < 6:
            return False
        third = len(window) // 3
        head, tail = np.median(window[:third]), np.median(window[-third:])
        return bool(head > 0 and tail < STILL_FALLING * head)

    @property
    def last_step(self) -> int:
        return int(self.steps[-1])

    def stalled(self, first_step: int) -> bool:
        """Not converged: from `first_step` to the end of the run the loss neither reached half its
        early level nor kept falling (a plateau the run later leaves is not a stall).

        Unmeasurable losses (fewer than TREND_MIN_SAMPLES, a non-positive baseline) count as not
        stalled, so a guard never turns a weak signal into an alarm on missing data."""
        progress = self.progress(first_step, self.last_step)
        if not np.isfinite(progress) or len(self._window(first_step, self.last_step)) < TREND_MIN_SAMPLES:
            return False
        return progress < CONVERGED_PROGRESS and not self.still_falling(first_step, self.last_step)

    @functools.cached_property
    def smooth(self) -> np.ndarray:
        """The loss under a trailing rolling median ignoring NaN/Inf (read-only), computed once per
        run: on a million steps it is the costliest array the detectors share (~1.5 s), and each
        detector builds its own `LossTrend`, so the result is also kept by content (`_smoothed`)."""
        finite = np.isfinite(self.values)
        return _smoothed(np.where(finite, self.values, np.nan), smoothing_window(len(self.values)))

    def smooth_until(self, n: int) -> np.ndarray:
        """The first `n` losses smoothed as if the run ended there (the window of `n` samples)."""
        window = smoothing_window(n)
        if window == smoothing_window(len(self.values)):
            return self.smooth[:n]  # a trailing window never reaches past n
        head = self.values[:n]
        return rolling_median(np.where(np.isfinite(head), head, np.nan), window)

    def rise(self) -> np.ndarray:
        """Per step: smoothed loss over its best smoothed value so far (1 = at its best).

        NaN where the rise is below RISE_MIN_OF_BASELINE of the early loss (not significant)."""
        smooth = self.smooth
        best = np.fmin.accumulate(smooth)
        with np.errstate(all="ignore"):
            ratio = smooth / best
            significant = (smooth - best) >= RISE_MIN_OF_BASELINE * self.start_level
        return np.where(significant & (best > 0), ratio, np.where(np.isfinite(smooth), 1.0, np.nan))


def loss_trouble(
    trend: LossTrend | None, first_step: int, last_step: int, death_counts: bool = True
) -> Evidence | None:
    """Evidence that training is in trouble around [first_step, last_step], or None when it is fine.

    Trouble: the loss turns NaN/Inf at or after the window start (unless `death_counts` is False:
    for a cause that cannot produce NaN/Inf), rises RISE_FACTOR x above its best inside the
    window, or has stalled since the window start (`LossTrend.stalled`, judged on the finite
    losses). Without a loss: None.
    """
    if trend is None:
        return None
    dies = trend.first_nonfinite_step
    if death_counts and dies is not None and dies >= first_step:
        return evidence("loss_nonfinite_step", dies, first_step, ">=", dies, "at or after this problem's first step")
    inside = (trend.steps >= first_step) & (trend.steps <= last_step)
    rise = np.where(inside, trend.rise(), np.nan)
    if np.any(rise >= RISE_FACTOR):
        i = int(np.nanargmax(rise))
        return evidence("loss_rise", rise[i], RISE_FACTOR, ">=", int(trend.steps[i]))
    if trend.stalled(first_step):
        return evidence(
            "loss_progress",
            trend.progress(first_step, trend.last_step),
            CONVERGED_PROGRESS,
            "<",
            trend.last_step,
            "by the end of the run, and no longer falling: not converged",
        )
    return None
