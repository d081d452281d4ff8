"""GradCauseCallback under tf.distribute strategies (each in its own process: device setup leaks)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from tests.support.callback_runs import read_train

WORKER = os.path.join(os.path.dirname(__file__), os.pardir, "support", "callback_strategy_worker.py")


def run(mode: str, log_dir, *extra: str, wait: bool = True):
    cmd = [sys.executable, WORKER, mode, str(log_dir), *extra]
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
