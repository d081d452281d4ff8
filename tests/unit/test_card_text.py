"""What a card says, for every detector: evidence in plain words, one figure per quantity, no doubled word.

The cards come from broken synthetic runs, at least one per detector branch; the rules hold for every
card the engine writes, not for one scenario.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tb_gradcause.analysis import causes, engine
from tb_gradcause.analysis.detectors import nan_inf
from tb_gradcause.analysis.signals import flow, wording
from tb_gradcause.cli import report
from tb_gradcause.testing import synthetic
from tests.support import synth_runs as sr

ANALYSIS = Path(causes.__file__).parent


def _set(kind: str, stat: str, layer: str | None, value: float, from_step: int = 0) -> Callable:
    def edit(data):
        kd = data[kind]
        rows = kd.rows_of(layer) if layer else np.arange(len(kd.rows))
        kd.stat(stat)[np.ix_(kd.steps >= from_step, rows)] = value

    return edit


def _nan_loss(from_step: int) -> Callable:
    def edit(data):
        data["loss"].stat("value")[from_step:] = np.nan

    return edit


def _flat(data) -> None:
    sr.flat_loss(data)


def _rising(data) -> None:
    loss = data["loss"]
    loss.stat("value")[:] *= 1 + np.clip(loss.steps - 200, 0, None)[:, None] / 20


def _scale(kind: str, layers, factor) -> Callable:
    def edit(data):
        for layer in layers:
            f = factor(data[kind].steps) if callable(factor) else factor
            sr.scale(data[kind], layer, f)

    return edit


def _features(features, factor: float) -> Callable:
    def edit(data):
        for stat in ("mean", "std", "min", "max"):
            data["inputs"].stat(stat)[:, features] *= factor

    return edit


def _no_gradient(layer: str, missing: bool = True) -> Callable:
    return lambda data: sr.no_gradient(data, layer, missing)


def _update_ratio(ratio: float) -> Callable:
    def edit(data):
        kd = data["weights"]
        kd.stat("update_ratio")[:] = ratio
        kd.stat("update_norm")[:] = ratio * kd.stat("norm")
        data["loss"].stat("learning_rate")[:] = 0.5

    return edit


def _outliers(data) -> None:
    for step in (120, 270):
        data["inputs"].stat("max")[data["inputs"].steps == step, 3] = 4e4
        data["gradients"].stat("l2")[data["gradients"].steps == step] *= 50


def _loss_blow_up(data) -> None:
    loss = data["loss"].stat("value")
    loss[20:26, 0] = [1, 1e2, 1e5, 1e9, 1e20, np.inf]
    loss[26:, 0] = np.nan


def _spike(data) -> None:
    data["loss"].stat("value")[105, 0] = 500.0


RNN = [synthetic.Layer("rnn", 16, "tanh", "SimpleRNN", recurrent=True), synthetic.Layer("out", 1, "sigmoid")]
GROW = _scale(
    "gradients", ["dense_0", "dense_1", "dense_2", "dense_3"], lambda s: 10 ** (np.clip(s - 200, 0, None) / 50)
)

# name -> (layers, healthy_run arguments, edits)
SCENARIOS: dict[str, tuple[list | None, dict, list[Callable]]] = {
    "nan_input": (None, {}, [_set("inputs", "nan", None, 2, 200), _nan_loss(200)]),
    "nan_forward": (None, {}, [_set("activations", "nan", "dense_1", 3, 200), _nan_loss(200)]),
    "nan_loss": (None, {}, [_nan_loss(201)]),
    "nan_gradient": (None, {}, [_set("gradients", "nan", "dense_1", 3, 200), _nan_loss(201)]),
    "nan_update": (None, {}, [_set("weights", "nan", "dense_2", 1, 200), _nan_loss(201)]),
    "exploding_growth": (None, {}, [GROW, _rising]),
    "exploding_depth": (None, {}, [_flat, *(_scale("backward", [f"dense_{d}"], 10.0 ** (3 - d)) for d in range(3))]),
    "exploding_time": (RNN, {}, [_flat, _set("backward_time", "t_7", None, 1e3)]),
    "exploding_loss": (None, {"n_steps": 60, "every": 50}, [_loss_blow_up]),
    "loss_spike": (None, {}, [_spike]),
    "vanishing_depth": (
        sr.mlp(7, "sigmoid"),
        {},
        [_flat, *(_scale("backward", [f"dense_{d}"], 0.25 ** (6 - d)) for d in range(6))],
    ),
    "vanishing_time": (RNN, {}, [_flat, _set("backward_time", "t_7", None, 1e-6)]),
    "dead_relu": (None, {}, [_set("activations", "dead_frac", "dense_1", 1.0)]),
    "dead_relu_majority": (None, {}, [_flat, _set("activations", "dead_frac", "dense_2", 0.7, 100)]),
    "saturated_output": (None, {}, [_flat, _set("activations", "saturated_frac", "dense_3", 0.97)]),
    "saturated_hidden": (sr.mlp(4, "tanh"), {}, [_set("activations", "saturated_frac", "dense_1", 0.85)]),
    "input_gap": (None, {"n_features": 10}, [_features([5, 6, 7, 8, 9], 300.0)]),
    "input_spread": (None, {"n_features": 10}, [_features([i], 10 ** (i * 0.7)) for i in range(10)]),
    "input_unscaled": (None, {}, [_flat, _features(list(range(8)), 255.0)]),
    "input_outliers": (None, {}, [_outliers]),
    "no_gradient": (None, {}, [_no_gradient("dense_2")]),
    "zero_gradient": (None, {}, [_no_gradient("dense_1", missing=False)]),
    "constant_layer": (
        None,
        {},
        [_set("activations", "batch_std", "dense_1", 0.0), _set("activations", "batch_std", "dense_2", 0.0)]
        + [_no_gradient("dense_0")],
    ),
    "lr_diverging": (None, {}, [_update_ratio(0.4), _rising]),
    "lr_oscillating": (None, {}, [lambda data: sr.flat_loss(data, 2.3), _update_ratio(0.25)]),
    "chain": (None, {}, [_update_ratio(0.4), _rising, _set("activations", "dead_frac", "dense_2", 1.0, 250)]),
    "loss_broadcast": (None, {}, [_set("loss_inputs", "broadcast", None, 1.0)]),
    "class_ids_in_one_hot_loss": (
        None,
        {},
        [_set("loss_inputs", "labels_broadcast", None, 1.0), _set("loss_inputs", "classes", None, 10.0)]
        + [_set("loss_inputs", "labels_max", None, 9.0)],
    ),
    "one_hot_rows_as_ids": (
        None,
        {},
        [_set("loss_inputs", "labels_as_index", None, 1.0), _set("loss_inputs", "classes", None, 4.0)],
    ),
    "gradient_zero": (
        None,
        {},
        [_set("gradient_check", "autodiff", "dense_1", 0.0), _set("gradient_check", "rel_error", "dense_1", 1.0)],
    ),
    "gradient_sign": (
        None,
        {},
        [_set("gradient_check", "scale", "dense_1", -1.0), _set("gradient_check", "rel_error", "dense_1", 2.0)],
    ),
    "gradient_upstream": (None, {}, [_set("gradient_check", "upstream_ratio", "dense_2", 1.0)]),
}


@pytest.fixture(scope="module")
def cards() -> dict[str, list[causes.Cause]]:
    found = {}
    for name, (layers, kwargs, edits) in SCENARIOS.items():
        data = sr.healthy(layers, **kwargs)
        for edit in edits:
            edit(data)
        found[name] = [causes.Cause.from_json(c) for c in sr.events(data)]
    return found


def _all(cards) -> list[causes.Cause]:
    return [card for found in cards.values() for card in found]


def test_every_scenario_gives_cards_and_every_detector_is_covered(cards):
    """Every detector that synthetic runs can feed: a new one needs a scenario here."""
    assert [name for name, found in cards.items() if not found] == []
    logged = set(sr.healthy()) | set(sr.healthy(RNN))
    fed = {d.CAUSE_KIND for d in engine.DETECTORS if set(d.REQUIRES) <= logged}
    assert fed - {card.kind for card in _all(cards)} == set()


def test_every_evidence_is_labelled_in_plain_words(cards):
    for card in _all(cards):
        for item in card.evidence:
            assert item.label == wording.EVIDENCE_LABELS[item.metric], (card.id, item)
    identifiers = [m for m in wording.EVIDENCE_LABELS if "_" in m or "." in m] + list(causes.CAUSE_KINDS)
    for metric, label in wording.EVIDENCE_LABELS.items():
        assert label and not [i for i in identifiers if i in label], (metric, label)
    with pytest.raises(KeyError):
        causes.evidence("a_metric_without_a_label", 1, 0, ">")


def test_every_label_belongs_to_a_metric_the_detectors_use():
    source = "\n".join(path.read_text() for path in ANALYSIS.rglob("*.py") if path.name != "wording.py")
    nan_kinds = {kind for _, kind, _ in nan_inf.PHASES}
    depth_metrics = {
        flow.Profile(np.zeros(0), None, np.zeros(0), what).metric for what in (flow.KERNEL_RMS, flow.BACKWARD_NORM)
    }
    for metric in wording.EVIDENCE_LABELS:
        used = f'"{metric}"' in source or metric in depth_metrics
        used |= metric.endswith(".nan+inf") and metric.split(".")[0] in nan_kinds
        assert used, metric


HOLDS = {">": float.__gt__, "<": float.__lt__, ">=": float.__ge__, "<=": float.__le__, "==": float.__eq__}


def test_every_evidence_holds(cards):
    """Evidence is what the rule found: `value op threshold` is true (never "0 > 0")."""
    for card in _all(cards):
        for item in card.evidence:
            assert HOLDS[item.op](item.value, item.threshold), (card.id, item)


def test_titles_and_advice_name_causes_in_words_not_by_their_kind_ids(cards):
    chained = [card for card in _all(cards) if card.caused_by]
    assert any(card.advice.startswith("Root cause first: ") for card in chained)
    for card in _all(cards):
        for text in (card.title, card.advice):
            assert not [kind for kind in causes.CAUSE_KINDS if kind in text], (card.id, text)


def test_no_doubled_words(cards):
    for card in _all(cards):
        texts = [card.title, card.advice, *(f"{e.label} {e.note}" for e in card.evidence)]
        for text in texts:
            doubled = re.search(r"\b(\w+)\s+\1\b", text, re.IGNORECASE)
            assert doubled is None, (card.id, text)


def _figures(text: str, suffix: str) -> list[str]:
    return re.findall(r"(-?[\d.]+(?:e-?\d+)?)" + suffix, text)


def test_one_figure_per_quantity_title_factors_and_percentages_are_the_evidence(cards):
    """A factor ("9560x") or a share ("86.7 %") in a title is an evidence value written the same way."""
    checked = 0
    for card in _all(cards):
        values = [e.value for e in card.evidence]
        for figure in _figures(card.title, "x\\b"):
            assert figure in {wording.num(v) for v in values}, (card.id, card.title, values)
            checked += 1
        for figure in _figures(card.title, " %"):
            assert figure in {wording.num(100 * v) for v in values}, (card.id, card.title, values)
            checked += 1
    assert checked >= 10


def test_the_text_report_writes_evidence_without_nested_brackets_or_identifiers(cards):
    for card in _all(cards):
        for item in card.evidence:
            line = report._evidence(item)
            identifier = "_" in item.metric or "." in item.metric  # "loss" is a word
            assert line.startswith(item.label + " = ") and not (identifier and item.metric in line), line
            assert "(" not in item.note and ")" not in item.note, line
