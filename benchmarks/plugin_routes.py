"""Time the plugin's routes on a large synthetic run, as the tab requests them.

    python benchmarks/plugin_routes.py [--steps 2000] [--layers 200] [--max-points 2000] [--load-fast false]
                                       [--logdir DIR --run RUN] [--format binary|json] [--profile FILE]

Writes one healthy synthetic run (every kind at every step) into a temporary logdir, or uses the
run `--run` of `--logdir` (e.g. `benchmarks/long_run.py`'s: `--logdir DIR --run long/train`), loads
it with TensorBoard's WSGI app in this process, waits until TensorBoard has loaded all of it (asking
under another experiment id, so that the plugin's caches stay cold), then times the first
(uncached) and a repeated (cached) request of `overview`, `events` and each kind's `timeline` with
the stats the tab asks for, in the tab's order and encoding (`--format`, default the tab's binary),
one after another (the tab asks for them together, beside the overview when it knows the run);
`--profile` writes the first requests' cProfile stats to FILE. Before them it times the data
provider's `read_tensors` of the run's every tag alone (twice): the floor under any cold open; and
the tab's preview, each charted kind's timeline from `--samples` samples (`samples=N`, twice, the
first uncached): what the tab waits for before its first paint of a run it knows it will show.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import tempfile
import time
import urllib.parse

from tensorboard import context as tb_context
from tensorboard.data import provider as tb_provider
from werkzeug import test as werkzeug_test

from tb_gradcause.analysis import reader
from tb_gradcause.metadata import PLUGIN_NAME
from tb_gradcause.testing import synthetic, tensorboard_app

# What the tab requests per kind (frontend/src: the stats it draws).
TAB_STATS = {
    "gradients": "l2,nan,inf,missing",
    "activations": "dead_frac,saturated_frac,nan,inf",
    "weights": "norm,update_norm,nan,inf",
    "loss": "value",
}


def wait_until_loaded(client: werkzeug_test.Client, run: str) -> None:
    """Waits until TensorBoard has loaded the whole run (its loss timeline's last step stays the
    same for 2 s), asking under another experiment id: the plugin caches per experiment, so the
    timed requests still find its caches cold (RustBoard serves every experiment id the same data)."""
    query = f"/experiment/wait/data/plugin/gradcause/timeline?run={run}&kind=loss&max_points=2&stats=value"
    last = None
    while True:
        response = client.get(query)
        step = response.json["steps"][-1] if response.status_code == 200 else None
        if step is not None and step == last:
            return
        last = step
        time.sleep(2)


def provider_read(app, run: str) -> tuple[float, float]:
    """Wall and CPU seconds of the data provider's `read_tensors` of every gradcause tag of `run`, one
    tag per call as the reader asks, with nothing of tb_gradcause after it: what any reading through
    `context.data_provider` pays on a cold open (the provider reached through the plugin's instance)."""
    plugin = next(p for p in app._plugins if p.plugin_name == PLUGIN_NAME)
    provider, ctx = plugin._provider, tb_context.RequestContext()
    listing = provider.list_tensors(ctx, experiment_id="", plugin_name=PLUGIN_NAME)[run]
    wall, cpu = time.perf_counter(), time.process_time()
    for tag in listing:
        only = tb_provider.RunTagFilter(runs=[run], tags=[tag])
        provider.read_tensors(
            ctx, experiment_id="", plugin_name=PLUGIN_NAME, downsample=reader.ALL_SAMPLES, run_tag_filter=only
        )
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--layers", type=int, default=200)
    parser.add_argument("--max-points", type=int, default=2000)
    parser.add_argument("--load-fast", default="false", choices=["false", "true"])
    parser.add_argument("--logdir", help="use this logdir's run --run instead of writing one")
    parser.add_argument("--run", default="big", help="with --logdir: the run, as TensorBoard names it")
    parser.add_argument("--format", default="binary", choices=["binary", "json"], help="the timelines' encoding")
    parser.add_argument("--samples", type=int, default=500, help="the preview's samples per kind (the tab's)")
    parser.add_argument("--profile", help="write the first requests' cProfile stats here")
    args = parser.parse_args()

    logdir = args.logdir
    if logdir is None:
        logdir = tempfile.mkdtemp(prefix="gradcause_bench_")
        start = time.perf_counter()
        data = synthetic.healthy_run(synthetic.mlp(args.layers), args.steps, kinds=[*TAB_STATS, "inputs", "backward"])
        synthetic.write_run(logdir, args.run, data)
        print(f"wrote {args.steps} steps x {args.layers} layers in {time.perf_counter() - start:.1f} s")

    start = time.perf_counter()
    app, _ = tensorboard_app.wsgi_app(logdir, args.load_fast)
    client = werkzeug_test.Client(app)
    route = "/data/plugin/gradcause"
    run = urllib.parse.quote(args.run)
    wait_until_loaded(client, run)
    print(f"TensorBoard (load_fast={args.load_fast}) loaded the run in {time.perf_counter() - start:.1f} s")
    for _ in range(2):
        wall, cpu = provider_read(app, args.run)
        print(f"provider read_tensors of every tag alone: {wall:.2f} s wall, {cpu:.2f} s CPU in this process")

    for i in range(2):
        start, size = time.perf_counter(), 0
        for kind, stats in TAB_STATS.items():
            response = client.get(
                f"{route}/timeline?run={run}&kind={kind}&max_points={args.max_points}&stats={stats}"
                f"&format={args.format}&samples={args.samples}"
            )
            assert response.status_code == 200, response.get_data()[:300]
            size += len(response.get_data())
        print(
            f"preview ({args.samples} samples per kind), {'first' if i == 0 else 'cached'}: "
            f"{time.perf_counter() - start:.2f} s, {size / 1e6:.1f} MB"
        )

    queries = {"overview": f"{route}/overview", "events": f"{route}/events?run={run}"}
    for kind, stats in TAB_STATS.items():
        queries[kind] = (
            f"{route}/timeline?run={run}&kind={kind}&max_points={args.max_points}&stats={stats}&format={args.format}"
        )
    profile = cProfile.Profile()
    first_total = 0.0
    for name, url in queries.items():
        times = []
        for i in range(2):
            start = time.perf_counter()
            with profile if i == 0 and args.profile else contextlib.nullcontext():
                response = client.get(url)
            times.append(time.perf_counter() - start)
            assert response.status_code == 200, response.get_data()[:300]
        first_total += times[0]
        size = len(response.get_data()) / 1e6
        print(f"{name:12s} first {times[0]:6.2f} s   cached {times[1] * 1e3:6.1f} ms   {size:5.1f} MB")
    print(f"first requests, one after another: {first_total:.2f} s")
    if args.profile:
        profile.dump_stats(args.profile)


if __name__ == "__main__":
    main()
