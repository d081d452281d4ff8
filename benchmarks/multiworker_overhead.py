"""Overhead under MultiWorkerMirroredStrategy: whole `fit` epochs of two workers on loopback.

    python benchmarks/multiworker_overhead.py [--model mlp] [--rounds 5] [--warmup-steps 1000]

Starts two worker processes that train the same program: README's
Keras workaround (the model made outside the strategy's scope, built, compiled and fit in it, each
log given one axis) on `overhead.build`'s model and data, global batch 64 (32 per worker). Every
variant gets its own model and first trains `--warmup-steps` steps (traces, and the default
cadence's early phases); then `--rounds` interleaved rounds (the order alternates) of one `fit`
epoch each. A variant's ratio is the median over rounds of its time over plain `fit`'s in the same
round, on the chief; `plain_again` (a second plain model) is the noise control. CPU time is the
chief process's; wall time is what the user waits for, both workers in step (every step
all-reduces the gradients). The variants: plain, GradCauseCallback's default cadence (its check's
non-finite flag and loss summed in Keras' gradient all-reduce, `capture.fold`), the same with the
check's own all-reduce instead (`gradcause_unfolded`: as under a loss scaler, and the code before
the fold), and every step captured in full (`every_n_steps=1`: each capture gathers every worker's
share); and plain with one all-reduce of two floats added to each step (`plain_allreduce`: what
the check's own collective costs).
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
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import overhead  # noqa: E402  (the models of the steps method)

from tb_gradcause.testing import loopback  # noqa: E402

VARIANTS = ["plain", "gradcause_default", "gradcause_unfolded", "gradcause_full", "plain_allreduce", "plain_again"]
GLOBAL_BATCH = overhead.BATCH


def worker(kind: str, rounds: int, warmup_steps: int) -> dict:
    """One worker's body (TF_CONFIG set): per variant, the median wall and CPU seconds per step
    and the medians of the per-round ratios to plain."""
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # before any other op
    import keras

    from tb_gradcause import GradCauseCallback
    from tb_gradcause.capture import fold

    unfolded: set[int] = set()  # the optimizers whose step's check keeps its own all-reduce
    folds = fold.foldable

    def foldable(optimizer, *args, **kwargs) -> bool:
        return id(optimizer) not in unfolded and folds(optimizer, *args, **kwargs)

    fold.foldable = foldable
    warnings.filterwarnings("error", message="tb_gradcause")  # figures of a run whose logging failed are void

    class MultiWorkerSequential(keras.Sequential):
        def train_step(self, data):  # README's workaround for Keras' multi-worker log reduction
            return {name: tf.reshape(value, [1]) for name, value in super().train_step(data).items()}

    class AllReduceSequential(MultiWorkerSequential):
        def train_step(self, data):  # plain, plus one all-reduce of two floats (the callback's check)
            logs = super().train_step(data)
            extra = tf.distribute.get_replica_context().all_reduce("SUM", tf.zeros([2]))
            return {**logs, "extra": tf.reshape(extra[0], [1])}

    steps = overhead.STEPS[kind]
    work = tempfile.mkdtemp(prefix="gradcause_mw_bench_")
    try:
        runs = {}
        for variant in VARIANTS:
            built, x, y = overhead.build(kind)
            # The same layers, without variables yet: Keras then skips its eager build (README).
            cls = AllReduceSequential if variant == "plain_allreduce" else MultiWorkerSequential
            model = cls([type(layer).from_config(layer.get_config()) for layer in built.layers])
            keras.utils.set_random_seed(0)
            callbacks = []
            if variant.startswith("gradcause"):
                every = {"every_n_steps": 1} if variant == "gradcause_full" else {}
                callbacks = [GradCauseCallback(os.path.join(work, variant), **every)]
            kwargs = dict(batch_size=GLOBAL_BATCH, epochs=1, verbose=0, shuffle=False, callbacks=callbacks)
            with strategy.scope():
                model.build((None, *x.shape[1:]))
                model.compile("adam", "sparse_categorical_crossentropy")
                if variant == "gradcause_unfolded":
                    unfolded.add(id(model.optimizer))
                model.fit(x, y, **{**kwargs, "epochs": -(-warmup_steps // steps)})
            runs[variant] = (model, x, y, kwargs)
        times: dict[str, list[tuple[float, float]]] = {v: [] for v in VARIANTS}
        for r in range(rounds):
            for variant in VARIANTS if r % 2 == 0 else VARIANTS[::-1]:
                model, x, y, kwargs = runs[variant]
                wall, cpu = time.perf_counter(), time.process_time()
                with strategy.scope():
                    model.fit(x, y, **kwargs)
                times[variant].append(((time.perf_counter() - wall) / steps, (time.process_time() - cpu) / steps))
        plain = times["plain"]
        return {
            v: {
                "wall": statistics.median(t[0] for t in ts),
                "cpu": statistics.median(t[1] for t in ts),
                "wall_ratio": statistics.median(t[0] / p[0] for t, p in zip(ts, plain)),
                "cpu_ratio": statistics.median(t[1] / p[1] for t, p in zip(ts, plain)),
            }
            for v, ts in times.items()
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="mlp", choices=sorted(overhead.STEPS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup-steps", type=int, default=1000)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.model, args.rounds, args.warmup_steps)))
        return
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    procs = []
    for config in loopback.worker_configs(2):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_CONFIG": config, "PYTHONPATH": root}
        command = [sys.executable, __file__, "--worker", "--model", args.model, "--rounds", str(args.rounds)]
        command += ["--warmup-steps", str(args.warmup_steps)]
        procs.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    print(f"load average before: {overhead.load_average()} (2 shared cores, 2 workers)")
    outs = [proc.communicate() for proc in procs]
    for proc, (_, err) in zip(procs, outs):
        if proc.returncode:
            raise SystemExit(err[-3000:])
    chief = json.loads(outs[0][0].strip().splitlines()[-1])
    print("| model | variant | chief CPU ms/step | wall ms/step | CPU ratio | wall ratio |")
    print("|---|---|---|---|---|---|")
    for variant, t in chief.items():
        print(
            f"| {args.model} | {variant} | {t['cpu'] * 1e3:.2f} | {t['wall'] * 1e3:.2f} | "
            f"{t['cpu_ratio']:.3f} | {t['wall_ratio']:.3f} |"
        )
    print(f"load average after: {overhead.load_average()}")


if __name__ == "__main__":
    main()
