"""The `Cause` record: one diagnosed problem of a run, with its evidence, advice and causes."""

from __future__ import annotations

import dataclasses
from typing import Any

from tb_gradcause.analysis import json_numbers

CAUSE_KINDS: tuple[str, ...] = (
    "nan_inf",
    "exploding_gradient",
    "vanishing_gradient",
    "dead_relu",
    "saturated_activation",
    "input_scale",
    "disconnected_gradient",
    "learning_rate_too_high",
)
SEVERITIES: tuple[str, ...] = ("info", "warning", "error")
OPS = frozenset({">", "<", ">=", "<=", "=="})


def evidence(
    metric: str,
    value: float,
    threshold: float,
    op: str,
    step: int | None = None,
    note: str = "",
) -> dict[str, Any]:
    """One piece of evidence: `value op threshold` held (at `step`, if it is about one step)."""
    if op not in OPS:
        raise ValueError(f"unknown evidence op {op!r}")
    return {
        "metric": metric,
        "value": float(value),
        "threshold": float(threshold),
        "op": op,
        "step": None if step is None else int(step),
        "note": note,
    }


@dataclasses.dataclass
class Cause:
    """A diagnosed problem; `id` is stable within a run: f"{kind}:{layer or 'run'}:{first_step}"."""

    id: str
    kind: str
    severity: str
    layer: str | None
    first_step: int
    last_step: int
    title: str
    evidence: list[dict[str, Any]]
    advice: str
    caused_by: list[str] = dataclasses.field(default_factory=list)

    @classmethod
    def create(
        cls,
        kind: str,
        severity: str,
        layer: str | None,
        first_step: int,
        last_step: int,
        title: str,
        evidence: list[dict[str, Any]],
        advice: str,
    ) -> Cause:
        """Build an event with its id derived from kind, layer and first step."""
        if kind not in CAUSE_KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        if severity not in SEVERITIES:
            raise ValueError(f"unknown severity {severity!r}")
        first, last = int(first_step), int(last_step)
        return cls(
            id=f"{kind}:{layer or 'run'}:{first}",
            kind=kind,
            severity=severity,
            layer=layer,
            first_step=first,
            last_step=max(first, last),
            title=title,
            evidence=evidence,
            advice=advice,
        )

    @property
    def rank(self) -> int:
        """0 for info, 1 for warning, 2 for error."""
        return SEVERITIES.index(self.severity)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (non-finite evidence numbers become "NaN"/"Infinity" strings)."""
        result = dataclasses.asdict(self)
        result["evidence"] = [
            {k: json_numbers.number(v, json_numbers.EVIDENCE_DIGITS) for k, v in item.items()} for item in self.evidence
        ]
        result["caused_by"] = list(self.caused_by)
        return result
