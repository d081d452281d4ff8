"""Test helper: read a run's gradcause series with TensorBoard's own EventAccumulator (all samples)."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util

from tb_gradcause import metadata


@dataclasses.dataclass
class Logged:
    """One tag: its metadata and every logged sample."""

    tag: str
    kind: str
    rows: list  # plugin_data_pb2.RowInfo
    stats: list[str]
    steps: list[int]
    values: np.ndarray  # [S, R, K]

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.rows]

    def stat(self, name: str) -> np.ndarray:
        return self.values[:, :, self.stats.index(name)]

    def at(self, step: int) -> np.ndarray:
        return self.values[self.steps.index(step)]


def read_tags(log_dir: str) -> list[Logged]:
    """Every gradcause tag under `<log_dir>/train`, via EventAccumulator with size_guidance 0 (all kept)."""
    acc = event_accumulator.EventAccumulator(
        os.path.join(log_dir, "train"), size_guidance={event_accumulator.TENSORS: 0}
    )
    acc.Reload()
    out = []
    for tag in acc.Tags()[event_accumulator.TENSORS]:
        if not tag.startswith(metadata.TAG_PREFIX + "/"):
            continue
        md = acc.SummaryMetadata(tag)
        assert md.data_class == metadata.summary_pb2.DATA_CLASS_TENSOR
        data = metadata.parse_plugin_metadata(md.plugin_data.content)
        events = acc.Tensors(tag)
        values = np.stack([tensor_util.make_ndarray(e.tensor_proto) for e in events])
        out.append(Logged(tag, data.kind, list(data.rows), list(data.stats), [e.step for e in events], values))
    return out


def read_kinds(log_dir: str) -> dict[str, Logged]:
    """The tag with the latest step per kind."""
    best: dict[str, Logged] = {}
    for logged in read_tags(log_dir):
        if logged.kind not in best or max(logged.steps) > max(best[logged.kind].steps):
            best[logged.kind] = logged
    return best
