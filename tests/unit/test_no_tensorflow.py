"""`no_tensorflow`: TensorBoard's loader on its stub with the batch record reader, and `integrity`'s
scan of a local file, read what TensorBoard's loader reads with TensorFlow (intact, cut short,
corrupt and foreign files); `tb-gradcause report` on a local logdir never imports TensorFlow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_file_loader

from tb_gradcause.analysis import integrity, no_tensorflow
from tb_gradcause.analysis.no_tensorflow import BatchRecordReader
from tb_gradcause.testing import synthetic

LAYERS = synthetic.mlp(2, units=4)
KINDS = ("gradients", "activations", "weights", "loss")


def _event_file(logdir: Path, name: str = "run", steps: int = 40) -> Path:
    (path,) = Path(synthetic.write_run(str(logdir), name, synthetic.healthy_run(LAYERS, steps, kinds=KINDS))).iterdir()
    return path


def _records(path: Path) -> list[bytes]:
    return list(event_file_loader.RawEventFileLoader(str(path)).Load())


@pytest.fixture
def batch_reader(monkeypatch):
    """Call it to give TensorBoard's loader the batch reader in this process (TensorFlow's till then)."""

    def iterator(path):
        return event_file_loader._PyRecordReaderIterator(BatchRecordReader, path)

    return lambda: monkeypatch.setattr(event_file_loader, "_make_tf_record_iterator", iterator)


def _damaged(data: bytes, how: str) -> bytes:
    if how == "cut":
        return data[:-37]
    if how == "garbage":
        middle = len(data) // 2
        return data[:middle] + b"\xff" * 64 + data[middle + 64 :]
    if how == "flipped":  # one bit inside a record's data: only the data's CRC tells
        flipped = bytearray(data)
        flipped[len(data) // 3] ^= 0x10
        return bytes(flipped)
    return np.random.default_rng(0).bytes(999)


@pytest.mark.parametrize("read_bytes", [no_tensorflow.READ_BYTES, 300], ids=["whole", "records_across_reads"])
@pytest.mark.parametrize("how", ["intact", "cut", "garbage", "flipped", "random"])
def test_the_loader_reads_the_same_records_and_damage_as_with_tensorflow(
    tmp_path, batch_reader, monkeypatch, how, read_bytes
):
    monkeypatch.setattr(no_tensorflow, "READ_BYTES", read_bytes)  # 300: records of up to 576 bytes span reads
    path = _event_file(tmp_path)
    data = path.read_bytes()
    if how != "intact":
        path.write_bytes(_damaged(data, how))
    want = (_records(path), integrity._scan_with_loader(str(path)))  # TensorFlow's reader
    batch_reader()
    got = (_records(path), integrity._scan_local(str(path)))
    assert got == want and bool(got[0]) == (how != "random")
    assert (integrity.check_logdir(str(tmp_path)) == []) == (how == "intact")


def test_a_record_cut_short_is_read_once_the_rest_is_written(tmp_path, batch_reader):
    path = _event_file(tmp_path)
    data = path.read_bytes()
    whole = _records(path)
    batch_reader()
    path.write_bytes(data[:-37])
    loader = event_file_loader.RawEventFileLoader(str(path))
    first = list(loader.Load())
    with path.open("ab") as f:
        f.write(data[-37:])
    assert first + list(loader.Load()) == whole and len(first) == len(whole) - 1


def test_report_on_a_local_logdir_never_imports_tensorflow(tmp_path):
    """The damage is still found (read through the stub) and nothing lands on stderr but the report's own lines."""
    path = _event_file(tmp_path, "cut")
    path.write_bytes(path.read_bytes()[:-37])
    _event_file(tmp_path, "intact")
    script = (
        "import sys; from tb_gradcause.cli import main; status = main(['report', sys.argv[1]]); "
        "print('tensorflow' in sys.modules, status)"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True)
    assert done.stdout.splitlines()[-1] == "False 2"
    assert done.stderr.startswith("tb-gradcause report: damaged event file ") and "truncated at byte" in done.stderr
    assert len(done.stderr.splitlines()) == 1 and "== intact: no problems found" in done.stdout


def test_the_tabs_damage_check_never_imports_tensorflow(tmp_path):
    """TensorBoard with RustBoard never imports TensorFlow itself: the first overview must not either."""
    path = _event_file(tmp_path, "cut")
    path.write_bytes(path.read_bytes()[:-37])
    os.utime(path, (1e9, 1e9))  # long settled
    script = (
        "import sys; from tb_gradcause.plugin.damage import DamageCheck; "
        "found, _ = DamageCheck(sys.argv[1]).damaged(); print('tensorflow' in sys.modules, [d.problem for d in found])"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True)
    assert done.stdout.splitlines()[-1] == "False ['truncated']", done.stderr[-2000:]
