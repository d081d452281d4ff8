"""input_scale: mixed feature scales, unscaled inputs in trouble, id inputs, outlier batches."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tb_gradcause.analysis.signals import wording
from tb_gradcause.testing import synthetic
from tests.support import synth_runs as sr


def _scale_features(data, features, factor: float) -> None:
    kd = data["inputs"]
    for stat in ("mean", "std", "min", "max"):
        kd.stat(stat)[:, features] *= factor


def test_features_on_wildly_different_scales_are_named_with_their_scales():
    data = sr.healthy(n_features=10)
    _scale_features(data, [5, 6, 7, 8, 9], 300.0)
    [event] = sr.events(data, "input_scale")
    assert (event["layer"], event["severity"]) == ("input", "info")  # the loss converges anyway
    assert "features 5–9" in event["advice"] and "features 5–9" in event["title"]
    assert event["title"].startswith("In the input, features 5–9 are at least ")
    assert "input input" not in event["advice"]
    # One figure for the gap: the rule's, in the title and the evidence; its note and the advice give the two scales.
    gap = event["evidence"][0]
    assert gap["value"] >= 100 and f"at least {wording.num(gap['value'])}x larger" in event["title"]
    top, bottom = (float(x) for x in re.findall(r"[≥≤] ([\d.]+)", gap["note"]))
    assert top / bottom == pytest.approx(gap["value"], rel=0.01) and gap["note"].split(": ")[1] in event["advice"]
    sr.flat_loss(data)
    [event] = sr.events(data, "input_scale")
    assert event["severity"] == "warning"


def test_moderately_different_scales_and_zero_padding_features_are_fine():
    data = sr.healthy(n_features=6)
    _scale_features(data, [4, 5], 30.0)
    kd = data["inputs"]
    for stat in ("mean", "std", "min", "max"):
        kd.stat(stat)[:, 0] = 0.0
    assert sr.events(data, "input_scale") == []


def test_uniformly_unscaled_inputs_only_matter_when_training_is_in_trouble():
    data = sr.healthy()
    _scale_features(data, list(range(8)), 255.0)
    assert sr.events(data, "input_scale") == []  # pixels 0-255 that train fine
    sr.flat_loss(data)
    [event] = sr.events(data, "input_scale")
    assert "unscaled" in event["title"]


def test_integer_token_ids_of_an_embedding_model_are_not_magnitudes():
    layers = [synthetic.Layer("embedding", 16, "", "Embedding"), synthetic.Layer("out", 1, "sigmoid")]
    data = sr.healthy(layers, n_features=8)
    kd = data["inputs"]
    kd.stat("min")[:] = 0
    kd.stat("max")[:, :4] = 3
    kd.stat("max")[:, 4:] = 4999
    sr.flat_loss(data)
    assert sr.events(data, "input_scale") == []


def test_outlier_batches_that_coincide_with_gradient_spikes():
    data = sr.healthy()
    kd, grads = data["inputs"], data["gradients"]
    for step in (120, 270):
        kd.stat("max")[kd.steps == step, 3] = 4e4
        grads.stat("l2")[grads.steps == step] *= 50
    [event] = sr.events(data, "input_scale")
    assert (event["first_step"], event["last_step"]) == (120, 270)
    assert "input/feature_3" in event["advice"] and "spike" in event["title"]


def test_an_outlier_batch_whose_spike_shows_in_a_layer_other_than_the_first():
    """Layers reading the input side by side (a VAE's mean and log-variance) have no depth order:
    the outlier's spike may show in the second one only (its exp amplifies it)."""
    data = sr.healthy()
    kd, grads = data["inputs"], data["gradients"]
    second = sr.layer_rows(grads, "dense_2")
    for step in (120, 270):
        kd.stat("max")[kd.steps == step, 3] = 4e4
        grads.stat("l2")[np.ix_(grads.steps == step, second)] *= 50
    [event] = sr.events(data, "input_scale")
    assert (event["first_step"], event["last_step"]) == (120, 270)
    assert event["evidence"][1]["note"] == "in dense_2"


def test_outliers_without_effect_on_the_gradients_are_left_alone():
    data = sr.healthy()
    kd = data["inputs"]
    kd.stat("max")[kd.steps == 120, 3] = 4e4
    assert sr.events(data, "input_scale") == []


def test_a_sparse_features_rare_values_are_no_outliers_even_with_a_gradient_spike():
    """[0, 1] pixel-like inputs, most features always 0: a rarely lit pixel is far from its own
    usual (near-0) mean in its own (near-0) stds, but not beyond the input's usual scale."""
    data = sr.healthy(n_features=12)
    kd, grads = data["inputs"], data["gradients"]
    for stat, value in (("mean", 0.0), ("std", 0.0), ("min", 0.0), ("max", 0.0)):
        kd.stat(stat)[:, :8] = value  # always-0 border pixels
    for stat, value in (("mean", 0.3), ("std", 0.3), ("min", 0.0), ("max", 1.0)):
        kd.stat(stat)[:, 8:11] = value
    kd.stat("mean")[:, 11], kd.stat("std")[:, 11] = 1e-3, 1e-3  # a pixel almost never lit...
    kd.stat("min")[:, 11], kd.stat("max")[:, 11] = 0.0, 0.01
    for step in (120, 270):
        kd.stat("max")[kd.steps == step, 11] = 1.0  # ...lit in two batches, ~1000 of its stds away
        grads.stat("l2")[grads.steps == step] *= 50
    assert sr.events(data, "input_scale") == []


def test_scales_spread_gradually_over_decades_are_a_warning_even_when_the_loss_falls():
    """Raw tabular columns (ages, counts, amounts): no 100x gap between neighbours, yet 1e5x apart."""
    data = sr.healthy(n_features=10)
    for i in range(10):
        _scale_features(data, [i], 10 ** (i * 0.7))  # neighbours 5x apart, 1 ... ~2e6
    [event] = sr.events(data, "input_scale")
    assert event["severity"] == "warning" and event["evidence"][0]["metric"] == "magnitude_over_median"
    assert f"~{wording.num(event['evidence'][0]['value'])}x the input's median feature scale" in event["title"]
    assert "features 8–9" in event["title"]


def test_a_gradual_spread_within_a_hundredfold_is_fine():
    data = sr.healthy(n_features=10)
    for i in range(10):
        _scale_features(data, [i], 10 ** (i * 0.15))  # 1 ... ~22
    assert sr.events(data, "input_scale") == []
