"""GradCauseCallback under tf.distribute strategies (each in its own process: device setup leaks)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

import tb_gradcause
from tests.support.callback_runs import read_train

WORKER = os.path.join(os.path.dirname(__file__), os.pardir, "support", "callback_strategy_worker.py")
REPLICAS_WORKER = os.path.join(os.path.dirname(__file__), os.pardir, "support", "callback_replicas_worker.py")


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


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_multi_worker_only_chief_writes(tmp_path, single):
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    procs = []
    for index, sub in enumerate(["chief", "other"]):
        config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        procs.append(run("multiworker", tmp_path / sub, config, wait=False))
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out[-3000:]
    assert not (tmp_path / "other").exists() or not any((tmp_path / "other").rglob("events*"))
    assert_matches_single_device(read_train(tmp_path / "chief").series, single)


def test_mirrored_stats_cover_every_replicas_share(tmp_path):
    """The two replicas get different halves of each batch: inputs, activations and backward signals
    are those of the whole batch, as one device computes them, not replica 0's half."""
    run("single", tmp_path / "single", worker=REPLICAS_WORKER)
    run("mirrored", tmp_path / "mirrored", worker=REPLICAS_WORKER)
    single, mirrored = read_train(tmp_path / "single").series, read_train(tmp_path / "mirrored").series
    for kind in ("inputs", "activations", "backward"):
        assert mirrored[kind].steps.tolist() == single[kind].steps.tolist() == [0, 3, 6], kind
        np.testing.assert_allclose(mirrored[kind].values, single[kind].values, rtol=1e-4, atol=1e-6, err_msg=kind)
        assert {row.facts["replicas"] for row in mirrored[kind].rows} == {"2 of 2"}


def test_a_nan_in_the_second_replicas_share_is_blamed_on_the_input(tmp_path):
    run("mirrored", tmp_path, "1", worker=REPLICAS_WORKER)  # batch 1's NaN sample is in replica 1's half
    [first, *_] = tb_gradcause.diagnose(str(tmp_path / "train"))["."].causes
    assert (first.kind, first.layer, first.first_step) == ("nan_inf", "input", 1)
