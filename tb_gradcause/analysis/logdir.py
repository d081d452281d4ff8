"""A logdir's diagnosis: every run's causes, and what could not be read, for the CLI and `diagnose`.

The tab diagnoses one run at a time through TensorBoard's data provider; a report on a logdir
also owes its reader an account of what it left out: runs in a newer format, runs without
gradcause data, and event files TensorBoard's loader stops reading before their end.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from tensorboard import errors

from tb_gradcause.analysis import engine, integrity, reader
from tb_gradcause.analysis.causes import RunDiagnosis


class UnusableLogdir(Exception):
    """The logdir or the run asked for cannot be reported on; the message says why."""


@dataclasses.dataclass
class LogdirDiagnosis:
    runs: dict[str, RunDiagnosis]
    unreadable: dict[str, str]  # run -> why it could not be read (a newer format)
    skipped: list[str]  # runs without gradcause data
    damaged: list[integrity.Damage]  # event files read only up to a break

    @property
    def complete(self) -> bool:
        """Whether every gradcause run was read in full."""
        return not self.unreadable and not self.damaged

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": {name: found.to_json() for name, found in self.runs.items()},
            "unreadable": self.unreadable,
            "skipped_runs": self.skipped,
            "damaged": [d.to_json() for d in self.damaged],
        }


def diagnose_logdir(logdir: str, run: str | None = None) -> LogdirDiagnosis:
    """Analyze every gradcause run of `logdir` (or just `run`); raises `UnusableLogdir` when
    there is nothing to report on, saying why."""
    if not os.path.isdir(logdir):
        raise UnusableLogdir(f"logdir {logdir!r} does not exist or is not a directory")
    if not os.access(logdir, os.R_OK | os.X_OK):
        raise UnusableLogdir(f"logdir {logdir!r} is not readable")
    damaged = [d for d in integrity.check_logdir(logdir) if run is None or d.run == run]
    unreadable: dict[str, str] = {}
    skipped: list[str] = []
    try:
        runs = reader.read_logdir(logdir, run, failures=unreadable, skipped=skipped)
    except errors.NotFoundError as e:
        raise UnusableLogdir(" ".join([str(e), *(d.describe() for d in damaged)])) from None
    if not runs and not unreadable:
        if damaged:
            raise UnusableLogdir("no readable gradcause data: " + "; ".join(d.describe() for d in damaged))
        raise UnusableLogdir(f"no gradcause data under {logdir!r} (was GradCauseCallback given this log_dir?)")
    results = {name: engine.diagnose(data) for name, data in runs.items()}
    return LogdirDiagnosis(results, unreadable, skipped if run is None else [], damaged)
