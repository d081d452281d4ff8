"""Benchmark: the "Gradient Causes" tab in headless Chromium on 10,000 logged steps x 200 layers.

    python benchmarks/browser_render.py [--logdir DIR] [--load-fast true|false] [--repeats N] [--append]

Writes (or reuses) the run of `benchmarks/detect.py` (every kind at every step, 440 MB), starts a real
TensorBoard, waits until it has loaded every step, then opens the tab `--repeats` times (the first with the
plugin's caches cold) and reads the tab's own performance measures: `gradcause:load` (routes fetched and parsed),
`gradcause:render` (data in hand -> cards and every chart painted; target < 1 s), then
`gradcause:zoom` for drag zooms, a double-click reset and a card click (time until the next
frame). `--append` adds the figures to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import statistics
import sys
import tempfile
import time
import urllib.parse

from playwright.sync_api import Page, sync_playwright

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # the repository root: tests.support

from detect import RUN, layers, write_benchmark_run  # noqa: E402

from tests.support import chromium  # noqa: E402
from tests.support.tensorboard_server import tensorboard_server  # noqa: E402

TARGET_RENDER_MS = 1000
N_STEPS = 10_000


def wait_until_loaded(server, timeout: float = 600.0) -> float:
    """Seconds until TensorBoard serves the run's last step for every kind the tab draws."""
    start = time.monotonic()
    for kind in ("loss", "gradients", "activations", "weights"):
        query = urllib.parse.urlencode(
            {"run": RUN, "kind": kind, "max_points": 2, "stats": "nan" if kind != "loss" else "value"}
        )
        while True:
            status, _, body = server.get(f"/data/plugin/gradcause/timeline?{query}", timeout=timeout)
            if status == 200 and json.loads(body)["steps"][-1] == N_STEPS - 1:
                break
            if time.monotonic() - start > timeout:
                raise TimeoutError(f"TensorBoard did not load all {N_STEPS} steps of {kind}")
            time.sleep(1)
    return time.monotonic() - start


def tab_frame(page: Page, timeout_s: float = 300.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for frame in page.frames:
            if "plugin_entry.html" in frame.url and frame.query_selector(".gc-root[data-state=ready] .gc-chart"):
                return frame
        page.wait_for_timeout(50)
    raise TimeoutError("the tab did not render")


def measures(frame, name: str) -> list[float]:
    return frame.evaluate(f"performance.getEntriesByName({json.dumps(name)}).map(m => m.duration)")


def open_and_measure(browser, url: str) -> dict:
    """One cold page load of the tab plus zoom, reset and card-click interactions."""
    context = browser.new_context(viewport={"width": 1600, "height": 1100})
    page = context.new_page()
    page.goto(url)
    frame = tab_frame(page)
    result = {
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
    parser.add_argument("--logdir", help="reuse or create the benchmark run here (default: a temporary directory)")
    parser.add_argument("--load-fast", default="true", choices=["true", "false"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--append", action="store_true", help="append the figures to benchmarks/RESULTS.md")
    args = parser.parse_args()

    logdir = args.logdir or tempfile.mkdtemp(prefix="tb_gradcause_browser_bench_")
    if not os.path.isdir(os.path.join(logdir, RUN)):
        started = time.monotonic()
        write_benchmark_run(logdir, N_STEPS)
        print(f"wrote {N_STEPS} steps x {len(layers())} layers in {time.monotonic() - started:.0f} s")

    with tensorboard_server(logdir, load_fast=args.load_fast, runs=[RUN], timeout=600) as server:
        loaded_s = wait_until_loaded(server)
        print(f"TensorBoard (--load_fast={args.load_fast}) loaded every step after {loaded_s:.1f} s more")
        with sync_playwright() as p:
            browser = chromium.launch(p)
            runs = [open_and_measure(browser, server.tab_url) for _ in range(args.repeats)]
            load = os.getloadavg()[0]
            browser.close()

    for i, r in enumerate(runs):
        zooms = ", ".join(f"{z:.0f}" for z in r["zoom_ms"])
        print(
            f"open {i + 1}{' (cold caches)' if i == 0 else ''}: load {r['load_ms']:.0f} ms "
            f"({r['json_bytes'] / 1e6:.1f} MB JSON), render {r['render_ms']:.0f} ms; interactions {zooms} ms"
        )
    render = statistics.median(r["render_ms"] for r in runs)
    warm_load = statistics.median(r["load_ms"] for r in runs[1:] or runs)
    zooms = [z for r in runs for z in r["zoom_ms"]]
    verdict = "meets" if render < TARGET_RENDER_MS else "MISSES"
    print(f"median render {render:.0f} ms: {verdict} the {TARGET_RENDER_MS} ms target")

    if args.append:
        each_render = ", ".join(f"{r['render_ms']:.0f}" for r in runs)
        today = datetime.date.today().isoformat()
        append_results(
            HERE / "RESULTS.md",
            f"\n## Browser: the tab on {N_STEPS:,} steps x {len(layers())} layers "
            f"(`benchmarks/browser_render.py`, {today})\n\n"
            f"Headless Chromium, TensorBoard `--load_fast={args.load_fast}`, {os.cpu_count()} CPU cores "
            f"({platform.machine()}, shared with other jobs: load average {load:.1f} during the run), "
            f"viewport 1600x1100, {args.repeats} page opens. Charts: loss, per-layer gradient norm, the "
            "layers x steps heatmap, activation health, update ratio (a model this deep gets max/median/min "
            'lines plus the layers with causes; the heatmap has all 200). "load" is the plugin\'s routes '
            "(reader, engine, JSON) plus fetch and parse; the render target excludes it.\n\n"
            "| measure | value |\n|---|---|\n"
            f"| render (data in hand -> cards and 5 charts painted), median | **{render:.0f} ms** "
            f"(target < {TARGET_RENDER_MS} ms: {verdict}) |\n"
            f"| render, each open | {each_render} ms |\n"
            f"| load (routes fetched + parsed), first open with cold plugin caches | {runs[0]['load_ms']:.0f} ms |\n"
            f"| load, later opens (median) | {warm_load:.0f} ms |\n"
            f"| JSON transferred per open | {runs[0]['json_bytes'] / 1e6:.1f} MB |\n"
            f"| zoom / reset / card click, time to next frame: median (max) | "
            f"{statistics.median(zooms):.0f} ms ({max(zooms):.0f} ms) over {len(zooms)} interactions |\n",
        )


if __name__ == "__main__":
    main()
