"""dead_relu and saturated_activation: lasting fractions, loss guards, output vs hidden layers."""

from __future__ import annotations

import numpy as np

from tb_gradcause.testing import synthetic
from tests.support import synth_runs as sr


def _set(data, stat: str, layer: str, value: float, from_step: int = 0) -> None:
    kd = data["activations"]
    kd.stat(stat)[np.ix_(sr.at(kd, from_step), kd.rows_of(layer))] = value


def test_fully_dead_relu_layer_from_the_start_is_an_error_whatever_the_loss():
    data = sr.healthy()
    _set(data, "dead_frac", "dense_1", 1.0)
    [event] = sr.events(data, "dead_relu")
    assert (event["layer"], event["severity"], event["first_step"]) == ("dense_1", "error", 0)
    assert "from the start" in event["title"] and "bias" in event["advice"]


def test_relu_units_dying_during_training():
    data = sr.healthy()
    _set(data, "dead_frac", "dense_2", 0.95, from_step=200)
    [event] = sr.events(data, "dead_relu")
    assert (event["layer"], event["first_step"], event["severity"]) == ("dense_2", 200, "warning")
    assert "learning rate" in event["advice"]


def test_majority_dead_counts_only_while_the_loss_is_in_trouble():
    data = sr.healthy()
    _set(data, "dead_frac", "dense_1", 0.7)
    assert sr.events(data, "dead_relu") == []  # a ReLU net that still learns
    sr.flat_loss(data)
    [event] = sr.events(data, "dead_relu")
    assert event["layer"] == "dense_1" and any(e["metric"] == "loss_progress" for e in event["evidence"])


def test_short_dead_episodes_and_non_relu_layers_are_ignored():
    data = sr.healthy(sr.mlp(4, "tanh"))
    _set(data, "dead_frac", "dense_1", 1.0)  # a tanh layer cannot die (its stat is meaningless)
    assert sr.events(data, "dead_relu") == []
    data = sr.healthy()
    kd = data["activations"]
    kd.stat("dead_frac")[kd.steps == 200, kd.rows_of("dense_1")[0]] = 1.0
    assert sr.events(data, "dead_relu") == []


def test_saturated_sigmoid_output_while_the_loss_is_stuck():
    data = sr.healthy()
    sr.flat_loss(data, 8.0)
    _set(data, "saturated_frac", "dense_3", 0.97)
    [event] = sr.events(data, "saturated_activation")
    assert (event["layer"], event["severity"]) == ("dense_3", "warning")
    assert "from_logits" in event["advice"]


def test_confidently_right_outputs_are_not_saturation():
    data = sr.healthy()
    _set(data, "saturated_frac", "dense_3", 0.99, from_step=150)  # the loss converges meanwhile
    assert sr.events(data, "saturated_activation") == []


def test_hidden_layer_saturated_from_initialization_is_flagged_even_if_the_loss_falls():
    data = sr.healthy(sr.mlp(4, "tanh"))
    _set(data, "saturated_frac", "dense_1", 0.85)
    [event] = sr.events(data, "saturated_activation")
    assert event["layer"] == "dense_1" and "initialization" in event["advice"]


def test_hidden_layer_saturating_late_in_a_converging_run_is_fine():
    data = sr.healthy(sr.mlp(4, "tanh"))
    _set(data, "saturated_frac", "dense_1", 0.85, from_step=200)
    assert sr.events(data, "saturated_activation") == []


def test_wide_softmax_near_zero_from_the_start_is_not_saturation():
    layers = [synthetic.Layer("hidden", 32, "relu"), synthetic.Layer("probs", 1000, "softmax")]
    data = sr.healthy(layers)
    sr.flat_loss(data, 6.9)  # a hard 1000-class task early in training
    _set(data, "saturated_frac", "probs", 0.999)  # 1/1000 is within 0.5 % of 0
    assert sr.events(data, "saturated_activation") == []


def test_a_noisy_small_batch_loss_is_not_trouble_for_a_half_dead_layer():
    data = sr.healthy(n_steps=600)
    loss = data["loss"].stat("value")
    loss[:] = loss * np.exp(np.random.default_rng(3).normal(0.0, 0.7, loss.shape))  # batch of 16
    _set(data, "dead_frac", "dense_1", 0.55, from_step=300)
    assert sr.events(data) == []
