"""loss_shape_mismatch: the loss combines y_true and y_pred whose shapes do not line up.

The capture reads the loss's graph at trace time (`capture/loss_check.py`) and logs, per loss
term, what it found; nothing here is inferred from training curves, which look normal (the
loss plateaus, gradients are fine):

- a mutual broadcast, e.g. y_true (B,) against y_pred (B, 1) giving (B, B) in a `keras.losses.Loss`
  subclass (keras-team/keras #19662): every prediction is compared with every target, and the
  best the model can do is predict the batch mean. Definite: an error, at the first logged step;
- labels of one column broadcast across y_pred's C > 1 columns whose values are class ids (whole
  numbers in [0, C-1], not all 0): sparse labels in a loss that expects one-hot rows. A quantile
  or mixture loss broadcasts a continuous target on purpose, hence the values decide;
- one-hot-shaped labels (C columns, whole numbers in {0, 1}) read as class indices by a sparse loss.
"""

from __future__ import annotations

import re

import numpy as np

from tb_gradcause.analysis.causes import Cause, evidence
from tb_gradcause.analysis.reader import RunData, Series
from tb_gradcause.analysis.signals import wording
from tb_gradcause.rows import RowInfo

CAUSE_KIND = "loss_shape_mismatch"
REQUIRES: tuple[str, ...] = ("loss_inputs",)


def detect(run: RunData) -> list[Cause]:
    series = run["loss_inputs"]
    causes = []
    for r, row in enumerate(series.rows):
        flags = {stat: series.stat(stat)[:, r] > 0 for stat in ("broadcast", "labels_broadcast", "labels_as_index")}
        labels = _Labels.of(series, r)
        if flags["broadcast"].any():
            causes.append(_broadcast(row, series.steps[flags["broadcast"]]))
        elif flags["labels_broadcast"].any() and labels.class_ids(labels.classes):
            causes.append(_sparse_labels(row, series.steps[flags["labels_broadcast"]], labels))
        elif flags["labels_as_index"].any() and labels.class_ids(2):
            causes.append(_one_hot_labels(row, series.steps[flags["labels_as_index"]], labels))
    return causes


class _Labels:
    """The label values seen at the logged steps of one loss term."""

    def __init__(self, low: float, high: float, whole: float, classes: float):
        self.low, self.high, self.whole, self.classes = low, high, whole, classes

    @classmethod
    def of(cls, series: Series, r: int) -> _Labels:
        def reduce(stat: str, how) -> float:
            values = series.stat(stat)[:, r].astype(np.float64)
            values = values[np.isfinite(values)]
            return float(how(values)) if len(values) else float("nan")

        return cls(
            reduce("labels_min", np.min),
            reduce("labels_max", np.max),
            reduce("labels_integral", np.min),
            reduce("classes", np.max),
        )

    def class_ids(self, n: float) -> bool:
        """Every value a whole number in [0, n-1], and not all 0: ids of n classes."""
        return self.whole == 1.0 and self.low >= 0 and 1 <= self.high <= n - 1


def _bare_shapes(text: str) -> str:
    """Shapes without brackets for evidence notes: "Sub of (32, 1) and (32,) ..." -> "Sub of 32×1 and 32 ..."."""
    return re.sub(r"\(([^()]*)\)", lambda m: "×".join(d.strip() for d in m.group(1).split(",") if d.strip()), text)


def _loss(row: RowInfo) -> str:
    return row.facts.get("loss", "the loss") + (f" ({row.name})" if row.name != "loss" else "")


def _shapes(row: RowInfo) -> tuple[str, str]:
    return row.facts.get("y_true_shape", "?"), row.facts.get("y_pred_shape", "?")


def _broadcast(row: RowInfo, steps: np.ndarray) -> Cause:
    y_true, y_pred = _shapes(row)
    where = row.facts.get("broadcast", "")
    op = row.facts.get("broadcast_op", "")
    return _found(
        "error",
        steps,
        f"The loss {_loss(row)} broadcasts y_true {y_true} against y_pred {y_pred}: "
        "every prediction is compared with every target",
        "loss_broadcast",
        f"{_bare_shapes(where)} at {op}, found in the loss's graph at trace time" if where else "",
        [],
        f"{_loss(row)} gets y_true of shape {y_true} and y_pred of shape {y_pred} and combines them "
        "elementwise, so each operand is stretched along the other's axis: a matrix of every prediction "
        "against every target of the batch, whose minimum is predicting the batch mean for every sample. "
        "The loss plateaus and the model ignores its input, while the gradients look normal. Give both the "
        "same shape: targets as (N, 1) (`y.reshape(-1, 1)`), or align them in the loss "
        "(`y_true = keras.ops.reshape(y_true, keras.ops.shape(y_pred))`). Keras aligns the ranks for its "
        "built-in losses and plain loss functions passed to `compile`, not inside a `keras.losses.Loss` "
        "subclass's `call` or a hand-written loss.",
    )


def _found(severity: str, steps: np.ndarray, title: str, flag: str, note: str, more: list, advice: str) -> Cause:
    """A run-wide cause over `steps` whose first evidence is the trace-time `flag` (with `note`)."""
    first = int(steps[0])
    return Cause.create(
        CAUSE_KIND,
        severity,
        None,
        first,
        int(steps[-1]),
        title,
        [evidence(flag, 1, 0, ">", first, note=note), *more],
        advice,
    )


def _label_evidence(labels: _Labels, limit: float, note: str) -> list:
    return [
        evidence("labels_max", labels.high, limit, "<=", note=f"the smallest label is {wording.num(labels.low)}"),
        evidence("labels_integral", labels.whole, 1.0, ">=", note=note),
    ]


def _sparse_labels(row: RowInfo, steps: np.ndarray, labels: _Labels) -> Cause:
    y_true, y_pred = _shapes(row)
    classes = int(labels.classes)
    return _found(
        "warning",
        steps,
        f"The loss {_loss(row)} gets class ids {y_true} where y_pred has {classes} columns {y_pred}",
        "labels_broadcast",
        f"{_bare_shapes(row.facts.get('labels_broadcast', ''))}, found in the loss's graph at trace time",
        _label_evidence(labels, labels.classes - 1, "every label a whole number: class ids"),
        f"The labels hold one class id per sample (whole numbers from {wording.num(labels.low)} to "
        f"{wording.num(labels.high)}), but {_loss(row)} expects one-hot rows like y_pred's {classes} columns: "
        "each id is compared with every class's output, which teaches nothing about the right class. Use the "
        "sparse form of the loss (`sparse_categorical_crossentropy`, `SparseCategoricalCrossentropy`), or "
        f"one-hot encode the labels (`keras.utils.to_categorical(y, {classes})`).",
    )


def _one_hot_labels(row: RowInfo, steps: np.ndarray, labels: _Labels) -> Cause:
    y_true, y_pred = _shapes(row)
    return _found(
        "warning",
        steps,
        f"The loss {_loss(row)} reads one-hot labels {y_true} as class indices",
        "labels_as_index",
        f"{row.facts.get('labels_as_index', '')} reads y_true as indices, found in the loss's graph",
        _label_evidence(labels, 1, "every label 0 or 1: one-hot rows"),
        f"y_true has the shape of y_pred {y_pred} with values 0 and 1 (one-hot rows), but {_loss(row)} reads "
        "it as class indices, so it picks the outputs of classes 0 and 1 instead of the labelled class. Pass "
        "class ids (`np.argmax(y, axis=-1)`) to the sparse loss, or use its one-hot form "
        "(`categorical_crossentropy`).",
    )
