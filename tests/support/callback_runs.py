"""Test helper: what a run directory's `train` writer put on disk, read through the project's reader.

`read_train` returns the reader's `RunData` (one `Series` per kind: its latest tag, each step
once), after checking in the raw event files that no tag was written twice at a step (which
the reader, keeping the latest write, would hide). `logged_steps` gives a kind's steps over all
of its tags (a changed row set starts a new tag).
"""

from __future__ import annotations

import glob
import os

import numpy as np
from tensorboard.backend.event_processing import event_file_loader

from tb_gradcause import metadata
from tb_gradcause.analysis import reader


def read_train(log_dir) -> reader.RunData:
    """The gradcause run in `<log_dir>/train` (KeyError if it holds no gradcause data)."""
    train_dir = os.path.join(log_dir, "train")
    for tag, steps in raw_steps(train_dir).items():
        assert all(a < b for a, b in zip(steps, steps[1:])), f"{tag} written out of order or twice at a step: {steps}"
    return reader.read_logdir(train_dir)["."]


def logged_steps(log_dir, kind: str) -> list[int]:
    """Every step with a `kind` record, over all of the kind's tags, sorted (repeats kept)."""
    train_dir = os.path.join(log_dir, "train")
    kinds = tag_kinds(train_dir)
    return sorted(s for tag, steps in raw_steps(train_dir).items() if kinds.get(tag) == kind for s in steps)


def names(series: reader.Series) -> list[str]:
    return [row.name for row in series.rows]


def at(series: reader.Series, step: int) -> np.ndarray:
    """The [rows, stats] matrix logged at `step` (ValueError if not logged)."""
    return series.values[series.steps.tolist().index(step)]


def raw_events(train_dir) -> list[tuple[str, int, bool, bytes]]:
    """(tag, step, has metadata, plugin content) of every gradcause value, in write order."""
    out = []
    for path in sorted(glob.glob(os.path.join(train_dir, "events.out.tfevents.*"))):
        for event in event_file_loader.EventFileLoader(path).Load():
            for value in event.summary.value:
                if value.tag.startswith(metadata.TAG_PREFIX + "/"):
                    has = value.HasField("metadata")
                    out.append((value.tag, event.step, has, value.metadata.plugin_data.content if has else b""))
    return out


def raw_steps(train_dir) -> dict[str, list[int]]:
    """Steps of each gradcause tag, in write order."""
    steps: dict[str, list[int]] = {}
    for tag, step, _, _ in raw_events(train_dir):
        steps.setdefault(tag, []).append(step)
    return steps


def tag_kinds(train_dir) -> dict[str, str]:
    """The kind of each gradcause tag, from the metadata of its first event."""
    kinds: dict[str, str] = {}
    for tag, _, has, content in raw_events(train_dir):
        if has and tag not in kinds:
            kinds[tag] = metadata.parse_plugin_metadata(content).kind
    return kinds
