"""A real TensorBoard on a logdir: a `tensorboard` process on 127.0.0.1 (demo, tests), or the
same WSGI app in this process (route tests, benchmarks).

    with start_tensorboard(logdir, load_fast="true") as tb:
        status, headers, body = tb.get("/data/plugin/gradcause/runs")

`stop` ends the process; its RustBoard data server (`--load_fast=true`) exits with it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"

_SERVING = re.compile(r"TensorBoard \S+ at http://[^:/]+:(\d+)/")


class TensorBoardStartError(RuntimeError):
    """TensorBoard exited or did not serve in time; the message ends with its log."""


@dataclass
class TensorBoardProcess:
    """A running TensorBoard; `log_path` collects its stdout and stderr (removed by `stop` when
    it lives in a temporary directory of ours)."""

    process: subprocess.Popen
    port: int
    log_path: Path
    temporary_log: bool = False

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def tab_url(self) -> str:
        return f"{self.url}/#gradcause"

    def get(self, path: str, timeout: float = 60.0) -> tuple[int, dict[str, str], bytes]:
        """GET `path` (e.g. "/data/plugin/gradcause/runs"): status, headers, body, also for 4xx/5xx."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def get_json(self, path: str) -> Any:
        """GET `path` and parse the JSON body; RuntimeError (with the body) unless status 200."""
        status, _, body = self.get(path)
        if status != 200:
            raise RuntimeError(f"GET {path} -> {status}: {body[:500]!r}")
        return json.loads(body)

    def wait_for_runs(self, runs: Sequence[str], timeout: float = 120.0) -> list[str]:
        """Wait until the gradcause `runs` route lists every run in `runs`; return the listing."""
        deadline = time.monotonic() + timeout
        while True:
            status, _, body = self.get("/data/plugin/gradcause/runs")
            if status != 200:
                raise TensorBoardStartError(f"the gradcause plugin answered {status}: {body[:300]!r}\n{self.log()}")
            listed = json.loads(body)["runs"]
            if set(runs) <= set(listed):
                return listed
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise TensorBoardStartError(f"runs {sorted(set(runs) - set(listed))} not loaded\n{self.log()}")
            time.sleep(0.25)

    def log(self, tail: int = 6000) -> str:
        """The last `tail` characters of TensorBoard's output."""
        return self.log_path.read_text(errors="replace")[-tail:]

    def stop(self, timeout: float = 5.0) -> None:
        """End TensorBoard and its data server (its process group) and wait for it.

        SIGTERM first (TensorBoard then stops its data server itself); if it is still running
        after `timeout` seconds the whole group is killed: TensorBoard exits through `sys.exit`,
        which waits for its request threads, and a user's Ctrl-C must not wait for them."""
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.process.wait()
        if self.temporary_log:
            shutil.rmtree(self.log_path.parent, ignore_errors=True)

    def _signal_group(self, number: int) -> None:
        try:
            os.killpg(self.process.pid, number)  # the process leads its own group (start_new_session)
        except ProcessLookupError:
            pass

    def __enter__(self) -> TensorBoardProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_tensorboard(
    logdir: str | os.PathLike,
    *,
    load_fast: str = "false",
    port: int = 0,
    extra_args: Sequence[str] = (),
    timeout: float = 120.0,
    log_dir: str | os.PathLike | None = None,
) -> TensorBoardProcess:
    """Start `tensorboard --logdir LOGDIR --host 127.0.0.1 --port PORT --load_fast MODE` and wait
    until it answers HTTP. `port=0` lets the OS choose a free port; `log_dir` keeps the log file
    (default: a temporary directory, removed by `stop`)."""
    log_path = Path(log_dir or tempfile.mkdtemp(prefix="tb_gradcause_tensorboard_")) / "tensorboard.log"
    command = [
        sys.executable, "-m", "tensorboard.main",
        "--logdir", os.fspath(logdir),
        "--host", HOST,
        "--port", str(port),
        "--load_fast", load_fast,
        *extra_args,
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            # Its own process group: `stop` ends the data server with it, and a terminal's Ctrl-C
            # reaches only us (we stop it), not a TensorBoard still starting up.
            start_new_session=True,
        )
    server = TensorBoardProcess(process, 0, log_path, temporary_log=log_dir is None)
    try:
        server.port = _wait_for_port(server, timeout)
        _wait_until_serving(server, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_for_port(server: TensorBoardProcess, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        match = _SERVING.search(server.log_path.read_text(errors="replace"))
        if match:
            return int(match.group(1))
        if server.process.poll() is not None or time.monotonic() > deadline:
            raise TensorBoardStartError(f"TensorBoard did not start (exit {server.process.poll()})\n{server.log()}")
        time.sleep(0.1)


def _wait_until_serving(server: TensorBoardProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if server.get("/data/plugins_listing", timeout=10)[0] == 200:
                return
        except OSError:
            pass
        if server.process.poll() is not None or time.monotonic() > deadline:
            raise TensorBoardStartError(f"TensorBoard at {server.url} did not answer\n{server.log()}")
        time.sleep(0.1)
