"""Time the plugin's routes on a large synthetic run, as the tab requests them.

    python benchmarks/plugin_routes.py [--steps 2000] [--layers 200] [--max-points 2000] [--load-fast false]

Writes one healthy synthetic run (every kind at every step) into a temporary logdir, loads it with
TensorBoard's WSGI app in this process, then times the first (uncached) and a repeated (cached)
request of `events` and of each kind's `timeline` with the stats the tab asks for.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from werkzeug import test as werkzeug_test

from tb_gradcause.testing import synthetic, tensorboard_app

# What the tab requests per kind (frontend/src: the stats it draws).
TAB_STATS = {
    "gradients": "l2,nan,inf,missing",
    "activations": "dead_frac,saturated_frac,nan,inf",
    "weights": "norm,update_norm,nan,inf",
    "loss": "value",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--layers", type=int, default=200)
    parser.add_argument("--max-points", type=int, default=2000)
    parser.add_argument("--load-fast", default="false", choices=["false", "true"])
    args = parser.parse_args()

    logdir = tempfile.mkdtemp(prefix="gradcause_bench_")
    start = time.perf_counter()
    data = synthetic.healthy_run(synthetic.mlp(args.layers), args.steps, kinds=[*TAB_STATS, "inputs", "backward"])
    synthetic.write_run(logdir, "big", data)
    print(f"wrote {args.steps} steps x {args.layers} layers in {time.perf_counter() - start:.1f} s")

    start = time.perf_counter()
    app, _ = tensorboard_app.wsgi_app(logdir, args.load_fast)
    client = werkzeug_test.Client(app)
    route = "/data/plugin/gradcause"
    while b'"big"' not in client.get(f"{route}/runs").get_data():
        time.sleep(0.1)
    print(f"TensorBoard (load_fast={args.load_fast}) loaded the run in {time.perf_counter() - start:.1f} s")

    queries = {"events": f"{route}/events?run=big"}
    for kind, stats in TAB_STATS.items():
        queries[kind] = f"{route}/timeline?run=big&kind={kind}&max_points={args.max_points}&stats={stats}"
    for name, url in queries.items():
        times = []
        for _ in range(2):
            start = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - start)
            assert response.status_code == 200, response.get_data()[:300]
        size = len(response.get_data()) / 1e6
        print(f"{name:12s} first {times[0]:6.2f} s   cached {times[1] * 1e3:6.1f} ms   {size:5.1f} MB")


if __name__ == "__main__":
    main()
