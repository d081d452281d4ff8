"""tb_gradcause: record per-layer training statistics and explain why training went wrong.

The public face: `GradCauseCallback` (one line in `model.fit`), `summary` (ops for custom training
loops) and `diagnose` (the causes found in a logdir, as `tb-gradcause report --json` gives them).
The first two need TensorFlow; everything is imported lazily so that TensorBoard can load the
plugin without it.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

__all__ = ["GradCauseCallback", "summary", "diagnose", "__version__"]


def diagnose(logdir: str, run: str | None = None) -> dict[str, dict[str, Any]]:
    """`{run: {"events": [...], "checked": [...], "skipped": {...}}}` for every gradcause run under
    `logdir` (or just `run`): the same reader and engine as the tab and `tb-gradcause report`."""
    from tb_gradcause.analysis import engine, reader

    return {name: engine.analyze(data) for name, data in reader.read_logdir(logdir, run).items()}


def __getattr__(name: str) -> Any:
    if name == "summary":
        return importlib.import_module("tb_gradcause.summary")
    if name == "GradCauseCallback":
        return importlib.import_module("tb_gradcause.capture.callback").GradCauseCallback
    raise AttributeError(f"module 'tb_gradcause' has no attribute {name!r}")
