"""A real `tensorboard` process for tests: `tensorboard_server(logdir, load_fast=..., runs=...)`.

Usage from any test module in tests/ (pytest puts tests/ on sys.path):

    from tensorboard_server import tensorboard_server

    @pytest.fixture(scope="module")
    def tb(tmp_path_factory):
        logdir = tmp_path_factory.mktemp("logs")
        ...write runs...
        with tensorboard_server(logdir, load_fast="true", runs=["run_a"]) as server:
            yield server

    def test_tab(tb):
        tb.url          # "http://127.0.0.1:PORT"; tb.tab_url adds "/#gradcause"
        tb.get_json("/data/plugin/gradcause/runs")
        status, headers, body = tb.get("/data/plugin/gradcause/events?run=run_a")

The server listens on 127.0.0.1 at a port the OS chose, with `--load_fast` "true" (RustBoard) or
"false" (Python multiplexer) and `--reload_interval 1`; `runs` makes it wait until the gradcause
plugin lists those runs. On exit it is stopped with its data server. If it fails to start, the
error carries the end of its log (`server.log()` at any time).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence

from tb_gradcause.cli.tensorboard_process import TensorBoardProcess, TensorBoardStartError, start_tensorboard

__all__ = ["TensorBoardProcess", "TensorBoardStartError", "tensorboard_server"]


@contextlib.contextmanager
def tensorboard_server(
    logdir: str | os.PathLike,
    *,
    load_fast: str = "false",
    runs: Sequence[str] = (),
    reload_interval: float = 1,
    extra_args: Sequence[str] = (),
    timeout: float = 120.0,
) -> Iterator[TensorBoardProcess]:
    """Start TensorBoard on `logdir`, wait until it serves (and lists `runs`), stop it on exit."""
    server = start_tensorboard(
        logdir,
        load_fast=load_fast,
        extra_args=["--reload_interval", str(reload_interval), *extra_args],
        timeout=timeout,
    )
    try:
        if runs:
            server.wait_for_runs(runs, timeout)
        yield server
    finally:
        server.stop()
