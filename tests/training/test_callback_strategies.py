"""GradCauseCallback under tf.distribute strategies (each in its own process: device setup leaks)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

import tb_gradcause
from tb_gradcause.testing import loopback
from tests.support.callback_runs import read_train

WORKER = os.path.join(os.path.dirname(__file__), os.pardir, "support", "callback_strategy_worker.py")
REPLICAS_WORKER = os.path.join(os.path.dirname(__file__), os.pardir, "support", "callback_replicas_worker.py")
GATHER_WORKER = os.path.join(os.path.dirname(__file__), os.pardir, "support", "gather_worker.py")


def run(mode: str, log_dir, *extra: str, wait: bool = True, worker: str = WORKER):
    cmd = [sys.executable, worker, mode, str(log_dir), *extra]
    root = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": root}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if wait:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out[-3000:]
    return proc


def assert_matches_single_device(kinds, single):
    # The logged gradient is the global (all-reduced) one: equal to one device's on the same batch.
    assert kinds["gradients"].steps.tolist() == single["gradients"].steps.tolist() == [0, 3, 6]
    for stat in ("l2", "max_abs", "mean"):
        np.testing.assert_allclose(kinds["gradients"].stat(stat), single["gradients"].stat(stat), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(kinds["loss"].stat("value"), single["loss"].stat("value"), rtol=1e-5)
    assert kinds["loss"].steps.tolist() == list(range(8))
    assert set(kinds) == set(single)


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("single")
    run("single", log_dir)
    return read_train(log_dir).series


def test_mirrored_two_cpus(tmp_path, single):
    run("mirrored", tmp_path)
    assert_matches_single_device(read_train(tmp_path).series, single)


@pytest.fixture(scope="module")
def multi_worker(tmp_path_factory) -> tuple[dict[str, str], pathlib.Path]:
    """Two workers on loopback: how the plain Keras fits ended (the chief's `KERAS_FITS` line) and
    the directory whose `chief` and `other` subdirectories were each worker's log_dir."""
    root = tmp_path_factory.mktemp("multiworker")
    procs = [
        run("multiworker", root / sub, config, wait=False)
        for sub, config in zip(["chief", "other"], loopback.worker_configs(2))
    ]
    outs = []
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out[-3000:]
        outs.append(out)
    [line] = [line for line in outs[0].splitlines() if line.startswith("KERAS_FITS ")]
    return json.loads(line.split(" ", 1)[1]), root


# How plain Keras `fit` ends under MultiWorkerMirroredStrategy (callback_strategy_worker.plain_keras_fits),
# as README's "Distributed training" section says: the model made in the scope as usual fails in Keras'
# eager build, a scalar log fails the multi-worker log reduction; the two workarounds together train.
PLAIN_KERAS_FITS = {
    "usual_numpy": "ValueError: Attempt to convert a value (PerReplica",
    "usual_dataset": "ValueError: Attempt to convert a value (PerReplica",
    "one_row_logs_only": "ValueError: Attempt to convert a value (PerReplica",
    "made_outside_only": "ValueError: Invalid reduction dimension 0 for input with 0 dimensions",
    "both_numpy": "ok",
}


def test_plain_keras_multi_worker_fit_fails_as_readme_says(multi_worker):
    fits, _ = multi_worker
    for name, expected in PLAIN_KERAS_FITS.items():
        assert fits[name].startswith(expected), (
            f"plain Keras {keras.__version__} fit '{name}' under MultiWorkerMirroredStrategy ended with "
            f"{fits[name]!r}, not {expected!r}: Keras changed, update README's 'Distributed training' section "
            "(versions, errors, workarounds), the worker and this table"
        )


def test_multi_worker_only_chief_writes(multi_worker, single):
    _, root = multi_worker
    assert not (root / "other").exists() or not any((root / "other").rglob("events*"))
    kinds = read_train(root / "chief").series
    assert_matches_single_device(kinds, single)
    # Each worker's replica sees half of each batch; the chief's capture gathers both halves.
    for kind in ("inputs", "activations", "backward"):
        assert {row.facts["replicas"] for row in kinds[kind].rows} == {"2 of 2"}, kind


@pytest.fixture(scope="module")
def halves_single(tmp_path_factory):
    """One device trained on callback_replicas_worker's data, whose halves of each batch differ."""
    log_dir = tmp_path_factory.mktemp("halves_single")
    run("single", log_dir, worker=REPLICAS_WORKER)
    return read_train(log_dir).series


def assert_whole_batch_stats(kinds, single):
    """Inputs, activations and backward signals are those of the whole batch, as one device computes them."""
    for kind in ("inputs", "activations", "backward"):
        assert kinds[kind].steps.tolist() == single[kind].steps.tolist() == [0, 3, 6], kind
        np.testing.assert_allclose(kinds[kind].values, single[kind].values, rtol=1e-4, atol=1e-6, err_msg=kind)
        assert {row.facts["replicas"] for row in kinds[kind].rows} == {"2 of 2"}


def test_multi_worker_stats_cover_every_workers_share(multi_worker, halves_single):
    """Each worker gets a different half of each batch (sharded by data): the chief's captures
    gather the other worker's half."""
    _, root = multi_worker
    assert_whole_batch_stats(read_train(root / "chief" / "halves").series, halves_single)


def test_multi_worker_training_goes_on_when_the_chiefs_logging_fails(multi_worker):
    """The chief's logging fails at batch 1 while the other worker's goes on: both keep running the
    same train functions (a full one gathers every worker's share), so the run ends (the fixture
    waits for it) rather than hangs in a gather only one worker runs."""
    _, root = multi_worker
    assert 0 in read_train(root / "chief" / "failing").series["inputs"].steps.tolist()
    # Its train functions (and what they write) go on, so the warning does not say "disabled".
    warning = (root / "chief" / "failing" / "warning.txt").read_text()
    assert warning.startswith("tb_gradcause: logging may be incomplete from here on after an internal error"), warning


def test_mirrored_stats_cover_every_replicas_share(tmp_path, halves_single):
    """The two replicas get different halves of each batch: the stats are the whole batch's, not replica 0's half."""
    run("mirrored", tmp_path, worker=REPLICAS_WORKER)
    assert_whole_batch_stats(read_train(tmp_path).series, halves_single)


@pytest.mark.parametrize("mode", ["mirrored", "mirrored_own_sum"])
def test_a_nan_in_the_second_replicas_share_is_blamed_on_the_input(tmp_path, mode):
    """Also with an optimizer that sums the gradients where the check cannot ride along (`fold`)."""
    run(mode, tmp_path, "1", worker=REPLICAS_WORKER)  # batch 1's NaN sample is in replica 1's half
    [first, *_] = tb_gradcause.diagnose(str(tmp_path / "train"))["."].causes
    assert (first.kind, first.layer, first.first_step) == ("nan_inf", "input", 1)


def test_a_captures_tensors_are_gathered_together():
    """Under MultiWorkerMirroredStrategy a capture all-gathers every tensor it logs (`replicas`);
    each all-gather is two collectives, ~1 ms of the chief's CPU each on loopback: the tensors of
    one dtype with a known unit shape go in one. Shares of different lengths, float16 carried as
    float32, labels as int64, a float64 and a tensor whose unit shape is unknown each alone: 5
    all-gathers for 8 tensors, each equal to its shares joined in replica order."""
    proc = run("mirrored", "-", wait=False, worker=GATHER_WORKER)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out[-3000:]
    [line] = [line for line in out.splitlines() if line.startswith("{")]
    assert json.loads(line) == {"all_gathers": 5, "equal": True}
