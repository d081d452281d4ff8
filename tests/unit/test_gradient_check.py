"""The gradient check's numbers (`gradient_check.compare`) and what the wrong_gradient detector reads in them."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tb_gradcause.capture import gradient_check
from tb_gradcause.metadata import KIND_STATS
from tests.support import synth_runs as sr

STATS = KIND_STATS["gradient_check"]


def _compare(ad, fd, ad2=None, noise=1e-6, identity=0.0) -> dict[str, float]:
    ad = tf.constant(ad, tf.float64)
    ad2 = 2 * ad if ad2 is None else tf.constant(ad2, tf.float64)
    row = gradient_check.compare(ad, ad2, tf.constant(fd, tf.float64), tf.constant(noise), tf.constant(identity))
    return dict(zip(STATS, row.numpy().tolist(), strict=True))


def test_compare_measures_error_scale_and_linearity():
    fd = [1.0, -2.0, 0.5]
    same = _compare(fd, fd)
    assert same["rel_error"] == 0 and same["scale"] == 1 and same["upstream_ratio"] == 2
    flipped = _compare([-v for v in fd], fd)
    assert flipped["rel_error"] == pytest.approx(2) and flipped["scale"] == pytest.approx(-1)
    doubled = _compare([2 * v for v in fd], fd)
    assert doubled["rel_error"] == pytest.approx(0.5) and doubled["scale"] == pytest.approx(2)
    zero = _compare([0.0, 0.0, 0.0], fd)
    assert zero["rel_error"] == 1 and zero["autodiff"] == 0 and np.isnan(zero["upstream_ratio"])
    ignores = _compare(fd, fd, ad2=fd)
    assert ignores["upstream_ratio"] == pytest.approx(1)
    constant = _compare([1.0, 1.0, 1.0], [0.0, 0.0, 0.0])
    assert constant["numeric"] == 0 and np.isnan(constant["scale"])


def _checked(**stats: float) -> list[dict]:
    """The wrong_gradient events of a healthy synthetic run whose dense_1 input row has `stats`."""
    data = sr.healthy()
    series = data["gradient_check"]
    [row] = series.rows_of("dense_1")
    for stat, value in stats.items():
        series.stat(stat)[:, row] = value
    return sr.events(data, "wrong_gradient")


@pytest.mark.parametrize(
    ("stats", "says"),
    [
        ({"autodiff": 0.0, "rel_error": 1.0}, "is zero where the function changes"),
        ({"scale": -1.0, "rel_error": 2.0}, "has the wrong sign"),
        ({"scale": 3.0, "autodiff": 15.0, "numeric": 5.0, "rel_error": 2 / 3}, "has the wrong magnitude"),
        ({"scale": 0.2, "autodiff": 5.0, "numeric": 5.0, "rel_error": 1.2}, "does not match the function"),
        ({"upstream_ratio": 1.0}, "ignores the upstream gradient"),
    ],
)
def test_each_finding_is_an_error_at_its_layer(stats, says):
    [event] = _checked(**stats)
    assert event["layer"] == "dense_1" and event["severity"] == "error" and says in event["title"]


@pytest.mark.parametrize(
    "stats",
    [
        {},  # a correct gradient
        {"rel_error": 0.05, "scale": 0.95},  # within the tolerance (a kink crossed)
        {"numeric": 1e-4, "autodiff": 5.0, "rel_error": 1.0},  # the function is flat here: a surrogate gradient
        {"scale": -0.5, "rel_error": 1.5, "identity": 1.0},  # identity forward: gradient reversal
    ],
)
def test_correct_and_by_design_gradients_are_silent(stats):
    assert _checked(**stats) == []
