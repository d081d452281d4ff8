"""exploding_gradient and vanishing_gradient: over steps, across depth, along time; loss guards."""

from __future__ import annotations

import numpy as np
import pytest

from tb_gradcause.testing import synthetic
from tests.support import synth_runs as sr


def _grow(data, kind: str, layers, from_step: int, decades_per_100_steps: float) -> None:
    kd = data[kind]
    factor = 10 ** (np.clip(kd.steps - from_step, 0, None) * decades_per_100_steps / 100)
    for layer in layers:
        sr.scale(kd, layer, factor)


def _rising_loss(data, from_step: int) -> None:
    loss = data["loss"]
    loss.stat("value")[:] = loss.stat("value") * (1 + np.clip(loss.steps - from_step, 0, None)[:, None] / 20)


def _rnn_layers():
    return [synthetic.Layer("rnn", 16, "tanh", "SimpleRNN", recurrent=True), synthetic.Layer("out", 1, "sigmoid")]


def test_gradients_growing_by_orders_of_magnitude_while_the_loss_rises():
    data = sr.healthy()
    layers = ["dense_0", "dense_1", "dense_2", "dense_3"]
    _grow(data, "gradients", layers, 200, 2.0)
    _rising_loss(data, 200)
    [event] = sr.events(data, "exploding_gradient")
    assert event["severity"] == "warning" and event["layer"] in layers
    assert 200 < event["first_step"] <= 320
    assert event["evidence"][0]["value"] >= 100
    assert any(e["metric"] == "loss_rise" for e in event["evidence"])


def test_growing_gradients_while_the_loss_keeps_falling_are_left_alone():
    data = sr.healthy()
    _grow(data, "gradients", ["dense_0", "dense_1", "dense_2", "dense_3"], 200, 2.0)
    assert sr.events(data, "exploding_gradient") == []


def test_explosion_that_ends_in_nan_is_an_error_and_starts_the_chain():
    data = sr.healthy()
    _grow(data, "gradients", ["dense_0", "dense_1", "dense_2", "dense_3"], 200, 2.0)
    _rising_loss(data, 200)
    data["gradients"].stat("inf")[sr.at(data["gradients"], 330)] = 1
    data["loss"].stat("value")[sr.at(data["loss"], 330)] = np.inf
    found = sr.events(data)
    [boom] = [e for e in found if e["kind"] == "exploding_gradient"]
    [nan] = [e for e in found if e["kind"] == "nan_inf"]
    assert boom["severity"] == "error" and boom["id"] in nan["caused_by"]


def test_backward_signal_exploding_across_depth_names_the_first_layer():
    data = sr.healthy()
    sr.flat_loss(data)
    for depth, layer in enumerate(["dense_0", "dense_1", "dense_2"]):
        sr.scale(data["backward"], layer, 10.0 ** (3 - depth))
    [event] = sr.events(data, "exploding_gradient")
    assert event["layer"] == "dense_0" and "depth" in event["title"]


def test_loss_blowing_up_between_gradient_samples_is_a_run_wide_explosion():
    data = sr.healthy(n_steps=60, every=50)
    loss = data["loss"].stat("value")
    loss[20:26, 0] = [1, 1e2, 1e5, 1e9, 1e20, np.inf]
    loss[26:, 0] = np.nan
    found = sr.events(data, "exploding_gradient")
    assert [(e["layer"], e["first_step"], e["severity"]) for e in found] == [(None, 21, "error")]


def test_a_loss_spike_between_gradient_samples_is_an_early_warning_not_an_explosion():
    data = sr.healthy()  # gradients sampled every 10 steps
    data["loss"].stat("value")[105, 0] = 500.0
    [spike] = sr.events(data, "exploding_gradient")
    assert (spike["severity"], spike["first_step"], spike["last_step"]) == ("warning", 105, 105)
    assert "spikes" in spike["title"] and spike["layer"] is None


def test_a_loss_jump_within_its_usual_range_is_no_spike():
    data = sr.healthy()
    loss = data["loss"].stat("value")
    loss[105, 0] = 5 * loss[:105, 0].max()  # Megatron-LM's 10x rule: 5x its largest value is noise
    assert sr.events(data, "exploding_gradient") == []


def test_recurrent_signal_growing_along_time_is_an_explosion_in_that_layer():
    data = sr.healthy(_rnn_layers())
    sr.flat_loss(data)
    data["backward_time"].stat("t_7")[:] *= 1e3
    [event] = sr.events(data, "exploding_gradient")
    assert event["layer"] == "rnn" and "along time" in event["title"] and "clip" in event["advice"].lower()
    assert "the 50 time steps of rnn" in event["advice"]  # the length is the logged seq_len column
    assert "instead of SimpleRNN" in event["advice"] and "does not bound" not in event["advice"]


def test_recurrent_explosion_advice_names_an_unbounded_activation_of_a_gated_layer():
    data = sr.healthy(
        [synthetic.Layer("lstm", 16, "relu", "LSTM", recurrent=True), synthetic.Layer("out", 1, "sigmoid")]
    )
    sr.flat_loss(data)
    data["backward_time"].stat("t_7")[:] *= 1e3
    [event] = sr.events(data, "exploding_gradient")
    assert event["layer"] == "lstm"
    assert "relu activation does not bound the recurrent state" in event["advice"] and "tanh" in event["advice"]
    assert "SimpleRNN" not in event["advice"]  # it is an LSTM already


def test_vanishing_across_depth_while_the_loss_is_stuck():
    data = sr.healthy(sr.mlp(7, "sigmoid"))
    sr.flat_loss(data)
    for depth in range(6):  # each sigmoid layer passes back at most 1/4 of the signal
        sr.scale(data["backward"], f"dense_{depth}", 0.25 ** (6 - depth))
    found = sr.events(data, "vanishing_gradient")
    assert [(e["layer"], e["severity"]) for e in found] == [("dense_0", "warning")]
    assert any(e["metric"] == "affected_layers" for e in found[0]["evidence"])


def test_vanishing_profile_is_silent_once_the_loss_converges():
    data = sr.healthy(sr.mlp(7, "sigmoid"))
    for depth in range(6):
        sr.scale(data["backward"], f"dense_{depth}", 0.25 ** (6 - depth))
    assert sr.events(data, "vanishing_gradient") == []


def test_vanishing_profile_is_silent_when_a_converged_run_later_dies_of_nan():
    """A later NaN (e.g. log(0) in the loss) is no evidence of vanishing gradients."""
    data = sr.healthy(sr.mlp(7, "sigmoid"))
    for depth in range(6):
        sr.scale(data["backward"], f"dense_{depth}", 0.25 ** (6 - depth))
    loss = data["loss"].stat("value")
    loss[-len(loss) // 10 :] = np.nan
    assert sr.events(data, "vanishing_gradient") == []
    sr.flat_loss(data)  # stalled before it died: that is trouble
    data["loss"].stat("value")[-len(loss) // 10 :] = np.nan
    assert [e["layer"] for e in sr.events(data, "vanishing_gradient")] == ["dense_0"]


def test_a_normalization_layer_rescaling_the_backward_signal_is_not_vanishing():
    layers = [
        synthetic.Layer("conv", 8, "relu", "Conv2D"),
        synthetic.Layer("bn", 8, "", "BatchNormalization"),
        synthetic.Layer("dense", 1, "sigmoid"),
    ]
    data = sr.healthy(layers)
    sr.flat_loss(data)
    sr.scale(data["backward"], "conv", 1e-3)  # BN divides it by its input's std (pixels 0-255)
    assert sr.events(data, "vanishing_gradient") == []


def test_gradients_collapsing_far_below_their_early_level():
    data = sr.healthy()
    sr.flat_loss(data)
    _grow(data, "gradients", ["dense_0", "dense_1", "dense_2", "dense_3"], 100, -2.0)
    [event] = sr.events(data, "vanishing_gradient")
    assert "collapse" in event["title"] and 100 < event["first_step"] < 300


def test_recurrent_signal_dying_out_along_time():
    data = sr.healthy(_rnn_layers())
    sr.flat_loss(data)
    for i in range(8):
        data["backward_time"].stat(f"t_{i}")[:] *= 0.1**i
    [event] = sr.events(data, "vanishing_gradient")
    assert event["layer"] == "rnn" and "along time" in event["title"]
    assert "LSTM" in event["advice"] and "50 steps" in event["advice"]


def test_recurrent_decay_along_time_is_fine_when_the_loss_converges():
    data = sr.healthy(_rnn_layers())
    for i in range(8):
        data["backward_time"].stat(f"t_{i}")[:] *= 0.1**i
    assert sr.events(data, "vanishing_gradient") == []


def test_a_norm_that_overflowed_float32_counts_as_exploding():
    data = sr.healthy()
    _rising_loss(data, 200)
    kd = data["gradients"]
    kd.stat("l2")[sr.at(kd, 250), :] = np.inf  # finite elements, norm beyond 3.4e38
    [event] = sr.events(data, "exploding_gradient")
    assert event["first_step"] == 250 and event["evidence"][0]["value"] >= 1e30


def test_layers_below_an_explosion_do_not_look_vanished():
    data = sr.healthy()
    _rising_loss(data, 200)
    for kind in ("gradients", "backward"):
        _grow(data, kind, ["dense_2", "dense_3"], 200, 3.0)
    found = sr.events(data)
    assert [e["kind"] for e in found] == ["exploding_gradient"]
    assert found[0]["layer"] in ("dense_2", "dense_3")


def test_vanishing_in_a_recurrent_layer_gets_recurrent_advice():
    layers = [synthetic.Layer("rnn", 16, "tanh", "SimpleRNN", recurrent=True)] + sr.mlp(3, "sigmoid")
    data = sr.healthy(layers)
    sr.flat_loss(data)
    sr.scale(data["backward"], "rnn", 1e-4)
    [event] = sr.events(data, "vanishing_gradient")
    assert event["layer"] == "rnn" and "LSTM" in event["advice"]


def test_a_lucky_batch_does_not_make_a_high_plateau_an_explosion():
    data = sr.healthy()
    sr.flat_loss(data, 8.0)
    data["loss"].stat("value")[30, 0] = 0.05  # one batch the model got right by chance
    data["loss"].stat("value")[31:, 0] *= 2  # then clipped log(eps) losses around 16
    assert sr.events(data, "exploding_gradient") == []


def test_a_loss_jump_that_the_run_survives_is_left_to_the_gradient_statistics():
    data = sr.healthy()
    data["loss"].stat("value")[20:, 0] *= 1000  # e.g. saturated logits: huge but bounded gradients
    assert sr.events(data, "exploding_gradient") == []


def test_a_negative_loss_has_no_spikes():
    """Factors of a loss that can be negative (e.g. a cosine similarity) mean nothing."""
    data = sr.healthy()
    loss = data["loss"].stat("value")
    loss[:] = -0.9 + 0.01 * np.arange(len(loss))[:, None] / len(loss)
    loss[105, 0] = 0.5
    assert sr.events(data, "exploding_gradient") == []


def test_a_loss_that_reaches_exactly_zero_can_still_spike():
    """Batch-1 cross-entropy underflows to exactly 0 on confident right samples: 0 is no negative loss."""
    data = sr.healthy()
    loss = data["loss"].stat("value")
    loss[1:4, 0] = 0.0
    loss[105, 0] = 500.0
    [spike] = sr.events(data, "exploding_gradient")
    assert spike["first_step"] == 105 and "spikes" in spike["title"]


@pytest.mark.parametrize("gradients_jump, warned", [(True, True), (False, False)])
def test_a_loss_spike_at_a_sampled_step_warns_when_the_gradients_jump_with_it(gradients_jump, warned):
    """The capture samples every loss spike in full, so a sampled spike is judged by its gradients."""
    data = sr.healthy()
    data["loss"].stat("value")[110, 0] *= 500
    if gradients_jump:
        grads = data["gradients"]
        at = int(np.searchsorted(grads.steps, 110))
        for stat in ("l2", "rms") if grads.has("rms") else ("l2",):
            grads.stat(stat)[at] *= 1000
    spikes = [e for e in sr.events(data, "exploding_gradient") if "spikes" in e["title"]]
    assert [e["first_step"] for e in spikes] == ([110] if warned else [])
