"""The records of a diagnosis: a run's `Cause`s, each with its `Evidence`, and the `RunDiagnosis`
that holds them. `to_json`/`from_json` are their one JSON form (the CLI's `--json`, the tab's
`events` route), so a saved report reads back into the same objects."""

from __future__ import annotations

import dataclasses
from typing import Any

from tb_gradcause.analysis import json_numbers
from tb_gradcause.analysis.signals import wording

CAUSE_KINDS: tuple[str, ...] = (
    "nan_inf",
    "exploding_gradient",
    "vanishing_gradient",
    "dead_relu",
    "saturated_activation",
    "input_scale",
    "disconnected_gradient",
    "learning_rate_too_high",
    "loss_shape_mismatch",
    "wrong_gradient",
)
SEVERITIES: tuple[str, ...] = ("info", "warning", "error")
OPS = frozenset({">", "<", ">=", "<=", "=="})


@dataclasses.dataclass(frozen=True)
class Evidence:
    """One number behind a cause: `value op threshold` held (at `step`, if it is about one step).

    `metric` is the stable identifier for tools; `label` says in plain words what the value is
    (one wording per metric, `wording.EVIDENCE_LABELS`); `note` adds this event's particulars."""

    metric: str
    label: str
    value: float
    threshold: float
    op: str
    step: int | None = None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; numbers rounded for people, NaN/Inf as TensorBoard's strings."""
        result = dataclasses.asdict(self)
        return {k: json_numbers.number(v, json_numbers.EVIDENCE_DIGITS) for k, v in result.items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Evidence:
        return cls(
            metric=data["metric"],
            label=data["label"],
            value=json_numbers.parse(data["value"]),
            threshold=json_numbers.parse(data["threshold"]),
            op=data["op"],
            step=data["step"],
            note=data["note"],
        )


def evidence(
    metric: str,
    value: float,
    threshold: float,
    op: str,
    step: int | None = None,
    note: str = "",
) -> Evidence:
    """`Evidence` labelled with its metric's plain wording (a metric without one is a KeyError)."""
    if op not in OPS:
        raise ValueError(f"unknown evidence op {op!r}")
    if metric not in wording.EVIDENCE_LABELS:
        raise KeyError(f"evidence metric {metric!r} has no plain label in wording.EVIDENCE_LABELS")
    return Evidence(
        metric=metric,
        label=wording.EVIDENCE_LABELS[metric],
        value=float(value),
        threshold=float(threshold),
        op=op,
        step=None if step is None else int(step),
        note=note,
    )


@dataclasses.dataclass
class Cause:
    """A diagnosed problem; `id` is stable within a run: f"{kind}:{layer or 'run'}:{first_step}".

    `layer` is None for a run-wide cause and "input" for the model's inputs; `caused_by` lists the
    ids of the causes that explain this one (the first is the chain's link)."""

    id: str
    kind: str
    severity: str
    layer: str | None
    first_step: int
    last_step: int
    title: str
    evidence: list[Evidence]
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
        evidence: list[Evidence],
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
        result = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        result["evidence"] = [item.to_json() for item in self.evidence]
        result["caused_by"] = list(self.caused_by)
        return result

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cause:
        fields = {field.name: data[field.name] for field in dataclasses.fields(cls)}
        fields["evidence"] = [Evidence.from_json(item) for item in data["evidence"]]
        fields["caused_by"] = list(data["caused_by"])
        return cls(**fields)


@dataclasses.dataclass
class RunDiagnosis:
    """One run's diagnosis: its causes in step order, the cause kinds checked, and those that could
    not be checked (`{kind: why}`, e.g. statistics the run did not log)."""

    causes: list[Cause]
    checked: list[str]
    skipped: dict[str, str]

    @property
    def worst(self) -> str | None:
        """The most severe cause's severity (None without causes)."""
        return max(self.causes, key=lambda c: c.rank).severity if self.causes else None

    def to_json(self) -> dict[str, Any]:
        """`{"events": [cause, ...], "checked": [...], "skipped": {...}}`, as the CLI and the tab give it."""
        return {
            "events": [cause.to_json() for cause in self.causes],
            "checked": list(self.checked),
            "skipped": dict(self.skipped),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunDiagnosis:
        """The objects back from `to_json`'s dict (e.g. one run of `tb-gradcause report --json`)."""
        return cls([Cause.from_json(c) for c in data["events"]], list(data["checked"]), dict(data["skipped"]))
