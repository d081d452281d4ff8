"""tb_gradcause: record per-layer training statistics and explain why training went wrong.

The public face: `GradCauseCallback` (one line in `model.fit`), `summary` (ops for custom training
loops) and `diagnose` (the causes found in a logdir, as `RunDiagnosis`/`Cause`/`Evidence` objects
whose `to_json()` is `tb-gradcause report --json`). The first two need TensorFlow; everything is
imported lazily so that TensorBoard can load the plugin without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tb_gradcause.analysis.causes import RunDiagnosis

__version__ = "0.1.0"

__all__ = ["GradCauseCallback", "summary", "diagnose", "RunDiagnosis", "Cause", "Evidence", "__version__"]


def diagnose(logdir: str, run: str | None = None) -> dict[str, RunDiagnosis]:
    """`{run: RunDiagnosis}` for every gradcause run under `logdir` (or just `run`, named as
    TensorBoard names it, relative to `logdir`): the same reader and engine as the tab and
    `tb-gradcause report`. Each `RunDiagnosis` holds `.causes` (`Cause`s in step order, each with
    `.evidence`), `.checked` and `.skipped`; `.to_json()` is the run's `report --json` object.

    Raises `tb_gradcause.analysis.logdir.UnusableLogdir` when there is nothing to diagnose (a
    missing logdir, no gradcause data, an unknown `run`). What could not be read in full (a run in
    a newer format, a truncated or corrupt event file) is left out with a `UserWarning` saying so.
    """
    import warnings

    from tb_gradcause.analysis.logdir import diagnose_logdir

    found = diagnose_logdir(logdir, run)
    for name, why in found.unreadable.items():
        warnings.warn(f"run {name!r} not diagnosed: {why}", stacklevel=2)
    for damage in found.damaged:
        warnings.warn(f"damaged event file {damage.describe()}", stacklevel=2)
    return found.runs


def __getattr__(name: str) -> Any:
    if name == "summary":
        return importlib.import_module("tb_gradcause.summary")
    if name == "GradCauseCallback":
        return importlib.import_module("tb_gradcause.capture.callback").GradCauseCallback
    if name in ("RunDiagnosis", "Cause", "Evidence"):
        return getattr(importlib.import_module("tb_gradcause.analysis.causes"), name)
    raise AttributeError(f"module 'tb_gradcause' has no attribute {name!r}")
