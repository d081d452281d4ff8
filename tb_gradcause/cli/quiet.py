"""Keep TensorFlow's C++ start-up lines off a command's stderr.

TensorFlow prints them (oneDNN, CPU features, absl's "All log messages before
absl::InitializeLog()") while it is imported, before `TF_CPP_MIN_LOG_LEVEL` or any Python log
level applies; they say nothing about the command's work and drown its own messages.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile


def import_tensorflow_quietly() -> None:
    """Import TensorFlow, if installed, with file descriptor 2 pointed away; what it printed is
    shown after all if the import fails."""
    if "tensorflow" in sys.modules or importlib.util.find_spec("tensorflow") is None:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        except Exception:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.buffer.write(sink.read())
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
