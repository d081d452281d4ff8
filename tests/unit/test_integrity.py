"""`integrity.check_logdir`: which event files TensorBoard's loader stops reading early, where and why."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tb_gradcause.analysis import integrity
from tb_gradcause.testing import synthetic

LAYERS = synthetic.mlp(2, units=4)


def _run(logdir: Path, name: str, steps: int = 40) -> Path:
    (path,) = Path(synthetic.write_run(str(logdir), name, synthetic.healthy_run(LAYERS, steps))).iterdir()
    return path


def test_intact_files_and_a_writer_that_has_not_flushed_are_not_damaged(tmp_path):
    _run(tmp_path, "intact")
    (tmp_path / "starting").mkdir()
    (tmp_path / "starting" / "events.out.tfevents.1.host").write_bytes(b"")
    assert integrity.check_logdir(str(tmp_path)) == []


def test_a_truncated_file_says_where_it_breaks_and_after_which_step(tmp_path):
    path = _run(tmp_path, "cut")
    data = path.read_bytes()
    path.write_bytes(data[:-37])  # mid-way through the last record
    (damage,) = integrity.check_logdir(str(tmp_path))
    assert (damage.run, damage.path, damage.problem, damage.size) == ("cut", str(path), "truncated", len(data) - 37)
    assert damage.offset < damage.size and damage.last_step == 39
    assert "truncated at byte" in damage.describe() and "after step 39" in damage.describe()


def test_garbage_in_the_middle_is_corrupt_and_cuts_the_rest_of_the_file(tmp_path):
    path = _run(tmp_path, "bad")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    (damage,) = integrity.check_logdir(str(tmp_path))
    assert damage.problem == "corrupt" and damage.offset <= middle and 0 < damage.last_step < 39


def test_random_bytes_are_not_an_event_file(tmp_path):
    _run(tmp_path, "intact")
    (tmp_path / "noise").mkdir()
    noise = tmp_path / "noise" / "events.out.tfevents.1.host"
    noise.write_bytes(np.random.default_rng(0).bytes(999))
    (damage,) = integrity.check_logdir(str(tmp_path))
    assert (damage.run, damage.problem, damage.offset, damage.last_step) == ("noise", "not an event file", 0, None)
    assert damage.describe() == f"{noise}: not an event file (999 bytes); nothing in it was read"
