"""The `overview` route's lines: one per run, what the tab's run table shows before any panel loads.

A line sums up a run's causes as the CLI's summary line does (`report.run_summary`, also sent as
text), so a logdir of 100 runs is listed from one request rather than 100.
"""

from __future__ import annotations

import hashlib
from typing import Any

from tb_gradcause.analysis import causes
from tb_gradcause.analysis.causes import RunDiagnosis
from tb_gradcause.analysis.integrity import Damage
from tb_gradcause.cli import report


def damage_json(damage: Damage) -> dict[str, Any]:
    """A damaged event file as the tab's banner shows it: its fields and the CLI's sentence."""
    return {**damage.to_json(), "text": damage.describe()}


def run_line(run: str, result: RunDiagnosis) -> dict[str, Any]:
    """A run's line: its cause counts by severity and its worst cause (the most severe, then the
    earliest: the one the CLI's summary line names). The plugin adds its damaged event files."""
    found = result.causes
    worst = max(found, key=lambda c: (c.rank, -c.first_step), default=None)
    return {
        "run": run,
        "events": len(found),
        "counts": {severity: sum(c.severity == severity for c in found) for severity in causes.SEVERITIES},
        "worst": worst and {key: getattr(worst, key) for key in ("id", "severity", "kind", "layer", "first_step")},
        "summary": report.run_summary(result),
    }


def unreadable_line(run: str, why: str) -> dict[str, Any]:
    """The line of a run with gradcause data the reader refused (a newer format version)."""
    return {**_blank_line(run, f"not readable: {why}"), "unreadable": why}


def pending_line(run: str) -> dict[str, Any]:
    """The line of a run not diagnosed yet (the overview's time budget ran out first)."""
    return {**_blank_line(run, "not checked yet"), "pending": True}


def _blank_line(run: str, summary: str) -> dict[str, Any]:
    return {
        "run": run,
        "events": 0,
        "counts": {severity: 0 for severity in causes.SEVERITIES},
        "worst": None,
        "summary": summary,
    }


def signature(*parts: object) -> str:
    """A short stable digest of what a run's panel shows: the tab reloads a panel when it changes."""
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:16]
