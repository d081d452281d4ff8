"""The numbers the advice suggests come from the run: each is checked against a run built with known
norms, update ratios or losses, and against a second run whose figures differ (a constant fails)."""

from __future__ import annotations

import numpy as np
import pytest

from tb_gradcause.analysis.signals import suggestions
from tests.support import synth_runs as sr


def _norms(data, norms: np.ndarray) -> None:
    """Global gradient norm `norms[s]` at logged step s: 3/5 of it in one variable, 4/5 in another."""
    l2 = data["gradients"].stat("l2")
    l2[:] = 0
    l2[:, 0], l2[:, 1] = 0.6 * norms, 0.8 * norms


def _ratio_and_lr(data, ratio: np.ndarray | float, lr: np.ndarray | float) -> None:
    """Every kernel's update ratio `ratio` at the weights' logged steps; learning rate `lr` every step."""
    weights = data["weights"]
    ratios = np.broadcast_to(np.asarray(ratio, dtype=np.float64), weights.steps.shape)[:, None]
    weights.stat("update_ratio")[:] = ratios
    weights.stat("update_norm")[:] = ratios * weights.stat("norm")
    data["loss"].stat("learning_rate")[:, 0] = lr


def test_global_norm_is_the_root_of_the_summed_squares_and_skips_nonfinite_steps():
    data = sr.healthy(n_steps=100)
    _norms(data, np.arange(1.0, 11.0))
    data["gradients"].stat("nan")[3, 2] = 1  # step 30: one variable held NaN
    steps, norms = suggestions.global_norms(data["gradients"])
    assert 30 not in steps and len(steps) == 9
    np.testing.assert_allclose(norms, np.delete(np.arange(1.0, 11.0), 3), rtol=1e-6)


@pytest.mark.parametrize("scale", [1.0, 3.0])
def test_clipnorm_is_the_90th_percentile_of_the_healthy_global_norms(scale):
    data = sr.healthy(n_steps=200)  # gradients at steps 0, 10, ..., 190
    norms = scale * np.concatenate([np.arange(1.0, 11.0), np.full(10, 2.0)])  # steps 100+ calm again
    _norms(data, norms)
    clip = suggestions.clipping(sr.to_run(data), before_step=100)
    # numpy's linear 90th percentile of 1..10 is 9.1; the median 5.5
    assert clip.value == pytest.approx(9.1 * scale, rel=1e-5)
    expected = f"`global_clipnorm={9.1 * scale:g}`: the 90th percentile of the 10 global gradient norms"
    assert clip.setting.startswith(expected), clip.setting
    assert f"logged before step 100, median {5.5 * scale:g}" in clip.setting and clip.note == ""


def test_clipping_more_than_half_of_the_steps_warns_to_lower_the_learning_rate():
    data = sr.healthy(n_steps=200)
    _norms(data, np.concatenate([np.arange(1.0, 6.0), np.full(15, 50.0)]))  # exploding from step 50
    clip = suggestions.clipping(sr.to_run(data), before_step=50)
    assert clip.value == pytest.approx(4.6)  # 1..5
    # the largest healthy norm (5) and the 15 exploding ones
    assert "would clip 16 of the 20 logged steps" in clip.note and "learning rate" in clip.note
    # Half of the steps clipped (10 of the 20 above 9.1) is no majority.
    _norms(data, np.concatenate([np.arange(1.0, 11.0), np.full(9, 50.0), [1.0]]))
    assert suggestions.clipping(sr.to_run(data), before_step=100).note == ""


def test_too_few_healthy_norms_keep_the_generic_threshold_and_say_so():
    data = sr.healthy(n_steps=200)
    _norms(data, np.arange(1.0, 21.0))
    data["gradients"].stat("inf")[2, 0] = 1  # step 20 does not count
    clip = suggestions.clipping(sr.to_run(data), before_step=50)
    assert (clip.value, clip.setting) == (None, suggestions.GENERIC_CLIP)
    assert "before step 50" in clip.note and "(4 of the 5 needed)" in clip.note
    without = {kind: series for kind, series in data.items() if kind != "gradients"}
    assert "(0 of the 5 needed)" in suggestions.clipping(sr.to_run(without), 50).note


@pytest.mark.parametrize(("ratio", "lr", "expected"), [(0.05, 0.2, 0.004), (0.02, 0.2, 0.01), (0.4, 0.5, 0.00125)])
def test_learning_rate_brings_the_early_update_ratio_to_1e3(ratio, lr, expected):
    data = sr.healthy(n_steps=200)  # weights at steps 0, 10, ..., 190: the first 5 are early
    _ratio_and_lr(data, np.where(np.arange(0, 200, 10) < 50, ratio, 1e-4), lr)  # later shrunk by the damage
    rate = suggestions.learning_rate(sr.to_run(data), until_step=150)
    assert rate.value == pytest.approx(expected, rel=1e-4)
    assert rate.setting.startswith(f"to about {expected:g} (from {lr:g}: ") and rate.note == ""
    assert f"median {ratio:g} over the first 5 update ratios logged, steps 0 to 40" in rate.setting


def test_learning_rate_follows_each_steps_own_rate_under_a_schedule():
    data = sr.healthy(n_steps=100)  # weights at steps 0, 10, ..., 90
    lr = np.where(np.arange(100) < 30, 0.1, 0.2)  # the rate doubles at step 30, and the update ratio with it
    _ratio_and_lr(data, np.where(np.arange(0, 100, 10) < 30, 0.01, 0.02), lr)
    rate = suggestions.learning_rate(sr.to_run(data), until_step=99)
    # each step says 0.01; the last rate over the median ratio would say 0.2 * 1e-3 / 0.01 = 0.02
    assert rate.value == pytest.approx(0.01, rel=1e-4)
    assert "(from 0.2: " in rate.setting


def test_learning_rate_without_enough_or_large_ratios_keeps_the_generic_10x_and_says_why():
    data = sr.healthy(n_steps=200)
    _ratio_and_lr(data, 0.05, 0.2)
    few = suggestions.learning_rate(sr.to_run(data), until_step=30)  # steps 0, 10, 20, 30
    assert few.value is None and few.setting == "about 10x (e.g. 0.02 instead of 0.2)"
    assert "(4 of the 5 needed)" in few.note
    _ratio_and_lr(data, 5e-4, 0.2)
    small = suggestions.learning_rate(sr.to_run(data), until_step=150)
    assert small.value is None and "(median 5e-4 over the first 5" in small.note and "no lower rate" in small.note
    data["loss"].stat("learning_rate")[:] = np.nan
    assert suggestions.learning_rate(sr.to_run(data), 150) == suggestions.Suggestion(None, "about 10x")


@pytest.mark.parametrize("settled", [24, 61])
def test_warmup_lasts_until_an_early_instability_settled(settled):
    data = sr.healthy(n_steps=400)  # the loss falls from ~0.7; its first 40 steps are early
    loss = data["loss"].stat("value")
    loss[20:settled, 0] = 5.0
    warmup = suggestions.warmup(sr.to_run(data), first_step=20)
    assert warmup is not None and warmup.value == settled
    assert warmup.setting.startswith(f"warm the learning rate up over the first {settled} steps")
    assert f"from step 20, was back within their range of up to {loss[:20, 0].max():.3g}" in warmup.setting


def test_no_warmup_for_a_late_or_unsettled_instability():
    data = sr.healthy(n_steps=400)
    loss = data["loss"].stat("value")
    loss[100:110, 0] = 5.0  # after the first 10 % of the steps: not early
    assert suggestions.warmup(sr.to_run(data), first_step=100) is None
    loss[20:, 0] = 5.0  # never back
    assert suggestions.warmup(sr.to_run(data), first_step=20) is None
    loss[:, 0] = 0.5  # nothing unstable at the step
    assert suggestions.warmup(sr.to_run(data), first_step=20) is None


def test_detectors_quote_the_runs_numbers():
    data = sr.healthy()
    data["loss"].stat("learning_rate")[:] = 0.5
    _ratio_and_lr(data, 0.4, 0.5)
    loss = data["loss"]
    loss.stat("value")[sr.at(loss, 100), 0] *= 4
    _norms(data, np.arange(1.0, 41.0))
    [event] = sr.events(data, "learning_rate_too_high")
    run = sr.to_run(data)
    clip = suggestions.clipping(run, event["first_step"])
    assert clip.value is not None and clip.setting in event["advice"]
    assert suggestions.learning_rate(run, event["last_step"]).setting in event["advice"]

    spiky = sr.healthy(every=5)  # gradient norms at steps 0, 5, ..., 20 before the spike
    spiky["loss"].stat("value")[23:61, 0] = 500.0  # early, off the gradient cadence, back from step 61
    [spike] = sr.events(spiky, "exploding_gradient")
    assert spike["first_step"] == 23 and "warm the learning rate up over the first 61 steps" in spike["advice"]
    assert suggestions.clipping(sr.to_run(spiky), 23).setting.startswith("`global_clipnorm=")
    assert suggestions.clipping(sr.to_run(spiky), 23).setting in spike["advice"]


def test_nan_inf_advice_quotes_the_norms_before_the_nan():
    data = sr.healthy()
    _norms(data, np.linspace(1.0, 4.0, 40))
    data["weights"].stat("nan")[sr.at(data["weights"], 200), 4] = 1  # dense_2's kernel update
    data["loss"].stat("value")[201:, 0] = np.nan
    [event] = sr.events(data, "nan_inf")
    clip = suggestions.clipping(sr.to_run(data), event["first_step"])
    assert clip.value is not None and clip.setting in event["advice"]
