"""tb_gradcause: record per-layer training statistics and explain why training went wrong.

`tb_gradcause.summary` and `tb_gradcause.GradCauseCallback` need TensorFlow; they are imported
lazily so that TensorBoard can load the plugin without it.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

__all__ = ["GradCauseCallback", "summary", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "summary":
        return importlib.import_module("tb_gradcause.summary")
    if name == "GradCauseCallback":
        return importlib.import_module("tb_gradcause.capture.callback").GradCauseCallback
    raise AttributeError(f"module 'tb_gradcause' has no attribute {name!r}")
