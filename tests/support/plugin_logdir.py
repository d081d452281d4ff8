"""A logdir of synthetic runs that exercise the plugin's routes (shared by the route and e2e tests)."""

from __future__ import annotations

import os
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer import record_writer

from tb_gradcause.metadata import KIND_STATS
from tb_gradcause.testing import synthetic

HOSTILE = "x<img src=x onerror=alert(1)>"

HEALTHY = "healthy"  # every kind at every one of STEPS steps (more than either loader keeps by default)
NAN = "nan_at_120"  # gradients NaN / loss Inf at NAN_STEP
REWIND = "rewind"  # loss at steps 0..119, then a restart writes 60..89 again with REWOUND_LOSS
HOSTILE_RUN = "hostile"  # a layer named HOSTILE, whose ReLUs die
TRUNCATED = "truncated"  # its event file ends mid-record
CORRUPT = "corrupt"  # bytes in the middle of its event file are garbage
SCALARS_ONLY = "scalars_only"  # a TensorBoard run without gradcause data

STEPS = 150
NAN_STEP = 120
REWOUND_LOSS = 42.0
GOOD_RUNS = (HEALTHY, NAN, REWIND, HOSTILE_RUN)
BROKEN_RUNS = (TRUNCATED, CORRUPT)
DAMAGED_AGO_S = 3600  # the damaged files were last written this long ago (a run that died an hour ago)


def write_logdir(logdir: str | os.PathLike) -> dict[str, dict[str, int]]:
    """Write every run above under `logdir`; return the last step of each kind of each good run."""
    logdir = os.fspath(logdir)
    healthy = synthetic.healthy_run(synthetic.mlp(3), STEPS)
    synthetic.write_run(logdir, HEALTHY, healthy)

    nan = synthetic.healthy_run(synthetic.mlp(3), STEPS, seed=1)
    nan["gradients"].stat("l2")[NAN_STEP, 0] = np.nan
    nan["gradients"].stat("nan")[NAN_STEP, 0] = 5
    nan["loss"].stat("value")[NAN_STEP, 0] = np.inf
    synthetic.write_run(logdir, NAN, nan)

    rewind = synthetic.healthy_run(synthetic.mlp(2), 120, kinds=["loss"])
    path = synthetic.write_run(logdir, REWIND, rewind)
    rows = rewind["loss"].rows
    with synthetic.RunWriter(path, wall_time=1.7e9 + 1000) as writer:
        for step in range(60, 90):
            value = np.array([[REWOUND_LOSS, 1e-3, 1.0, 0.0]], np.float32)
            writer.write("loss", step, rows, value, wall_time=1.7e9 + 1000 + step)

    layers = [synthetic.Layer(HOSTILE, 16), synthetic.Layer("dense_out", 1, "sigmoid")]
    hostile = synthetic.healthy_run(layers, 30)
    dead = hostile["activations"].rows_of(HOSTILE)  # most of its ReLUs die: an event names the layer
    hostile["activations"].stat("dead_frac")[5:, dead] = 0.95
    hostile["activations"].stat("zero_frac")[5:, dead] = 0.97
    synthetic.write_run(logdir, HOSTILE_RUN, hostile)

    _damage(synthetic.write_run(logdir, TRUNCATED, synthetic.healthy_run(synthetic.mlp(2), 40)), truncate=True)
    _damage(synthetic.write_run(logdir, CORRUPT, synthetic.healthy_run(synthetic.mlp(2), 40)), truncate=False)
    _write_scalars_only(os.path.join(logdir, SCALARS_ONLY))

    last = {
        run: {kind: int(kd.steps[-1]) for kind, kd in data.items()}
        for run, data in [(HEALTHY, healthy), (NAN, nan), (HOSTILE_RUN, hostile)]
    }
    return {**last, REWIND: {"loss": 89}}


def wait_until_served(
    get_json: Callable[[str], dict], last_steps: dict[str, dict[str, int]], timeout: float = 120
) -> None:
    """Wait until the plugin serves every run's last step of every kind (RustBoard loads in the
    background). `get_json(path)` returns a route's JSON, RuntimeError unless status 200."""
    deadline = time.monotonic() + timeout
    for run, kinds in last_steps.items():
        for kind, step in kinds.items():
            while True:
                if run in get_json("/data/plugin/gradcause/runs")["runs"]:
                    query = urllib.parse.urlencode(
                        {"run": run, "kind": kind, "max_points": 2, "stats": KIND_STATS[kind][0]}
                    )
                    try:
                        if get_json(f"/data/plugin/gradcause/timeline?{query}")["steps"][-1] == step:
                            break
                    except RuntimeError:  # 404 until the kind's first event is loaded
                        pass
                assert time.monotonic() < deadline, f"{run}/{kind} not loaded up to step {step}"
                time.sleep(0.2)


def _damage(run_dir: str, truncate: bool) -> None:
    (event_file,) = Path(run_dir).iterdir()
    data = bytearray(event_file.read_bytes())
    if truncate:
        del data[-37:]
    else:
        middle = len(data) // 2
        data[middle : middle + 64] = b"\xff" * 64
    event_file.write_bytes(bytes(data))
    ago = time.time() - DAMAGED_AGO_S
    os.utime(event_file, (ago, ago))


def _write_scalars_only(run_dir: str) -> None:
    """An event file with a plain scalar, as `tf.summary.scalar` writes one, and no gradcause data."""
    os.makedirs(run_dir)
    with open(os.path.join(run_dir, "events.out.tfevents.1700000000.scalars"), "wb") as f:
        writer = record_writer.RecordWriter(f)
        writer.write(event_pb2.Event(wall_time=1.7e9, file_version="brain.Event:2").SerializeToString())
        value = summary_pb2.Summary.Value(tag="accuracy", simple_value=0.5)
        writer.write(
            event_pb2.Event(wall_time=1.7e9, step=0, summary=summary_pb2.Summary(value=[value])).SerializeToString()
        )
