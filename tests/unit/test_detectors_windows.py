"""Shared step-window helpers: runs, persistence, baselines, the loss trend."""

from __future__ import annotations

import numpy as np

from tb_gradcause.analysis.signals import trends


def test_true_runs_per_column_with_inclusive_ends():
    mask = np.array([[1, 0], [1, 1], [0, 1], [1, 1]], dtype=bool)
    assert trends.true_runs(mask).tolist() == [[0, 0, 1], [0, 3, 3], [1, 1, 3]]
    assert trends.true_runs(np.array([0, 1, 1, 0, 1], dtype=bool)).tolist() == [[0, 1, 2], [0, 4, 4]]
    assert trends.true_runs(np.zeros((0, 3), dtype=bool)).shape == (0, 3)


def test_persistent_spans_keep_long_runs_and_terminal_ones_when_asked():
    mask = np.array([1, 1, 1, 0, 1, 0, 1], dtype=bool)
    assert trends.persistent_spans(mask, 3) == [(0, 0, 2)]
    assert trends.persistent_spans(mask, 3, terminal_ok=True) == [(0, 0, 2), (0, 6, 6)]


def test_persistence_scales_with_the_series_and_is_bounded():
    assert [trends.persistence(n) for n in (1, 2, 10, 30, 1000)] == [1, 2, 2, 3, 5]


def test_baseline_is_the_median_of_the_first_finite_samples():
    values = np.array([[np.nan, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 100.0], [8.0, 100.0]])
    assert trends.baseline(values).tolist() == [4.0, 3.0]
    assert np.isnan(trends.baseline(np.zeros((0, 2)))).all()


def test_row_median_ignores_nan():
    values = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan], [5.0, 1.0, 2.0]])
    result = trends.row_median(values)
    assert result[0] == 2.0 and np.isnan(result[1]) and result[2] == 2.0


def _trend(values) -> trends.LossTrend:
    values = np.asarray(values, dtype=np.float64)
    return trends.LossTrend(np.arange(len(values)), values)


def test_stalled_versus_converged_versus_still_falling():
    flat = _trend(np.full(100, 0.69))
    assert flat.stalled(0) and trends.loss_trouble(flat, 0, 99).metric == "loss_progress"
    converged = _trend(np.r_[np.linspace(2.3, 0.2, 50), np.full(50, 0.2)])
    assert not converged.stalled(0) and trends.loss_trouble(converged, 0, 99) is None
    slow_start = _trend(np.r_[np.full(50, 0.69), np.linspace(0.69, 0.45, 50)])
    assert not slow_start.stalled(0)  # the plateau is left later: no stall
    assert not _trend([0.7, 0.7, 0.7]).stalled(0)  # too few losses to tell


def test_rise_needs_a_lasting_and_significant_increase():
    rising = _trend(np.r_[np.linspace(1.0, 0.5, 50), np.full(50, 3.0)])
    assert trends.loss_trouble(rising, 40, 99).metric == "loss_rise"
    spike = _trend(np.r_[np.linspace(1.0, 0.5, 50), [30.0], np.linspace(0.5, 0.3, 49)])
    assert trends.loss_trouble(spike, 40, 99) is None


def test_a_non_finite_loss_is_trouble_from_the_span_start_on():
    trend = _trend(np.r_[np.linspace(1.0, 0.5, 50), [np.nan] * 5])
    assert trends.loss_trouble(trend, 10, 20).metric == "loss_nonfinite_step"
    assert trend.first_nonfinite_step == 50


def test_smooth_until_is_the_prefix_smoothed_on_its_own():
    """The shared smoothed loss, cut at n, equals smoothing the first n losses alone (the window
    of n samples), whether or not n changes the window."""
    rng = np.random.default_rng(1)
    for size, n in ((40, 26), (500, 333), (1200, 800), (5000, 3333), (5000, 5000)):
        values = np.abs(rng.normal(size=size)) + 1
        trend = trends.LossTrend(np.arange(size), values)
        own = trends.rolling_median(values[:n], trends.smoothing_window(n))
        np.testing.assert_array_equal(trend.smooth_until(n), own)


def test_the_smoothed_loss_is_computed_once_per_run_whatever_the_detectors_trends(monkeypatch):
    """Each detector builds its own LossTrend; the rolling median (~1.5 s on a million steps) runs
    once for the same losses, and again for other losses (also the same array changed in place)."""
    calls = []
    real = trends.rolling_median
    monkeypatch.setattr(trends, "rolling_median", lambda values, window: calls.append(window) or real(values, window))
    values = np.abs(np.random.default_rng(2).normal(size=300)) + 1
    first = trends.LossTrend(np.arange(300), values).smooth
    again = trends.LossTrend(np.arange(300), values.copy()).smooth
    assert len(calls) == 1 and again is first and not first.flags.writeable
    np.testing.assert_array_equal(first, real(values, trends.smoothing_window(300)))
    values[7] = 50.0
    changed = trends.LossTrend(np.arange(300), values).smooth
    assert len(calls) == 2 and changed[7] != first[7]
