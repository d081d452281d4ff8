"""`tb-gradcause demo`: write the demo scenarios' runs into a logdir and serve TensorBoard on them.

Each scenario trains once; a run already written (marked complete) is reused, an interrupted one is
written again. TensorBoard listens on 127.0.0.1 at a free port (or `--port`) until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import webbrowser
from collections.abc import Sequence

from tb_gradcause.cli import tensorboard_process as tb_process
from tb_gradcause.cli.quiet import import_tensorflow_quietly

DEFAULT_LOGDIR = "gradcause-demo"

# Exit status of a Ctrl-C before the tab was served (a shell's 128 + SIGINT).
EXIT_INTERRUPTED = 130

# Written into a scenario's run directory once its training has finished.
COMPLETE_MARKER = ".tb_gradcause_demo_complete"


# Training time of one scenario on 2 CPU cores (the 23 scenarios take about 4 minutes).
SECONDS_PER_SCENARIO = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Train the demo scenarios, small Keras models most of which are broken on purpose (NaN from an "
        "exp overflow, exploding and vanishing gradients, dead ReLUs, saturated activations, unscaled inputs, "
        "a learning rate too high, ...) beside healthy ones, each with GradCauseCallback, into LOGDIR; then "
        "serve TensorBoard on LOGDIR and open its Gradient Causes tab. All scenarios take about 4 minutes on "
        "2 CPU cores; runs already written are reused, so a second start serves at once."
    )
    parser.add_argument("--logdir", default=DEFAULT_LOGDIR, help=f"where the runs go (default: ./{DEFAULT_LOGDIR})")
    parser.add_argument("--port", type=int, default=0, help="TensorBoard's port (default: a free one)")
    parser.add_argument(
        "--scenarios", help="comma-separated scenario names (default: all; an unknown name lists them all)"
    )
    parser.add_argument("--no-browser", action="store_true", help="only print the URL, do not open a browser")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    import_tensorflow_quietly()
    from tb_gradcause import demo  # imports Keras: only when the demo really runs

    known = [scenario.NAME for scenario in demo.SCENARIOS]
    names = known if args.scenarios is None else [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = sorted(set(names) - set(known))
    if unknown or not names:
        print(f"tb-gradcause demo: unknown scenario(s) {unknown}; choose from {', '.join(known)}", file=sys.stderr)
        return 2
    logdir = os.path.abspath(args.logdir)
    try:
        write_missing_runs(logdir, names)
        return serve(logdir, args.port, open_browser=not args.no_browser)
    except KeyboardInterrupt:  # while training or while TensorBoard starts: stop, without a traceback
        print("\ntb-gradcause demo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def write_missing_runs(logdir: str, names: Sequence[str]) -> list[str]:
    """Train the scenarios in `names` whose runs are not complete under `logdir`; return those trained."""
    from tb_gradcause import demo

    todo = [name for name in names if not os.path.exists(os.path.join(logdir, name, COMPLETE_MARKER))]
    if todo:
        broken = sum(not name.startswith("healthy_") for name in todo)
        minutes = max(1, round(len(todo) * SECONDS_PER_SCENARIO / 60))
        print(
            f"training {len(todo)} demo scenario(s), about {minutes} minute(s) on 2 CPU cores; {broken} of them "
            "are broken on purpose, so the warnings they print are expected",
            flush=True,
        )
    for i, name in enumerate(todo, 1):
        run_dir = os.path.join(logdir, name)
        if os.path.isdir(run_dir):
            shutil.rmtree(run_dir)  # an interrupted earlier attempt
        print(f"[{i}/{len(todo)}] training demo scenario {name} -> {run_dir}", flush=True)
        demo.write_all(logdir, [name])
        os.makedirs(run_dir, exist_ok=True)
        open(os.path.join(run_dir, COMPLETE_MARKER), "w").close()
    return todo


def serve(logdir: str, port: int, *, open_browser: bool) -> int:
    """Run TensorBoard on `logdir` until Ctrl-C (0) or until it exits by itself (its exit code)."""
    try:
        server = tb_process.start_tensorboard(logdir, load_fast="auto", port=port)
    except tb_process.TensorBoardStartError as e:
        print(f"tb-gradcause demo: {e}", file=sys.stderr)
        return 1
    with server:
        # `kill` or a closed terminal must stop TensorBoard too: leave through `with server`.
        for stop_signal in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(stop_signal, lambda number, frame: sys.exit(128 + number))
        print(f"TensorBoard on {logdir} at {server.url}/ (pid {server.process.pid})")
        print(f"Gradient Causes tab: {server.tab_url}")
        print("Press Ctrl-C to stop.", flush=True)
        if open_browser:
            webbrowser.open(server.tab_url)
        try:
            code = server.process.wait()
        except KeyboardInterrupt:
            print("\nstopping TensorBoard", flush=True)
            return 0
        print(f"tb-gradcause demo: TensorBoard exited with {code}\n{server.log()}", file=sys.stderr)
        return code or 1
