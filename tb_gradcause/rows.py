"""What a row of a summary matrix is: the one `RowInfo` type that writers log and readers get back.

Each kind's summary is a `[rows, stats]` matrix; its rows are described once per tag in the
metadata (`plugin_data_pb2.RowInfo`). Writers (the ops, the callback, synthetic runs) build
`RowInfo` values and the reader returns them, so both sides share the conventions below.

Conventions:
- `name` is unique within a kind: a layer's path for layer rows ("model/dense_1"), the
  variable's path for variable rows ("model/dense_1/kernel"), `feature_name(input, i)` for
  input features and `LOSS` for the loss row.
- `layer` is the owning layer's path ("" when unknown); `role` is the variable's role
  ("kernel", "bias", ...), "output" for layer outputs, or the input's name for input features.
- `depth` is the layer's forward position, -1 when unknown (inputs, the loss).
- `shape` is per sample for outputs and signals (no batch axis), whole for variables.
- `facts` are strings: "dtype", "path", "features", and the unit-sampling facts of
  `stats.sample_facts`. Anything that changes from step to step (a sequence length) is a stat
  column, never a fact: metadata is written once per tag.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from tb_gradcause import plugin_data_pb2

LOSS = "loss"
OUTPUT_ROLE = "output"


def feature_name(input_name: str, index: int) -> str:
    """The row name of feature `index` (last axis) of a model input."""
    return f"{input_name}/feature_{index}"


@dataclasses.dataclass(frozen=True)
class RowInfo:
    """One row of a kind's matrix (`plugin_data_pb2.RowInfo` as a frozen value)."""

    name: str
    layer: str = ""
    layer_class: str = ""
    activation: str = ""
    shape: Sequence[int] = ()  # stored as a tuple
    recurrent: bool = False
    role: str = ""
    depth: int = -1
    facts: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        object.__setattr__(self, "facts", {str(k): str(v) for k, v in self.facts.items()})

    @property
    def owner(self) -> str:
        """The layer this row belongs to (its own name for layer rows written without `layer`)."""
        return self.layer or self.name

    def replace(self, **changes: Any) -> RowInfo:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_proto(cls, row: plugin_data_pb2.RowInfo) -> RowInfo:
        return cls(
            name=row.name,
            layer=row.layer,
            layer_class=row.layer_class,
            activation=row.activation,
            shape=tuple(row.shape),
            recurrent=row.recurrent,
            role=row.role,
            depth=row.depth,
            facts=dict(row.facts),
        )

    def to_proto(self) -> plugin_data_pb2.RowInfo:
        return plugin_data_pb2.RowInfo(
            name=self.name,
            layer=self.layer,
            layer_class=self.layer_class,
            activation=self.activation,
            shape=list(self.shape),
            recurrent=self.recurrent,
            role=self.role,
            depth=self.depth,
            facts=dict(self.facts),
        )

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "shape": list(self.shape), "facts": dict(self.facts)}
