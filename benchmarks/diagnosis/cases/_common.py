"""Helpers shared by the diagnosis-benchmark cases (see `cases/__init__.py` for the interface)."""

from __future__ import annotations

import keras
import numpy as np


def start(seed: int) -> np.random.Generator:
    """Fresh Keras state and every seed fixed (Python, NumPy, TensorFlow): a case trains the same way
    each time. Returns a NumPy Generator for the case's synthetic data."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    return np.random.default_rng(seed)


def fit(model: keras.Model, x, y, callbacks: list, **kwargs) -> keras.callbacks.History:
    """`model.fit(x, y, callbacks=callbacks, verbose=0, **kwargs)`, as a user would train."""
    kwargs.setdefault("verbose", 0)
    return model.fit(x, y, callbacks=list(callbacks), **kwargs)


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Float32 one-hot rows for integer labels."""
    return np.eye(n_classes, dtype="float32")[np.asarray(labels, dtype=int)]
