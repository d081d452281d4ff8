"""The `RowInfo` of the layers and variables a step captures (conventions: `tb_gradcause.rows`)."""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from tb_gradcause import stats, summary
from tb_gradcause.capture.hooks import Slot
from tb_gradcause.capture.model_walk import LayerEntry
from tb_gradcause.rows import RowInfo


def layer_row(slot: Slot, tensor: tf.Tensor, max_units: int | None) -> RowInfo:
    """The row of a watched layer's output (or of a signal of its shape)."""
    e = slot.entry
    return RowInfo(
        name=e.path,
        layer=e.path,
        layer_class=type(e.layer).__name__,
        activation=e.activation,
        shape=_shape(tensor)[1:],
        recurrent=e.recurrent,
        role="output",
        depth=slot.order,
        facts={"dtype": _dtype(tensor), **stats.sample_facts(_shape(tensor), max_units)},
    )


def variable_rows(variables: Sequence, owner: dict[int, LayerEntry], depth: dict[int, int]) -> list[RowInfo]:
    """Rows of trainable variables: `<layer path>/<role>` when a watched layer owns the variable
    (`owner`, by id), else the variable's own path; `depth` maps id(layer) to its call order."""
    rows, used = [], set()
    for v in variables:
        e = owner.get(id(v))
        role = getattr(v, "name", "").split("/")[-1].split(":")[0]
        name = f"{e.path}/{role}" if e is not None else summary.variable_name(v)
        if name in used:
            name = summary.variable_name(v)
        used.add(name)
        rows.append(
            RowInfo(
                name=name,
                layer=e.path if e is not None else "",
                layer_class=type(e.layer).__name__ if e is not None else "",
                activation=e.activation if e is not None else "",
                shape=_shape(v),
                recurrent=e.recurrent if e is not None else False,
                role=role,
                depth=depth.get(id(e.layer), -1) if e is not None else -1,
                facts={"dtype": _dtype(v), "path": summary.variable_name(v)},
            )
        )
    return rows


def _shape(v) -> list[int]:
    shape = tf.TensorShape(v.shape)
    return [d if d is not None else -1 for d in shape.as_list()] if shape.rank is not None else []


def _dtype(v) -> str:
    return tf.as_dtype(v.dtype).name
