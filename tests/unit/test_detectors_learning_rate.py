"""learning_rate_too_high: large updates with a rising, diverging or stuck loss."""

from __future__ import annotations

import numpy as np

from tests.support import synth_runs as sr


def _update_ratio(data, ratio: float, from_step: int = 0) -> None:
    kd = data["weights"]
    sel = sr.at(kd, from_step)
    kd.stat("update_ratio")[sel] = ratio
    kd.stat("update_norm")[sel] = ratio * kd.stat("norm")[sel]


def _lr(data, value: float) -> None:
    data["loss"].stat("learning_rate")[:] = value


def test_large_updates_and_a_rising_loss():
    data = sr.healthy()
    _lr(data, 0.5)
    _update_ratio(data, 0.4)
    loss = data["loss"]
    loss.stat("value")[sr.at(loss, 100), 0] *= 4
    [event] = sr.events(data, "learning_rate_too_high")
    assert (event["layer"], event["severity"]) == (None, "warning")
    assert 100 <= event["first_step"] <= 120 and "0.5" in event["title"]
    assert "to about 0.00125 (from 0.5" in event["advice"]  # the rate that brings the 0.4 update ratio to 1e-3


def test_a_rising_loss_with_small_updates_is_not_the_learning_rate():
    data = sr.healthy()
    loss = data["loss"]
    loss.stat("value")[sr.at(loss, 100), 0] *= 4
    assert sr.events(data, "learning_rate_too_high") == []


def test_divergence_to_nan_after_large_updates_is_an_error():
    data = sr.healthy()
    _update_ratio(data, 0.3, from_step=250)
    loss = data["loss"]
    loss.stat("value")[sr.at(loss, 262), 0] = np.nan
    [event] = sr.events(data, "learning_rate_too_high")
    assert (event["severity"], event["first_step"]) == ("error", 262)


def test_updates_of_10_percent_with_no_progress_oscillate():
    data = sr.healthy()
    sr.flat_loss(data, 2.3)
    _update_ratio(data, 0.25)
    [event] = sr.events(data, "learning_rate_too_high")
    assert "does not improve" in event["title"]


def test_large_early_adam_steps_in_a_converging_run_are_fine():
    data = sr.healthy()
    _update_ratio(data, 0.3)
    _update_ratio(data, 1e-3, from_step=60)
    assert sr.events(data, "learning_rate_too_high") == []


def test_a_single_logged_step_is_no_evidence_of_a_stall():
    data = sr.healthy(n_steps=1, every=1)
    _update_ratio(data, 0.9)
    assert sr.events(data, "learning_rate_too_high") == []


def test_kernels_starting_at_zero_are_no_weight_growth():
    """Zero-initialized kernels have no early norm to grow from: a rising loss with small updates
    is not blamed on the learning rate (their growth is unknown, not infinite)."""
    data = sr.healthy()
    weights = data["weights"]
    early = weights.steps < weights.steps[len(weights.steps) // 2]
    weights.stat("norm")[early] = 0.0
    weights.stat("update_norm")[early] = 0.0
    loss = data["loss"]
    loss.stat("value")[sr.at(loss, 150), 0] *= 4
    assert sr.events(data, "learning_rate_too_high") == []


def test_a_loss_exploding_from_step_1_dates_the_learning_rate_from_step_1():
    """The loss grows 100x a step from step 1 and turns Inf at step 14 (Keras issue 3040): its
    explosion must not inflate the early level that a rise is measured against."""
    data = sr.healthy()
    _update_ratio(data, 1.0)
    loss = data["loss"].stat("value")
    loss[:14, 0] = 4e5 * 100.0 ** np.arange(14)
    loss[14:, 0] = np.inf
    [event] = sr.events(data, "learning_rate_too_high")
    assert (event["severity"], event["first_step"]) == ("error", 1)
