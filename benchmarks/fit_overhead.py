"""Overhead as users see it: whole `model.fit` epochs with GradCauseCallback against plain `fit`.

    python benchmarks/fit_overhead.py [--models tiny_mlp,mlp,cnn28,lstm] [--rounds 9] [--warmup-steps 1000]

Each model runs in its own process. Every variant gets its own model (same seed, same data) and
first trains `--warmup-steps` steps (traces, caches, and the default cadence's early phases: every
10 steps to step 100, every 25 to step 1000); that warm-up is timed and reported apart. Then
`--rounds` interleaved rounds (the order alternates) of one `fit` epoch each; a variant's ratio is
the median over rounds of its CPU time (process time, both cores) over plain `fit`'s in the same
round, so the machine's drift between rounds cancels. Noise controls beside them: a second plain
model (`plain_again`) and a callback whose batch hooks do nothing (`noop_batch_hook`: the cost of
Keras calling any per-batch hook, which every batch callback pays).

GradCauseCallback's own Python hooks inside `fit` (per batch: the train function switch and
cadence bookkeeping; per epoch: flushes) are timed by wrapping the hooks it defines (wrapping one
it leaves to Keras, `on_train_batch_end`, would make Keras sync the logs to the host every batch).
Where the rest goes is measured by the steps method (`overhead.py --groups breakdown`): whole
`fit` rounds on separate models do not resolve its pieces (1-5 % each) on shared cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import breakdown  # noqa: E402
import overhead  # noqa: E402  (the models of the steps method)

VARIANTS = ["plain", "noop_batch_hook", "gradcause_default", "gradcause_full", "keras_tensorboard", "plain_again"]
# The default callback with a `breakdown` variant's patches held through its fits (an A/B of a
# change to the step in one process); on request only (`--variants`).
PATCHED = {"gradcause_checked_late": "lean_checked_late"}
STEPS = overhead.STEPS
BATCH = overhead.BATCH
HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_epoch_begin", "on_epoch_end")


def callbacks_for(variant: str, log_dir: str, hook_seconds: dict[str, float]) -> list:
    import keras

    from tb_gradcause import GradCauseCallback

    if variant == "noop_batch_hook":

        class NoOp(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                pass

        return [NoOp()]
    if variant == "keras_tensorboard":
        return [keras.callbacks.TensorBoard(log_dir, histogram_freq=1)]
    if variant.startswith("gradcause"):  # the default, full every step, or a patched default (PATCHED)
        callback = GradCauseCallback(log_dir, **({"every_n_steps": 1} if variant == "gradcause_full" else {}))
        for name in HOOKS:
            if name in vars(type(callback)):  # hooks Keras' base class leaves alone stay untouched
                _time_hook(callback, name, hook_seconds)
        return [callback]
    return []


def _time_hook(callback, name: str, seconds: dict[str, float]) -> None:
    """Accumulate the CPU time of `callback.name` into `seconds[name]`, when `seconds['on']` is set."""
    original = getattr(callback, name)

    def timed(*args, **kwargs):
        start = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            if seconds.get("on"):
                seconds[name] = seconds.get(name, 0.0) + time.process_time() - start

    setattr(callback, name, timed)


def run_model(kind: str, rounds: int, warmup_steps: int, only: str = "") -> dict:
    """Child process: warm-up and steady-state CPU and wall times per step of every variant
    (`only`: of these, comma-separated, besides plain)."""
    steps = STEPS[kind]
    variants = [v for v in VARIANTS if not only or v == "plain" or v in only.split(",")]
    variants += [v for v in PATCHED if v in only.split(",")]
    work = tempfile.mkdtemp(prefix="gradcause_fit_bench_")
    try:
        runs, warmup, hooks = {}, {}, {}
        for variant in variants:
            model, x, y = overhead.build(kind)
            hooks[variant] = {}
            cbs = callbacks_for(variant, os.path.join(work, variant), hooks[variant])
            kwargs = dict(batch_size=BATCH, epochs=1, verbose=0, shuffle=False, callbacks=cbs)
            cpu = time.process_time()
            with breakdown.tracing(PATCHED.get(variant, "")):
                model.fit(x, y, **{**kwargs, "epochs": -(-warmup_steps // steps)})
            warmup[variant] = time.process_time() - cpu
            hooks[variant]["on"] = 1.0
            runs[variant] = (model, x, y, kwargs)
        times: dict[str, list[tuple[float, float]]] = {v: [] for v in runs}
        for r in range(rounds):
            for variant in variants if r % 2 == 0 else variants[::-1]:
                model, x, y, kwargs = runs[variant]
                wall, cpu = time.perf_counter(), time.process_time()
                with breakdown.tracing(PATCHED.get(variant, "")):
                    model.fit(x, y, **kwargs)
                times[variant].append(((time.perf_counter() - wall) / steps, (time.process_time() - cpu) / steps))
        plain = times["plain"]
        per_step_hooks = {
            v: {name: hooks[v].get(name, 0.0) / (rounds * steps) for name in HOOKS}
            for v in variants
            if v.startswith("gradcause")
        }
        return {
            v: {
                "wall": statistics.median(t[0] for t in ts),
                "cpu": statistics.median(t[1] for t in ts),
                "wall_ratio": statistics.median(t[0] / p[0] for t, p in zip(ts, plain)),
                "cpu_ratio": statistics.median(t[1] / p[1] for t, p in zip(ts, plain)),
                "warmup_ratio": warmup[v] / warmup["plain"],
                "hooks": per_step_hooks.get(v, {}),
            }
            for v, ts in times.items()
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="tiny_mlp,mlp,cnn28,lstm")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--warmup-steps", type=int, default=1000)
    parser.add_argument("--variants", default="", help="only these variants (comma-separated), besides plain")
    parser.add_argument("--child", nargs=3, metavar=("MODEL", "ROUNDS", "WARMUP"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_model(args.child[0], int(args.child[1]), int(args.child[2]), args.variants)))
        return
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    print(f"load average before: {overhead.load_average()} (2 shared cores)")
    print(
        "| model | variant | CPU ms/step | wall ms/step | CPU ratio | wall ratio | warm-up CPU ratio "
        "| own hooks µs/step (batch / epoch) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for kind in args.models.split(","):
        command = [sys.executable, __file__, "--child", kind, str(args.rounds), str(args.warmup_steps)]
        command += ["--variants", args.variants]
        out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        for variant, t in json.loads(out.stdout.strip().splitlines()[-1]).items():
            h = t["hooks"]
            hooks = (
                f"{(h['on_train_batch_begin'] + h['on_train_batch_end']) * 1e6:.0f} / "
                f"{(h['on_epoch_begin'] + h['on_epoch_end']) * 1e6:.0f}"
                if h
                else ""
            )
            print(
                f"| {kind} | {variant} | {t['cpu'] * 1e3:.2f} | {t['wall'] * 1e3:.2f} | {t['cpu_ratio']:.3f} | "
                f"{t['wall_ratio']:.3f} | {t['warmup_ratio']:.2f} | {hooks} |",
                flush=True,
            )
    print(f"load average after: {overhead.load_average()}")


if __name__ == "__main__":
    main()
