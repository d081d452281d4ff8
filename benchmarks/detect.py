"""Benchmark: the reader and every detector on a synthetic run of 10,000 logged steps x 200 layers.

    python benchmarks/detect.py [--steps 10000] [--logdir DIR] [--repeats N]

Writes the run with `tb_gradcause.testing.synthetic` (plausible healthy statistics of every kind at every
step, plus a few injected problems), loads it with TensorBoard's own loader once per repeat
(reference), then times `reader.read_run` without the time spent inside the data provider
(TensorBoard's `read_tensors`, shown apart) and `engine.analyze` separately. Prints medians and
the events found. Target: our code (the reader's own conversion + all detectors) < 0.5 s. An
existing run in --logdir is reused (writing takes about a minute).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np
from tensorboard import compat as tensorboard_compat
from tensorboard import context
from tensorboard.data import provider as tb_provider

from tb_gradcause import metadata
from tb_gradcause.analysis import engine, reader
from tb_gradcause.testing import synthetic

RUN = "bench"
N_FEATURES = 32


def layers() -> list[synthetic.Layer]:
    """200 layers: an LSTM, 198 ReLU Dense layers and a sigmoid output (400 variables)."""
    lstm = synthetic.Layer("lstm", 32, "tanh", "LSTM", recurrent=True)
    return [lstm] + synthetic.mlp(199, units=32)


def inject_problems(data: dict[str, synthetic.KindData], n_steps: int) -> None:
    """Badly scaled input features, a layer of ReLUs dying at 20 % of the run, gradients exploding
    from 80 % in the upper layers (x10 per 1 % of the run) and turning NaN at 85 % (then the loss)."""
    dying, exploding, nan = (int(n_steps * f) for f in (0.2, 0.8, 0.85))
    inputs = data["inputs"]
    for stat in ("mean", "std", "min", "max"):
        inputs.stat(stat)[:, 5:10] *= 300.0
    acts = data["activations"]
    dead = acts.rows_of("dense_60")
    later = acts.steps >= dying
    acts.stat("dead_frac")[np.ix_(later, dead)] = 0.95
    acts.stat("zero_frac")[np.ix_(later, dead)] = 0.97
    for kind in ("gradients", "backward"):
        kd = data[kind]
        upper = [i for i, row in enumerate(kd.rows) if row.depth >= 120]
        growth = 10.0 ** np.clip((kd.steps - exploding) / (n_steps / 100), 0.0, 30.0)[:, None]
        for stat in ("l2", "std", "min", "max", "max_abs", "mean"):
            kd.stat(stat)[:, upper] *= growth
        broken = np.ix_(kd.steps >= nan, kd.rows_of("dense_150"))
        kd.stat("nan")[broken] = 7
    data["loss"].stat("value")[nan + 1 :] = np.nan


def write_benchmark_run(logdir: str, n_steps: int) -> None:
    data = synthetic.healthy_run(layers(), n_steps, n_features=N_FEATURES, seed=7)
    inject_problems(data, n_steps)
    synthetic.write_run(logdir, RUN, data)


class TimedProvider:
    """A data provider that adds up the wall and CPU seconds spent inside it (TensorBoard's work)."""

    def __init__(self, provider: tb_provider.DataProvider) -> None:
        self.provider, self.wall, self.cpu = provider, 0.0, 0.0

    def __getattr__(self, name: str):
        method = getattr(self.provider, name)

        def timed(*args, **kwargs):
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return method(*args, **kwargs)
            finally:
                self.wall += time.perf_counter() - wall
                self.cpu += time.process_time() - cpu

        return timed


class Timing:
    """Median wall and CPU seconds of `repeats` calls of `fn` (without the time spent inside
    `inner` during each call, when given), the first call's wall seconds, and its last result."""

    def __init__(self, fn, repeats: int, inner: TimedProvider | None = None) -> None:
        walls, cpus = [], []
        for _ in range(repeats):
            if inner is not None:
                inner.wall = inner.cpu = 0.0
            wall, cpu = time.perf_counter(), time.process_time()
            self.result = fn()
            walls.append(time.perf_counter() - wall - (inner.wall if inner else 0.0))
            cpus.append(time.process_time() - cpu - (inner.cpu if inner else 0.0))
        self.wall, self.cpu, self.first = statistics.median(walls), statistics.median(cpus), walls[0]

    def __str__(self) -> str:
        return f"{self.wall:6.3f} s wall, {self.cpu:6.3f} s CPU (first call {self.first:.3f} s wall)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000, help="logged steps (every kind at every step)")
    parser.add_argument("--logdir", help="where the run is written and reused (default: a folder in the temp dir)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    args.logdir = args.logdir or os.path.join(tempfile.gettempdir(), f"tb_gradcause_detect_bench_{args.steps}")
    if not os.path.isdir(os.path.join(args.logdir, RUN)):
        start = time.perf_counter()
        write_benchmark_run(args.logdir, args.steps)
        print(f"wrote {args.logdir}/{RUN} in {time.perf_counter() - start:.1f} s")
    size = sum(entry.stat().st_size for entry in os.scandir(os.path.join(args.logdir, RUN)))
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())

    _ = tensorboard_compat.tf.__version__  # TensorBoard's loader imports TensorFlow when installed: not timed
    load = Timing(lambda: reader.logdir_provider(args.logdir), max(1, args.repeats // 2))
    provider, ctx = load.result, context.RequestContext()
    read_tensors = Timing(
        lambda: provider.read_tensors(
            ctx,
            experiment_id="",
            plugin_name=metadata.PLUGIN_NAME,
            downsample=reader.ALL_SAMPLES,
            run_tag_filter=tb_provider.RunTagFilter(runs=[RUN]),
        ),
        args.repeats,
    )
    timed = TimedProvider(provider)
    read = Timing(lambda: reader.read_run(timed, ctx, "", RUN), args.repeats, inner=timed)
    detect = Timing(lambda: engine.analyze(read.result), args.repeats)

    shapes = ", ".join(f"{kind} {series.values.shape}" for kind, series in read.result.series.items())
    print(f"run: {shapes}; {size / 1e6:.0f} MB of event files; load average before: {load_before}")
    print(f"medians of {args.repeats} (load: of {max(1, args.repeats // 2)}):")
    print(f"  TensorBoard loads the event files (reference): {load}")
    print(f"  TensorBoard's read_tensors (one request):      {read_tensors}")
    print(f"  reader's own conversion (read_run - provider): {read}")
    print(f"  engine.analyze (all detectors):                {detect}")
    ours = read.wall + detect.wall
    print(f"  our code (conversion + detectors):             {ours:6.3f} s wall (target < 0.5 s)")
    print(f"  load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for event in detect.result["events"]:
        span = f"steps {event['first_step']}-{event['last_step']}"
        print(f"  {event['severity']:7} {event['kind']:24} {event['layer'] or 'run':10} {span}")
    for kind, why in detect.result["skipped"].items():
        print(f"  skipped {kind}: {why}")


if __name__ == "__main__":
    main()
