"""Benchmark: the logs of a long run at default settings, and what serving them costs.

    python benchmarks/long_run.py [--steps 1000000] [--layers 200] [--logdir DIR]
                                  [--tensorboard] [--report] [--breakdown]
    python benchmarks/long_run.py --train 50000 [--start 960000] [--logdir DIR]

Writes one run of `--steps` steps of a `--layers`-layer model with no training: each step goes
through the callback's own writing path (`pending.write` with the default cadence computed in
the graph, `summary.loss_record` for the loss row held in `loss_chunks.LossChunks`,
`summary.write_record` for every record), in a graph loop, ending as training ends
(`writer.flush`); the full captures' records carry the rows the callback logs for such a model
and the statistics of a healthy synthetic run (`synthetic.healthy_run`), capture i its step i. Prints
the event files' bytes and bytes per step, split by kind with `--breakdown`; `--report` times
`tb-gradcause report`; `--tensorboard` starts TensorBoard with both loaders, waits until it
serves the run's last step, times the tab's first (cold) requests and reads TensorBoard's
resident memory (its process group) against TensorBoard serving an empty logdir.

`--train STEPS` instead trains a tiny MLP with the callback at its defaults (epochs of 1563
steps) from step `--start` (as a model trained that long before), and checks the steps captured
in full against the cadence, the loss rows against every step, and the bytes.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse

import numpy as np
import tensorflow as tf
from tensorboard.compat.proto import event_pb2

from tb_gradcause import metadata, summary
from tb_gradcause.capture import pending, writer
from tb_gradcause.capture.cadence import Cadence, Mode
from tb_gradcause.capture.loss_chunks import LossChunks
from tb_gradcause.cli.tensorboard_process import TensorBoardProcess, start_tensorboard
from tb_gradcause.testing import synthetic

RUN = "long"
TB_RUN = f"{RUN}/train"  # as TensorBoard names the callback's event directory
BLOCK = 10_000  # steps per call of the graph loop
# What the tab requests on opening (frontend/src: the stats it draws), as in benchmarks/plugin_routes.py.
TAB_STATS = {
    "gradients": "l2,nan,inf,missing",
    "activations": "dead_frac,saturated_frac,nan,inf",
    "weights": "norm,update_norm,nan,inf",
    "loss": "value",
}


def write_long_run(logdir: str, steps: int, n_layers: int, n_features: int) -> str:
    """Write the run; return its event directory."""
    layers = synthetic.mlp(n_layers)
    cadence = Cadence()
    # Every kind a full capture writes (the gradient check runs once, not at every capture).
    kinds = [
        k
        for k in metadata.SUMMARY_KINDS
        if k not in ("loss", "gradient_check") and synthetic.layer_rows(k, layers, n_features)
    ]
    captures = sum(cadence.is_full(s) for s in range(steps))
    # Capture i holds step i of a healthy synthetic run (realistic work for the detectors).
    healthy = synthetic.healthy_run(layers, captures, n_features=n_features, kinds=kinds)
    pool = {kind: tf.Variable(np.ascontiguousarray(series.values)) for kind, series in healthy.items()}
    taken = tf.Variable(0, dtype=tf.int64)
    train_dir = os.path.join(logdir, RUN, "train")
    events = tf.summary.create_file_writer(train_dir, max_queue=writer.MAX_QUEUE, flush_millis=writer.FLUSH_MILLIS)
    losses = LossChunks()

    def build() -> list[summary.Record]:
        i = taken.assign_add(1) - 1
        return [summary.Record(kind, list(healthy[kind].rows), values[i]) for kind, values in pool.items()]

    @tf.function
    def block(first: tf.Tensor) -> None:
        for step in tf.range(first, tf.minimum(first + BLOCK, steps)):
            loss = 1.0 / tf.sqrt(tf.cast(step, tf.float32) + 1.0)  # a falling loss: no spike, no NaN
            pulse = summary.loss_record(loss, learning_rate=1e-3)
            full = cadence.in_graph(Mode.IN_GRAPH, step)
            plan = pending.Plan(full, tf.constant(False), tf.constant(True), pulse, step)
            with summary.default_writer(events):
                pending.write(plan, lambda pulse=pulse: [pulse, *build()], losses)

    for first in range(0, steps, BLOCK):
        block(tf.constant(first, tf.int64))
    writer.flush(events, losses)  # as at the end of training
    events.close()
    return train_dir


def train_run(logdir: str, name: str, start: int, steps: int, epoch: int = 1563) -> tuple[str, float]:
    """Train a tiny MLP for `steps` steps with the callback at its defaults, its step counter
    starting at `start` (as a model trained that long before); return (train dir, seconds)."""
    import keras

    from tb_gradcause import GradCauseCallback

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    model.optimizer.build(model.trainable_variables)
    model.optimizer.iterations.assign(start)
    x = np.random.default_rng(0).normal(size=(32 * epoch, 8)).astype("float32")
    y = x[:, :1] - 0.5 * x[:, 1:2]
    callback = GradCauseCallback(os.path.join(logdir, name))
    begin = time.perf_counter()
    for done in range(0, steps, epoch):
        n = min(epoch, steps - done)
        model.fit(x[: 32 * n], y[: 32 * n], batch_size=32, epochs=1, verbose=0, callbacks=[callback])
    return callback.train_dir, time.perf_counter() - begin


def bytes_by_kind(directory: str) -> dict[str, int]:
    """Bytes of the directory's event records per gradcause kind ("other": file header)."""
    sizes: collections.Counter[str] = collections.Counter()
    for name in os.listdir(directory):
        with open(os.path.join(directory, name), "rb") as f:
            data = f.read()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack_from("<Q", data, offset)
            event = event_pb2.Event.FromString(data[offset + 12 : offset + 12 + length])
            tags = [v.tag for v in event.summary.value]
            kind = tags[0].split("/")[1] if tags and tags[0].startswith(metadata.TAG_PREFIX) else "other"
            sizes[kind] += length + 16
            offset += length + 16
    return dict(sizes)


def directory_bytes(directory: str) -> int:
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(directory) for f in files)


def group_rss_mb(server: TensorBoardProcess) -> float:
    """Resident memory of TensorBoard's process group (RustBoard's data server included)."""
    total_kb = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.getpgid(int(pid)) != server.process.pid:
                continue
            with open(f"/proc/{pid}/status") as f:
                total_kb += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            continue
    return total_kb / 1024


def serve(logdir: str, load_fast: str, last_step: int | None, timeout: float = 1800) -> tuple[float, dict, float]:
    """(seconds until every kind the tab draws reaches its last step, seconds of each of the
    tab's first requests after that, resident MB) of TensorBoard serving `logdir` (`last_step`
    None: an empty logdir)."""
    with start_tensorboard(logdir, load_fast=load_fast, extra_args=["--reload_interval", "5"]) as server:
        start = time.monotonic()
        route = "/data/plugin/gradcause"
        if last_step is not None:
            server.wait_for_runs([TB_RUN], timeout)
            for kind, stats in TAB_STATS.items():
                query = urllib.parse.urlencode({"run": TB_RUN, "kind": kind, "max_points": 2, "stats": stats})
                while True:
                    status, _, body = server.get(f"{route}/timeline?{query}", timeout=timeout)
                    expected = last_step if kind == "loss" else last_captured(last_step)
                    if status == 200 and json.loads(body)["steps"][-1] == expected:
                        break
                    if time.monotonic() - start > timeout:
                        raise TimeoutError(f"TensorBoard did not load {kind} up to step {expected}")
                    time.sleep(2)
        loaded = time.monotonic() - start
        # The run's data is in the plugin's cache (the requests above read it): these time the
        # analysis (events) and each timeline the tab draws, not the read (`--report` times that).
        cold = {}
        queries = {"events": f"{route}/events?run={TB_RUN}"} if last_step is not None else {}
        for kind, stats in TAB_STATS.items():
            if last_step is not None:
                queries[kind] = f"{route}/timeline?run={TB_RUN}&kind={kind}&max_points=2000&stats={stats}"
        for name, url in queries.items():
            begin = time.perf_counter()
            status, _, _ = server.get(url, timeout=timeout)
            cold[name] = time.perf_counter() - begin
            assert status == 200, (url, status)
        time.sleep(2)
        return loaded, cold, group_rss_mb(server)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def last_captured(last_step: int) -> int:
    cadence = Cadence()
    return next(s for s in range(last_step, -1, -1) if cadence.is_full(s))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--layers", type=int, default=200)
    parser.add_argument("--features", type=int, default=32, help="input features logged")
    parser.add_argument("--logdir", help="write (or reuse, if it holds the run) here; default: a temporary directory")
    parser.add_argument("--breakdown", action="store_true", help="bytes per kind (parses every event)")
    parser.add_argument("--report", action="store_true", help="time `tb-gradcause report LOGDIR`")
    parser.add_argument("--tensorboard", action="store_true", help="TensorBoard's memory, both loaders")
    parser.add_argument("--load-fast", default="false,true", help="with --tensorboard: the loaders to measure")
    parser.add_argument("--train", type=int, metavar="STEPS", help="instead: train a tiny MLP for STEPS steps")
    parser.add_argument("--start", type=int, default=0, help="with --train: the step training starts at")
    args = parser.parse_args()
    if args.train:
        main_train(args.start, args.train, args.logdir or tempfile.mkdtemp(prefix="gradcause_long_train_"))
        return

    logdir = args.logdir or tempfile.mkdtemp(prefix="gradcause_long_run_")
    train_dir = os.path.join(logdir, RUN, "train")
    if not os.path.isdir(train_dir):
        begin = time.perf_counter()
        write_long_run(logdir, args.steps, args.layers, args.features)
        print(f"wrote {args.steps:,} steps x {args.layers} layers to {logdir} in {time.perf_counter() - begin:.0f} s")
    size = directory_bytes(train_dir)
    captures = sum(Cadence().is_full(s) for s in range(args.steps))
    print(f"event files: {size / 1e6:.1f} MB, {size / args.steps:.1f} B/step; {captures} full captures")
    if args.breakdown:
        for kind, n in sorted(bytes_by_kind(train_dir).items(), key=lambda kv: -kv[1]):
            print(f"  {kind:14s} {n / 1e6:8.2f} MB  {n / args.steps:7.2f} B/step")
    if args.report:
        begin, cpu = time.perf_counter(), _children_cpu()
        done = subprocess.run([sys.executable, "-m", "tb_gradcause.cli", "report", logdir], capture_output=True)
        wall, cpu = time.perf_counter() - begin, _children_cpu() - cpu
        print(f"tb-gradcause report: {wall:.1f} s ({cpu:.1f} s of CPU), exit {done.returncode}")
        print("  " + (done.stdout.decode().strip().splitlines() or [""])[0][:200])
    if args.tensorboard:
        empty = tempfile.mkdtemp(prefix="gradcause_empty_")
        for load_fast in args.load_fast.split(","):
            _, _, base = serve(empty, load_fast, None)
            loaded, cold, rss = serve(logdir, load_fast, args.steps - 1)
            requests = ", ".join(f"{k} {v:.2f}" for k, v in cold.items())
            print(
                f"--load_fast={load_fast}: loaded in {loaded:.0f} s; RSS {rss:.0f} MB vs {base:.0f} MB empty "
                f"(+{rss - base:.0f} MB); cold requests (s): {requests}; sum {sum(cold.values()):.2f} s"
            )


def main_train(start: int, steps: int, logdir: str) -> None:
    """The cadence and the bytes per step of real training."""
    from tb_gradcause.analysis import reader

    train_dir, seconds = train_run(logdir, "trained", start, steps)
    run = reader.read_logdir(os.path.dirname(train_dir))["train"]
    expected = [s for s in range(start, start + steps) if Cadence().is_full(s)]
    loss_steps = run["loss"].steps
    size = directory_bytes(train_dir)
    print(
        f"steps {start:,}-{start + steps - 1:,} in {seconds:.0f} s ({seconds / steps * 1e3:.2f} ms/step); "
        f"{size / 1e6:.2f} MB, {size / steps:.1f} B/step"
    )
    print(
        f"  full captures {len(run['gradients'].steps)} (cadence {len(expected)}, same steps: "
        f"{run['gradients'].steps.tolist() == expected}); loss rows {len(loss_steps)}, every step: "
        f"{loss_steps.tolist() == list(range(start, start + steps))}"
    )
    for kind, n in sorted(bytes_by_kind(train_dir).items(), key=lambda kv: -kv[1]):
        print(f"  {kind:14s} {n / 1e6:8.3f} MB  {n / steps:7.2f} B/step")


if __name__ == "__main__":
    main()
