"""Benchmark: the "Gradient Causes" tab in headless Chromium, on one big run or on many runs.

    python benchmarks/browser_render.py [--case run|runs|long] [--logdir DIR] [--load-fast true|false]
                                        [--repeats N] [--append]

`--case run` (default): writes (or reuses) the run of `benchmarks/detect.py` (10,000 logged steps x
200 layers, every kind at every step, 440 MB), starts a real TensorBoard, waits until it has loaded
every step, then opens the tab `--repeats` times (the first with the plugin's caches cold) and reads
the tab's own performance measures: `gradcause:preview` (the tab's page load -> the run's preview
painted: its charts from a sample of the logged steps, drawn while the run is read and diagnosed;
absent when the overview came first), `gradcause:load` (the wait for the run's events and timelines
once the overview is on screen: the tab asks for a run it knows it will show beside the overview),
`gradcause:render` (data in hand -> cards and every chart painted; target < 1 s), then
`gradcause:zoom` for drag zooms, a double-click reset and a card click (time until the next frame).

`--case long`: the same measures on `benchmarks/long_run.py`'s run (1,000,000 steps x 200 layers at
the default cadence: 1,936 captures and a loss row every step), written into `--logdir` unless it
holds it already (`python benchmarks/long_run.py --logdir DIR` writes the same).

`--case runs`: 100 runs of 1,000 logged steps x 20 layers (every kind at every step; four kinds of
run, healthy or broken, each copied to 25 runs), and the tab opened `--repeats` times:
`gradcause:overview` (the tab's page load -> the run overview of all 100 runs painted; target
< 1.5 s) and `gradcause:overview-route` (the `overview` request alone, which computes every run's
causes when the plugin's caches are cold: the first open).

`--append` adds the figures to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse

import numpy as np
from playwright.sync_api import Page, sync_playwright

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # the repository root: tests.support

from detect import RUN, layers, write_benchmark_run  # noqa: E402

from tb_gradcause.testing import synthetic  # noqa: E402
from tests.support import chromium  # noqa: E402
from tests.support.tensorboard_server import tensorboard_server  # noqa: E402

TARGET_RENDER_MS = 1000
N_STEPS = 10_000
TARGET_OVERVIEW_MS = 1500
MANY_RUNS, MANY_STEPS, MANY_LAYERS = 100, 1_000, 20


def wait_until_loaded(
    server, run: str = RUN, n_steps: int = N_STEPS, timeout: float = 600.0, last_steps: dict[str, int] | None = None
) -> float:
    """Seconds until TensorBoard serves the run's last step (`last_steps[kind]`, else `n_steps` - 1)
    for every kind the tab draws. Asked under another experiment id: the plugin caches per
    experiment, so the tab's first open still finds its caches cold (TensorBoard serves one logdir
    under every experiment id)."""
    start = time.monotonic()
    for kind in ("loss", "gradients", "activations", "weights"):
        last = (last_steps or {}).get(kind, n_steps - 1)
        query = urllib.parse.urlencode(
            {"run": run, "kind": kind, "max_points": 2, "stats": "nan" if kind != "loss" else "value"}
        )
        while True:
            status, _, body = server.get(f"/experiment/wait/data/plugin/gradcause/timeline?{query}", timeout=timeout)
            if status == 200 and json.loads(body)["steps"][-1] == last:
                break
            if time.monotonic() - start > timeout:
                raise TimeoutError(f"TensorBoard did not load {kind} of {run} up to step {last}")
            time.sleep(1)
    return time.monotonic() - start


def _many_runs_variant(kind: str, seed: int) -> dict[str, synthetic.Series]:
    """One of the many runs: healthy, or gradients turning NaN, ReLUs dying, or gradients exploding."""
    data = synthetic.healthy_run(synthetic.mlp(MANY_LAYERS), MANY_STEPS, seed=seed)
    late = int(MANY_STEPS * 0.6)
    if kind == "nan":
        data["gradients"].stat("nan")[late:, :] = 10
        data["loss"].stat("value")[late:, 0] = np.nan
    elif kind == "dead":
        dead = data["activations"].rows_of("dense_5")
        data["activations"].stat("dead_frac")[late:, dead] = 0.95
        data["activations"].stat("zero_frac")[late:, dead] = 0.97
    elif kind == "exploding":
        for r in data["gradients"].rows_of("dense_10"):
            for stat in ("l2", "max_abs"):
                data["gradients"].stat(stat)[late:, r] *= np.logspace(0, 9, MANY_STEPS - late)
    return data


def write_many_runs(logdir: str) -> list[str]:
    """`MANY_RUNS` runs under `logdir` (or those already there): four variants, each copied to a quarter
    of the runs (identical bytes cost the plugin the same as different ones: it caches per run)."""
    names = [f"run_{i:03d}" for i in range(MANY_RUNS)]
    if all(os.path.isdir(os.path.join(logdir, name)) for name in names):
        return names
    variants = ("healthy", "nan", "dead", "exploding")
    scratch = tempfile.mkdtemp(prefix="tb_gradcause_variants_")
    for k, kind in enumerate(variants):
        synthetic.write_run(scratch, kind, _many_runs_variant(kind, seed=k))
    for i, name in enumerate(names):
        shutil.copytree(os.path.join(scratch, variants[i % len(variants)]), os.path.join(logdir, name))
    shutil.rmtree(scratch)
    return names


def tab_frame(page: Page, timeout_s: float = 300.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for frame in page.frames:
            if "plugin_entry.html" in frame.url and frame.query_selector(".gc-root[data-state=ready] .gc-chart"):
                return frame
        page.wait_for_timeout(50)
    raise TimeoutError("the tab did not render")


def overview_frame(page: Page, n_runs: int, timeout_s: float = 600.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for frame in page.frames:
            if "plugin_entry.html" in frame.url and len(frame.query_selector_all(".gc-run-line")) == n_runs:
                return frame
        page.wait_for_timeout(50)
    raise TimeoutError("the tab did not list every run")


def open_overview(browser, url: str, n_runs: int, timeout_s: float = 600.0) -> dict:
    """One page load of the tab on many runs: time to the overview painted (its first request's share),
    and to every run checked (the first open diagnoses them a time budget at a time)."""
    context = browser.new_context(viewport={"width": 1600, "height": 1100})
    page = context.new_page()
    page.goto(url)
    frame = overview_frame(page, n_runs)
    frame.wait_for_function(
        "performance.getEntriesByName('gradcause:overview-complete').length > 0", timeout=timeout_s * 1000
    )
    result = {"overview_ms": measures(frame, "gradcause:overview")[0]}
    result["route_ms"] = measures(frame, "gradcause:overview-route")[0]
    result["complete_ms"] = measures(frame, "gradcause:overview-complete")[0]
    result["json_bytes"] = frame.evaluate(
        "performance.getEntriesByType('resource').filter(r => /overview/.test(r.name))"
        ".reduce((s, r) => s + r.encodedBodySize, 0)"
    )
    context.close()
    return result


def measures(frame, name: str) -> list[float]:
    return frame.evaluate(f"performance.getEntriesByName({json.dumps(name)}).map(m => m.duration)")


def open_and_measure(browser, url: str) -> dict:
    """One cold page load of the tab plus zoom, reset and card-click interactions."""
    context = browser.new_context(viewport={"width": 1600, "height": 1100})
    page = context.new_page()
    loadavg = os.getloadavg()[0]
    page.goto(url)
    frame = tab_frame(page)
    render_end = frame.evaluate(
        "performance.getEntriesByName('gradcause:render').map(m => m.startTime + m.duration).pop()"
    )
    result = {
        "overview_ms": measures(frame, "gradcause:overview")[0],
        "preview_ms": next(iter(measures(frame, "gradcause:preview")), None),
        "loadavg": loadavg,
        "painted_ms": render_end,
        "load_ms": measures(frame, "gradcause:load")[-1],
        "render_ms": measures(frame, "gradcause:render")[-1],
        "json_bytes": frame.evaluate(
            "performance.getEntriesByType('resource').filter(r => /timeline|events/.test(r.name))"
            ".reduce((s, r) => s + r.encodedBodySize, 0)"
        ),
    }
    over = frame.query_selector(".gc-chart:not(.gc-events) .u-over")  # a chart, not the events lane
    box = over.bounding_box()
    y = box["y"] + box["height"] / 2
    before = len(measures(frame, "gradcause:zoom"))
    for lo, hi in ((0.1, 0.6), (0.2, 0.5), (0.3, 0.35)):
        page.mouse.move(box["x"] + box["width"] * lo, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * hi, y, steps=4)
        page.mouse.up()
        page.wait_for_timeout(200)
    over.dblclick(position={"x": box["width"] / 2, "y": 10})
    page.wait_for_timeout(200)
    cards = frame.query_selector_all(".gc-card")
    if cards:
        cards[len(cards) // 2].click()
        page.wait_for_timeout(200)
    result["zoom_ms"] = measures(frame, "gradcause:zoom")[before:]
    context.close()
    return result


def append_results(path: pathlib.Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--case", default="run", choices=["run", "runs", "long"], help="one big run, 100 runs, or long_run.py's run"
    )
    parser.add_argument("--logdir", help="reuse or create the benchmark runs here (default: a temporary directory)")
    parser.add_argument("--load-fast", default="true", choices=["true", "false"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--append", action="store_true", help="append the figures to benchmarks/RESULTS.md")
    args = parser.parse_args()
    logdir = args.logdir or tempfile.mkdtemp(prefix="tb_gradcause_browser_bench_")
    {"run": bench_run, "runs": bench_runs, "long": bench_long}[args.case](args, logdir)


def bench_runs(args: argparse.Namespace, logdir: str) -> None:
    """The overview of `MANY_RUNS` runs: page load -> every run listed, cold then warm plugin caches."""
    started = time.monotonic()
    names = write_many_runs(logdir)
    print(
        f"{len(names)} runs of {MANY_STEPS:,} steps x {MANY_LAYERS} layers ready "
        f"after {time.monotonic() - started:.0f} s"
    )
    with tensorboard_server(logdir, load_fast=args.load_fast, runs=names, timeout=900) as server:
        loaded_s = sum(wait_until_loaded(server, name, MANY_STEPS, timeout=900) for name in names)
        print(f"TensorBoard (--load_fast={args.load_fast}) loaded every step after {loaded_s:.1f} s more")
        with sync_playwright() as p:
            browser = chromium.launch(p)
            opens = [open_overview(browser, server.tab_url, len(names)) for _ in range(args.repeats)]
            load = os.getloadavg()[0]
            browser.close()

    for i, r in enumerate(opens):
        print(
            f"open {i + 1}{' (cold caches)' if i == 0 else ''}: overview painted {r['overview_ms']:.0f} ms "
            f"after the tab's page load, of which its first request {r['route_ms']:.0f} ms; every run "
            f"checked after {r['complete_ms']:.0f} ms ({r['json_bytes'] / 1e3:.0f} kB JSON)"
        )
    warm = opens[1:] or opens
    painted = statistics.median(r["overview_ms"] for r in warm)
    verdict = "meets" if painted < TARGET_OVERVIEW_MS else "MISSES"
    cold = "meets" if opens[0]["overview_ms"] < TARGET_OVERVIEW_MS else "MISSES"
    print(f"median overview painted (warm caches) {painted:.0f} ms: {verdict} the {TARGET_OVERVIEW_MS} ms target")
    print(f"first open (cold caches): painted {opens[0]['overview_ms']:.0f} ms ({cold} the target)")

    if args.append:
        today = datetime.date.today().isoformat()
        each = ", ".join(f"{r['overview_ms']:.0f}" for r in opens)
        append_results(
            HERE / "RESULTS.md",
            f"\n## Browser: the run overview of {len(names)} runs of {MANY_STEPS:,} steps x {MANY_LAYERS} layers "
            f"(`benchmarks/browser_render.py --case runs`, {today})\n\n"
            f"Headless Chromium, TensorBoard `--load_fast={args.load_fast}`, {os.cpu_count()} CPU cores "
            f"({platform.machine()}, shared with other jobs: load average {load:.1f} during the run), "
            f'viewport 1600x1100, {args.repeats} page opens, every kind logged at every step. "painted" '
            "runs from the tab's page load (its iframe's time origin) to the table of every run on screen; "
            "the first open diagnoses every run (cold plugin caches), in time-budgeted requests whose runs "
            "past the budget come back pending (the table fills in), later ones reuse the diagnoses.\n\n"
            "| measure | value |\n|---|---|\n"
            f"| overview painted, later opens (median) | **{painted:.0f} ms** "
            f"(target < {TARGET_OVERVIEW_MS} ms: {verdict}) |\n"
            f"| overview painted, each open (the first with cold caches) | {each} ms "
            f"(first open: {cold} the target) |\n"
            f"| every run checked, first open (cold caches) | {opens[0]['complete_ms']:.0f} ms |\n"
            f"| first `overview` request, first open (cold caches) | {opens[0]['route_ms']:.0f} ms |\n"
            f"| `overview` route, later opens (median) | {statistics.median(r['route_ms'] for r in warm):.0f} ms |\n"
            f"| JSON of the overview | {opens[0]['json_bytes'] / 1e3:.0f} kB |\n",
        )


def bench_long(args: argparse.Namespace, logdir: str) -> None:
    """`bench_run` on long_run.py's run of a million steps."""
    import long_run  # TensorFlow: only to write the run

    if not os.path.isdir(os.path.join(logdir, long_run.TB_RUN)):
        started = time.monotonic()
        long_run.write_long_run(logdir, 1_000_000, 200, 32)
        print(f"wrote 1,000,000 steps x 200 layers in {time.monotonic() - started:.0f} s")
    captured = long_run.last_captured(999_999)
    last_steps = {"loss": 999_999, "gradients": captured, "activations": captured, "weights": captured}
    bench_run(args, logdir, long_run.TB_RUN, last_steps, "1,000,000 steps (1,936 captures) x 200 layers")


def bench_run(
    args: argparse.Namespace,
    logdir: str,
    run: str = RUN,
    last_steps: dict[str, int] | None = None,
    what: str = f"{N_STEPS:,} steps x {len(layers())} layers",
) -> None:
    """The big run: render and interactions, cold then warm plugin caches."""
    if run == RUN and not os.path.isdir(os.path.join(logdir, RUN)):
        started = time.monotonic()
        write_benchmark_run(logdir, N_STEPS)
        print(f"wrote {N_STEPS} steps x {len(layers())} layers in {time.monotonic() - started:.0f} s")

    with tensorboard_server(logdir, load_fast=args.load_fast, runs=[run], timeout=900) as server:
        loaded_s = wait_until_loaded(server, run, timeout=900, last_steps=last_steps)
        print(f"TensorBoard (--load_fast={args.load_fast}) loaded every step after {loaded_s:.1f} s more")
        with sync_playwright() as p:
            browser = chromium.launch(p)
            runs = [open_and_measure(browser, server.tab_url) for _ in range(args.repeats)]
            load = os.getloadavg()[0]
            browser.close()

    for i, r in enumerate(runs):
        zooms = ", ".join(f"{z:.0f}" for z in r["zoom_ms"])
        preview = "no preview" if r["preview_ms"] is None else f"preview painted {r['preview_ms']:.0f} ms"
        print(
            f"open {i + 1}{' (cold caches)' if i == 0 else ''}: {preview}; painted {r['painted_ms']:.0f} ms after "
            f"the page load (overview {r['overview_ms']:.0f} ms, load {r['load_ms']:.0f} ms, "
            f"{r['json_bytes'] / 1e6:.1f} MB, render {r['render_ms']:.0f} ms); interactions {zooms} ms; "
            f"load average {r['loadavg']:.1f}"
        )
    render = statistics.median(r["render_ms"] for r in runs)
    warm_load = statistics.median(r["load_ms"] for r in runs[1:] or runs)
    zooms = [z for r in runs for z in r["zoom_ms"]]
    verdict = "meets" if render < TARGET_RENDER_MS else "MISSES"
    print(f"median render {render:.0f} ms: {verdict} the {TARGET_RENDER_MS} ms target")

    if args.append:
        each_render = ", ".join(f"{r['render_ms']:.0f}" for r in runs)
        preview = runs[0]["preview_ms"]
        first_preview = "none (the overview came first)" if preview is None else f"{preview:.0f} ms"
        today = datetime.date.today().isoformat()
        append_results(
            HERE / "RESULTS.md",
            f"\n## Browser: the tab on {what} "
            f"(`benchmarks/browser_render.py --case {args.case}`, {today})\n\n"
            f"Headless Chromium, TensorBoard `--load_fast={args.load_fast}`, {os.cpu_count()} CPU cores "
            f"({platform.machine()}, shared with other jobs: load average {load:.1f} during the run), "
            f"viewport 1600x1100, {args.repeats} page opens. Charts: loss, per-layer gradient norm, the "
            "layers x steps heatmap, activation health, update ratio (a model this deep gets max/median/min "
            'lines plus the layers with causes; the heatmap has all 200). "load" is the wait for the events '
            "and timelines after the overview (fetched and parsed); the render target excludes it.\n\n"
            "| measure | value |\n|---|---|\n"
            f"| render (data in hand -> cards and 5 charts painted), median | **{render:.0f} ms** "
            f"(target < {TARGET_RENDER_MS} ms: {verdict}) |\n"
            f"| render, each open | {each_render} ms |\n"
            f"| preview painted (the tab's page load -> the run's preview), first open with cold plugin caches | "
            f"{first_preview} |\n"
            f"| painted (the tab's page load -> charts painted), first open with cold plugin caches | "
            f"{runs[0]['painted_ms']:.0f} ms (overview {runs[0]['overview_ms']:.0f} ms) |\n"
            f"| load (routes fetched + parsed), first open with cold plugin caches | {runs[0]['load_ms']:.0f} ms |\n"
            f"| load, later opens (median) | {warm_load:.0f} ms |\n"
            f"| events and timelines transferred per open | {runs[0]['json_bytes'] / 1e6:.1f} MB |\n"
            f"| zoom / reset / card click, time to next frame: median (max) | "
            f"{statistics.median(zooms):.0f} ms ({max(zooms):.0f} ms) over {len(zooms)} interactions |\n",
        )


if __name__ == "__main__":
    main()
