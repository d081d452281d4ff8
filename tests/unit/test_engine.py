"""The engine: contract of the result, skipped detectors, cause chains, ordering."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tb_gradcause.analysis import causes, engine
from tb_gradcause.analysis.causes import Cause, evidence
from tests.support import synth_runs as sr


def test_result_has_exactly_the_contract_keys_and_is_json():
    result = engine.analyze(sr.to_run(sr.healthy()))
    assert set(result) == {"events", "checked", "skipped"}
    assert result["checked"] == [d.CAUSE_KIND for d in engine.DETECTORS]
    assert result["skipped"] == {}
    json.dumps(result, allow_nan=False)


@pytest.mark.parametrize("every", [1, 10, 50])
@pytest.mark.parametrize(
    "layers",
    [
        sr.mlp(4),
        sr.mlp(8, "tanh"),
        [sr.synthetic.Layer("rnn", 16, "tanh", "SimpleRNN", True), sr.synthetic.Layer("out", 1, "sigmoid")],
    ],
    ids=["relu_mlp", "tanh_mlp", "rnn"],
)
def test_healthy_synthetic_runs_are_silent(layers, every):
    assert sr.events(sr.healthy(layers, 1000, every)) == []


def test_detectors_whose_kinds_were_not_logged_are_skipped_with_a_reason():
    data = sr.healthy(kinds=("gradients", "loss"))
    result = engine.analyze(sr.to_run(data))
    for kind in ("dead_relu", "saturated_activation", "input_scale", "learning_rate_too_high"):
        assert kind in result["skipped"] and kind not in result["checked"]
    assert "activations" in result["skipped"]["dead_relu"]
    assert "nan_inf" in result["checked"] and "vanishing_gradient" in result["checked"]


def test_every_event_follows_the_event_contract():
    data = sr.healthy()
    sr.flat_loss(data)
    data["activations"].stat("dead_frac")[:, data["activations"].rows_of("dense_1")] = 1.0
    data["inputs"].stat("max")[:, 2] = 5e3
    found = sr.events(data)
    assert found
    for e in found:
        assert set(e) == {
            "id",
            "kind",
            "severity",
            "layer",
            "first_step",
            "last_step",
            "title",
            "evidence",
            "advice",
            "caused_by",
        }
        assert e["id"].startswith(f"{e['kind']}:{e['layer'] or 'run'}:{e['first_step']}")
        assert e["severity"] in causes.SEVERITIES and e["kind"] in causes.CAUSE_KINDS
        assert e["first_step"] <= e["last_step"] and e["title"] and e["advice"]
        for item in e["evidence"]:
            assert set(item) == {"metric", "label", "value", "threshold", "op", "step", "note"}
            assert item["op"] in causes.OPS


def _event(kind: str, layer: str | None, first: int, last: int = 100) -> Cause:
    return Cause.create(kind, "warning", layer, first, last, "t", [evidence("loss_rise", 3, 2, ">=")], "a")


def test_cause_chain_links_direct_causes_only():
    lr = _event("learning_rate_too_high", None, 5)
    boom = _event("exploding_gradient", "dense_1", 10)
    nan = _event("nan_inf", "dense_2", 20)
    engine.link_causes([nan, boom, lr], {"dense_1": 1, "dense_2": 2})
    assert boom.caused_by == [lr.id]
    assert nan.caused_by == [boom.id]  # lr explains nan only through the exploding gradient
    assert lr.caused_by == []


def test_a_cause_never_follows_its_effect_nor_sits_on_an_unrelated_layer():
    sat = _event("saturated_activation", "dense_0", 30)
    vanish = _event("vanishing_gradient", "dense_1", 10)
    engine.link_causes([sat, vanish], {"dense_0": 0, "dense_1": 1})
    assert vanish.caused_by == []
    # saturation of an earlier layer does not shrink the gradients of a later one
    early_sat = _event("saturated_activation", "dense_0", 0)
    later_vanish = _event("vanishing_gradient", "dense_3", 10)
    engine.link_causes([early_sat, later_vanish], {"dense_0": 0, "dense_3": 3})
    assert later_vanish.caused_by == []
    late_sat = _event("saturated_activation", "dense_3", 0)
    engine.link_causes([late_sat, vanish], {"dense_3": 3, "dense_1": 1})
    assert vanish.caused_by == [late_sat.id]


def test_events_sorted_by_step_then_severity_and_ids_unique():
    data = sr.healthy(n_features=8)
    data["inputs"].stat("max")[:, 2] = 5e3
    data["inputs"].stat("nan")[sr.at(data["inputs"], 200), 1] = 3
    for kind in ("activations", "gradients", "backward"):
        data[kind].stat("nan")[sr.at(data[kind], 200)] = 1
    data["loss"].stat("value")[sr.at(data["loss"], 200)] = np.nan
    found = sr.events(data)
    keys = [(e["first_step"], -causes.SEVERITIES.index(e["severity"])) for e in found]
    assert keys == sorted(keys)
    assert len({e["id"] for e in found}) == len(found)


def test_a_failing_detector_is_reported_as_skipped_not_raised(monkeypatch):
    def broken(run):
        raise RuntimeError("boom")

    monkeypatch.setattr(engine.dead_relu, "detect", broken)
    result = engine.analyze(sr.to_run(sr.healthy()))
    assert "boom" in result["skipped"]["dead_relu"] and "dead_relu" not in result["checked"]


@pytest.mark.parametrize("n_steps", [1, 2, 3])
def test_tiny_runs_do_not_break_any_detector(n_steps):
    result = engine.analyze(sr.to_run(sr.healthy(n_steps=n_steps, every=1)))
    assert result["skipped"] == {} and result["events"] == []


def test_a_run_that_is_non_finite_from_its_first_step():
    data = sr.healthy()
    for kind in ("activations", "backward", "gradients", "weights"):
        data[kind].stat("nan")[:] = 1
    data["loss"].stat("value")[:] = np.nan
    result = engine.analyze(sr.to_run(data))
    assert result["skipped"] == {}
    assert [(e["kind"], e["layer"], e["first_step"]) for e in result["events"]] == [("nan_inf", "dense_0", 0)]


@pytest.mark.parametrize("empty", ["activations", "backward", "weights", "inputs", "gradients", "backward_time"])
def test_a_kind_logged_without_rows_counts_as_not_logged_and_breaks_nothing(empty):
    run = sr.to_run(sr.healthy([sr.synthetic.Layer("rnn", 8, "tanh", "LSTM", True)] + sr.mlp(2)))
    v = run.series[empty]
    run.series[empty] = sr.reader.Series(empty, v.steps, v.wall_times, v.values[:, :0, :], (), v.stats)
    result = engine.analyze(run)
    assert not any("failed" in why for why in result["skipped"].values())
    assert result["events"] == []


def test_advice_leads_with_the_root_cause_of_the_chain():
    """An explosion across depth advises "weights initialized too large" on its own; under a
    learning rate that is too high, its card must not contradict its own chain."""
    lr = _event("learning_rate_too_high", None, 3)
    boom = _event("exploding_gradient", "dense_1", 5)
    nan = _event("nan_inf", "dense_1", 9)
    boom.advice = "the weights are initialized too large for this depth"
    boom.caused_by, nan.caused_by = [lr.id], [boom.id]
    engine.advise_from_the_root([lr, boom, nan])
    for effect in (boom, nan):
        assert effect.advice.startswith(
            "Root cause first: the learning rate is too high (from step 3); lower it (try 10x lower)"
        )
    assert boom.advice.endswith("initialized too large for this depth") and lr.advice == "a"
