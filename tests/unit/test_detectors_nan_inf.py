"""nan_inf: first step, phase and layer of the first NaN/Inf."""

from __future__ import annotations

import numpy as np

from tests.support import synth_runs as sr


def _poison(data, kind: str, layers: list[str] | None, step: int, stat: str = "nan") -> None:
    kd = data[kind]
    rows = list(range(len(kd.rows))) if layers is None else [r for layer in layers for r in kd.rows_of(layer)]
    kd.stat(stat)[np.ix_(sr.at(kd, step), rows)] = 4


def _everything_after(data, step: int) -> None:
    """What follows any NaN: the loss, every gradient and every later weight are NaN."""
    data["loss"].stat("value")[sr.at(data["loss"], step)] = np.nan
    _poison(data, "gradients", None, step)
    _poison(data, "backward", None, step)
    _poison(data, "weights", None, step + 10)


def _only(data) -> dict:
    found = sr.events(data, "nan_inf")
    assert len(found) == 1, found
    return found[0]


def test_forward_overflow_names_the_first_layer_in_forward_order():
    data = sr.healthy()
    _everything_after(data, 200)
    _poison(data, "activations", ["dense_2", "dense_3"], 200, "inf")
    event = _only(data)
    assert (event["layer"], event["first_step"], event["severity"]) == ("dense_2", 200, "error")
    assert "forward output" in event["title"]
    assert event["evidence"][0]["step"] == 200 and event["evidence"][0]["value"] > 0


def test_nan_input_is_the_input_phase_with_its_features():
    data = sr.healthy()
    _everything_after(data, 150)
    _poison(data, "inputs", None, 150)
    data["inputs"].stat("nan")[sr.at(data["inputs"], 150)] = 0
    data["inputs"].stat("nan")[sr.at(data["inputs"], 150), 3] = 2
    _poison(data, "activations", None, 150)
    event = _only(data)
    assert (event["layer"], event["first_step"]) == ("input", 150)
    assert "feature_3" in event["evidence"][0]["note"] and "feature_3" in event["advice"]


def test_loss_phase_when_every_layer_output_is_finite():
    data = sr.healthy()
    _everything_after(data, 90)
    event = _only(data)
    assert event["layer"] is None and event["first_step"] == 90
    assert "loss" in event["title"] and "from_logits" in event["advice"]


def test_backward_phase_names_the_deepest_layer_with_a_non_finite_signal():
    data = sr.healthy()
    _poison(data, "backward", ["dense_0", "dense_1"], 300)
    _poison(data, "gradients", ["dense_0", "dense_1"], 300)
    event = _only(data)
    assert (event["layer"], event["first_step"]) == ("dense_1", 300)
    assert "backward" in event["title"]


def test_update_phase_finite_gradients_but_non_finite_weights():
    data = sr.healthy()
    _poison(data, "weights", ["dense_1"], 250, "inf")
    event = _only(data)
    assert (event["layer"], event["first_step"]) == ("dense_1", 250)
    assert "update" in event["title"] and "learning rate" in event["advice"]


def test_steps_a_loss_scaler_skipped_are_not_nan_causes():
    data = sr.healthy(every=1)
    skipped = np.isin(data["loss"].steps, [17, 55, 56])
    data["loss"].stat("step_skipped")[skipped, 0] = 1
    for kind in ("gradients", "backward"):
        data[kind].stat("inf")[np.isin(data[kind].steps, [17, 55, 56])] = 3
    assert sr.events(data, "nan_inf") == []


def test_one_event_for_repeated_episodes_at_the_same_place():
    data = sr.healthy()
    for step in (100, 200):
        kd = data["inputs"]
        kd.stat("inf")[kd.steps == step, 0] = 1
    event = _only(data)
    assert (event["first_step"], event["last_step"]) == (100, 200)
    assert any(e["metric"] == "episodes" and e["value"] == 2 for e in event["evidence"])


def test_a_plain_dense_layer_overflowing_is_blamed_on_the_updates_not_an_op():
    data = sr.healthy()
    _everything_after(data, 200)
    _poison(data, "activations", ["dense_1"], 200, "inf")
    event = _only(data)
    assert event["layer"] == "dense_1" and "overflowed" in event["advice"] and "learning rate" in event["advice"]


def test_a_loss_that_overflowed_from_huge_outputs_gets_overflow_advice():
    data = sr.healthy()
    _everything_after(data, 120)
    kd = data["activations"]
    kd.stat("max_abs")[kd.steps == 120, kd.rows_of("dense_3")[0]] = 3e20
    event = _only(data)
    assert event["layer"] is None and "overflowed" in event["advice"]
