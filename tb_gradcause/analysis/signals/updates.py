"""The run's optimizer steps: the logged learning rate and the kernel update ratio, which
learning_rate_too_high judges and the suggested learning rate is computed from."""

from __future__ import annotations

import numpy as np

from tb_gradcause.analysis.reader import RunData, Series
from tb_gradcause.analysis.signals import per_layer, trends


def kernel_update_ratio(weights: Series) -> tuple[np.ndarray, np.ndarray]:
    """Median over layers of the kernel update ratio ||update|| / ||kernel|| [S], and the total
    kernel norm [S]. Kernels only: biases and norm offsets start at 0 and would inflate it."""
    kernel = np.flatnonzero([r.role in per_layer.KERNEL_ROLES for r in weights.rows])
    if not len(kernel):
        kernel = np.arange(len(weights.rows))
    layers = per_layer.Layers.of([weights.rows[i] for i in kernel])
    w2 = layers.total(np.square(np.take(weights.stat("norm"), kernel, axis=1), dtype=np.float64))
    u2 = layers.total(np.square(np.take(weights.stat("update_norm"), kernel, axis=1), dtype=np.float64))
    with np.errstate(all="ignore"):
        ratio = np.sqrt(np.divide(u2, w2, out=u2), out=u2)
    ratio[~np.isfinite(ratio)] = np.nan  # no kernel norm (w2 = 0; NaN rows count as 0), or an infinite update
    return trends.row_median(ratio), np.sqrt(w2.sum(axis=1))


def learning_rates(run: RunData) -> tuple[np.ndarray, np.ndarray]:
    """The steps with a logged, finite, positive learning rate, and that rate (empty when not logged)."""
    loss = run.get("loss")
    if loss is None or not loss.has("learning_rate"):
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    lr = loss.stat("learning_rate")[:, 0].astype(np.float64)
    keep = np.isfinite(lr) & (lr > 0)
    return np.asarray(loss.steps)[keep], lr[keep]


def last_learning_rate(run: RunData) -> float | None:
    """The run's latest logged learning rate (None when not logged)."""
    _, lr = learning_rates(run)
    return float(lr[-1]) if len(lr) else None
