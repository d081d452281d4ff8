"""Synthetic runs for the detector tests: `tb_gradcause.synthetic` data as in-memory `RunData`."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from tb_gradcause import engine, reader, synthetic


def mlp(depth: int = 4, activation: str = "relu", output: str = "sigmoid") -> list[synthetic.Layer]:
    return synthetic.mlp(depth, activation=activation, output_activation=output)


def healthy(
    layers: Sequence[synthetic.Layer] | None = None, n_steps: int = 400, every: int = 10, **kwargs
) -> dict[str, synthetic.KindData]:
    """A healthy run's editable statistics (loss every step, the other kinds every `every` steps)."""
    return synthetic.healthy_run(layers if layers is not None else mlp(), n_steps, every=every, **kwargs)


def to_run(data: Mapping[str, synthetic.KindData], name: str = "synthetic") -> reader.RunData:
    """The `RunData` the reader would return for `data`."""
    return reader.RunData(
        name,
        {
            kind: reader.Series(
                kind=kind,
                steps=np.asarray(kd.steps, dtype=np.int64).copy(),
                wall_times=kd.steps.astype(np.float64),
                values=kd.values.copy(),
                rows=tuple(reader.RowInfo.from_proto(row) for row in kd.rows),
                stats=tuple(kd.stats),
            )
            for kind, kd in data.items()
        },
    )


def events(data: Mapping[str, synthetic.KindData], kind: str | None = None) -> list[dict]:
    """The engine's events for `data` (only those of `kind` when given)."""
    found = engine.analyze(to_run(data))["events"]
    return [e for e in found if kind is None or e["kind"] == kind]


def at(kd: synthetic.KindData, first_step: int) -> np.ndarray:
    """Mask of the samples of `kd` at or after `first_step`."""
    return kd.steps >= first_step
