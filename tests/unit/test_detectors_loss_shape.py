"""loss_shape_mismatch: what the loss did with y_true and y_pred (found at trace time), and the label values."""

from __future__ import annotations

import numpy as np

from tb_gradcause import metadata
from tb_gradcause.analysis.reader import Series
from tb_gradcause.rows import LOSS, RowInfo
from tests.support import synth_runs as sr


def _loss_inputs(
    data, facts: dict, classes: float = 1.0, low: float = 0.0, high: float = 1.0, whole: float = 1.0, **found
):
    """Replace the run's `loss_inputs` series by one loss term with these facts, findings and labels."""
    steps = data["loss_inputs"].steps
    stats = metadata.KIND_STATS["loss_inputs"]
    values = np.zeros((len(steps), 1, len(stats)), dtype=np.float32)
    row = dict(found, classes=classes, labels_min=low, labels_max=high, labels_integral=whole)
    for name, value in row.items():
        values[:, 0, stats.index(name)] = value
    facts = {"loss": "ManualMSE 'manual_mse'", "y_true_shape": "(32,)", "y_pred_shape": "(32, 1)", **facts}
    data["loss_inputs"] = Series(
        "loss_inputs", steps, steps * 0.01, values, (RowInfo(LOSS, role=LOSS, facts=facts),), stats
    )


def test_a_healthy_run_is_silent_and_checked():
    data = sr.healthy()
    assert sr.events(data, "loss_shape_mismatch") == []


def test_a_mutual_broadcast_is_an_error_from_the_first_logged_step_with_shapes_loss_and_fix():
    data = sr.healthy()
    _loss_inputs(
        data, {"broadcast": "Sub of (32, 1) and (32,) gives (32, 32)"}, broadcast=1, low=-3.1, high=2.9, whole=0
    )
    [event] = sr.events(data, "loss_shape_mismatch")
    assert (event["severity"], event["layer"], event["first_step"], event["last_step"]) == ("error", None, 0, 390)
    assert event["title"] == (
        "The loss ManualMSE 'manual_mse' broadcasts y_true (32,) against y_pred (32, 1): "
        "every prediction is compared with every target"
    )
    assert event["evidence"][0]["note"].startswith("Sub of 32×1 and 32 gives 32×32")
    assert "batch mean" in event["advice"] and "(N, 1)" in event["advice"]


def test_class_ids_broadcast_across_the_classes_are_a_warning():
    data = sr.healthy()
    facts = {"loss": "kl_divergence", "y_true_shape": "(32, 1)", "y_pred_shape": "(32, 10)"}
    _loss_inputs(data, facts, classes=10, high=9, labels_broadcast=1)
    [event] = sr.events(data, "loss_shape_mismatch")
    assert event["severity"] == "warning"
    assert event["title"] == "The loss kl_divergence gets class ids (32, 1) where y_pred has 10 columns (32, 10)"
    assert "to_categorical(y, 10)" in event["advice"] and "from 0 to 9" in event["advice"]


def test_a_target_broadcast_across_columns_that_is_no_class_id_is_silent():
    """Quantile and mixture losses broadcast a (B, 1) target on purpose: the values decide."""
    facts = {"y_true_shape": "(32, 1)", "y_pred_shape": "(32, 3)"}
    for low, high, whole in [(-2.5, 3.1, 0.0), (0, 7, 1.0), (-1, 1, 1.0), (0, 0, 1.0)]:  # continuous, > C-1, < 0, all 0
        data = sr.healthy()
        _loss_inputs(data, facts, classes=3, low=low, high=high, whole=whole, labels_broadcast=1)
        assert sr.events(data, "loss_shape_mismatch") == [], (low, high, whole)


def test_one_hot_rows_read_as_indices_are_a_warning_only_for_zeros_and_ones():
    facts = {"loss": "TakeSparse 'take_sparse'", "y_true_shape": "(32, 4)", "y_pred_shape": "(32, 4)"}
    data = sr.healthy()
    _loss_inputs(data, {**facts, "labels_as_index": "GatherV2"}, classes=4, labels_as_index=1)
    [event] = sr.events(data, "loss_shape_mismatch")
    assert event["severity"] == "warning" and "reads one-hot labels (32, 4)" in event["title"]
    data = sr.healthy()
    _loss_inputs(data, facts, classes=4, high=3, labels_as_index=1)  # ids 0-3 of shape (32, 4): no one-hot rows
    assert sr.events(data, "loss_shape_mismatch") == []


def test_a_run_without_the_record_is_skipped_with_the_reason():
    data = sr.healthy()
    del data["loss_inputs"]
    result = sr.engine.analyze(sr.to_run(data))
    assert "loss_inputs" in result["skipped"]["loss_shape_mismatch"]
