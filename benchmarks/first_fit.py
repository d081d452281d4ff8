"""The first `fit` epoch as users wait for it: tracing the train functions, with and without GradCauseCallback.

    python benchmarks/first_fit.py [--depths 10,30] [--rounds 3] [--old-tree DIR]

The callback traces its own train functions (lean, full; every capture's stat kernels for every
layer) before the first steps run; on a deep model that build, not the steps, is the first epoch.
Each measurement is a fresh process (nothing traced or cached) that builds an MLP of `depth`
Dense(32, relu) layers and trains one epoch of 8 steps; its CPU and wall seconds are printed.
Variants: `plain` fit, `gradcause` (default callback), and with `--old-tree` the callback from
another checkout (`PYTHONPATH`, e.g. a `git worktree` of an older commit) for an A/B in one run.
Rounds interleave the variants (the order alternates); medians over rounds, the callback's CPU
ratio over plain's of the same round.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

STEPS = 8
BATCH = 32

CHILD = """
import sys, tempfile, time
import numpy as np, keras
depth, with_callback = int(sys.argv[1]), sys.argv[2] == "1"
rng = np.random.default_rng(0)
x = rng.normal(size=({n}, 32)).astype("float32")
y = rng.normal(size=({n}, 1)).astype("float32")
model = keras.Sequential([keras.Input((32,))] + [keras.layers.Dense(32, activation="relu") for _ in range(depth)]
                         + [keras.layers.Dense(1)])
model.compile("adam", "mse")
callbacks = []
if with_callback:
    import tb_gradcause
    callbacks = [tb_gradcause.GradCauseCallback(tempfile.mkdtemp())]
wall, cpu = time.perf_counter(), time.process_time()
model.fit(x, y, batch_size={batch}, epochs=1, verbose=0, callbacks=callbacks)
print("RESULT", time.process_time() - cpu, time.perf_counter() - wall)
if with_callback:
    print("FROM", tb_gradcause.__file__)
""".format(n=STEPS * BATCH, batch=BATCH)


def measure(depth: int, with_callback: bool, pythonpath: str) -> tuple[float, float]:
    """(CPU s, wall s) of one fresh process's first epoch, tb_gradcause imported from `pythonpath`."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env["PYTHONPATH"] = pythonpath
    with tempfile.TemporaryDirectory() as cwd:  # not the repository: its tb_gradcause/ would shadow PYTHONPATH
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(depth), "1" if with_callback else "0"],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    lines = out.splitlines()
    if with_callback:
        source = next(line for line in lines if line.startswith("FROM")).split(" ", 1)[1]
        assert source.startswith(os.path.join(pythonpath, "tb_gradcause")), f"imported {source}, not from {pythonpath}"
    cpu, wall = next(line for line in lines if line.startswith("RESULT")).split()[1:]
    return float(cpu), float(wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--depths", default="10,30")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--old-tree", help="a checkout whose tb_gradcause is the 'old' variant")
    args = parser.parse_args()
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    variants: dict[str, tuple[bool, str]] = {"plain": (False, here), "gradcause": (True, here)}
    if args.old_tree:
        variants["gradcause_old"] = (True, os.path.abspath(args.old_tree))
    print(f"load before: {open('/proc/loadavg').read().split()[:3]}")
    for depth in (int(d) for d in args.depths.split(",")):
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
        for round_ in range(args.rounds):
            names = list(variants) if round_ % 2 == 0 else list(reversed(variants))
            for name in names:
                results[name].append(measure(depth, *variants[name]))
        print(f"\ndepth {depth} ({depth + 1} Dense layers), {STEPS} steps, medians of {args.rounds} rounds")
        print(f"{'variant':<16}{'CPU s':>8}{'wall s':>8}{'CPU / plain':>13}")
        for name, runs in results.items():
            ratios = [cpu / plain[0] for (cpu, _), plain in zip(runs, results["plain"])]
            cpu = statistics.median(r[0] for r in runs)
            wall = statistics.median(r[1] for r in runs)
            print(f"{name:<16}{cpu:>8.1f}{wall:>8.1f}{statistics.median(ratios):>13.2f}")
    print(f"\nload after: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()
