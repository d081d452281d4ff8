"""Synthetic runs for the detector tests: `tb_gradcause.testing.synthetic` data as in-memory `RunData`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from tb_gradcause.analysis import engine, reader
from tb_gradcause.analysis.reader import Series
from tb_gradcause.testing import synthetic


def mlp(depth: int = 4, activation: str = "relu", output: str = "sigmoid") -> list[synthetic.Layer]:
    return synthetic.mlp(depth, activation=activation, output_activation=output)


def healthy(
    layers: Sequence[synthetic.Layer] | None = None, n_steps: int = 400, every: int = 10, **kwargs
) -> dict[str, Series]:
    """A healthy run's editable statistics (loss every step, the other kinds every `every` steps)."""
    return synthetic.healthy_run(layers if layers is not None else mlp(), n_steps, every=every, **kwargs)


def to_run(data: Mapping[str, Series], name: str = "synthetic") -> reader.RunData:
    """The `RunData` the reader would return for `data` (the same series objects)."""
    return reader.RunData(name, dict(data))


def events(data: Mapping[str, Series], kind: str | None = None) -> list[dict]:
    """The engine's events for `data` (only those of `kind` when given)."""
    found = engine.analyze(to_run(data))["events"]
    return [e for e in found if kind is None or e["kind"] == kind]


def at(kd: Series, first_step: int) -> np.ndarray:
    """Mask of the samples of `kd` at or after `first_step`."""
    return kd.steps >= first_step


def flat_loss(data: Mapping[str, Series], level: float = 0.69, seed: int = 0) -> None:
    """Make the loss stall at `level` (with 2 % noise): training is not converging."""
    loss = data["loss"].stat("value")
    loss[:] = level * (1 + 0.02 * np.random.default_rng(seed).standard_normal(loss.shape))


def no_gradient(data: Mapping[str, Series], layer: str, missing: bool = True) -> None:
    """`layer`'s variables get no gradient (None when `missing`, else exact zeros) at every step."""
    kd = data["gradients"]
    rows = kd.rows_of(layer)
    if missing:
        kd.stat("missing")[:, rows] = 1
    for stat in ("l2", "mean", "std", "min", "max", "max_abs"):
        kd.stat(stat)[:, rows] = 0
    kd.stat("zero_frac")[:, rows] = 1


def layer_rows(kd: Series, layer: str, role: str | None = None) -> list[int]:
    """Rows of `layer` (optionally only those with `role`)."""
    return [i for i in kd.rows_of(layer) if role is None or kd.rows[i].role == role]


def scale(
    kd: Series,
    layer: str,
    factor: np.ndarray | float,
    stats=("l2", "mean", "std", "min", "max", "max_abs"),
    from_step: int = 0,
) -> None:
    """Multiply a layer's tensor stats by `factor` (per sample [S] or scalar) from `from_step` on."""
    sel = at(kd, from_step)
    factor = np.broadcast_to(np.asarray(factor, dtype=np.float64), kd.steps.shape)[sel]
    for name in stats:
        if kd.kind in ("backward_time",) or name in kd.stats:
            view = kd.stat(name)
            for r in layer_rows(kd, layer):
                view[sel, r] = view[sel, r] * factor
