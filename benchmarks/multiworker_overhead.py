"""Overhead under MultiWorkerMirroredStrategy: whole `fit` epochs of two workers on loopback.

    python benchmarks/multiworker_overhead.py [--model mlp] [--rounds 5] [--warmup-steps 1000]
        [--variants plain,gradcause_default,...] [--steps 1000] [--one-device]

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

`--variants` picks others, always beside `plain`: any of `breakdown.py`'s (GradCauseCallback on
lean steps, pieces of the step patched off while its train function traces, e.g. `lean_no_spike`)
or of `PATCHES` (the strategy's own pieces: the chief's conditionals, the full capture's gathers).
`--steps N` measures by `overhead.py`'s steps method instead (N cycles on one model per worker,
`_steps_method`), which resolves ~1 % where whole `fit` rounds on separate models moved by 10 %
on these shared cores (`plain_again` 0.89-1.01). `--one-device` runs the same variants in this one
process without a strategy, on the same global batch: what costs as much there is not the
strategy's.
"""

from __future__ import annotations

import argparse
import contextlib
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
import breakdown  # noqa: E402  (the lean step's variants)
import overhead  # noqa: E402  (the models of the steps method)

from tb_gradcause.testing import loopback  # noqa: E402

VARIANTS = ["plain", "gradcause_default", "gradcause_unfolded", "gradcause_full", "plain_allreduce", "plain_again"]


def _unguarded(name: str) -> tuple:
    """`graph.on_chief` returning its predicate while `name`'s module traces: the loss rows
    held (`loss_chunks`) or the spike history stored (`check`) on every replica, without the
    chief's conditional; every worker traces the same ops and variables (each writes its own
    rows: the other worker's to its scratch file)."""
    import importlib

    from tb_gradcause.capture import graph

    class Graph:  # `graph` with `on_chief` the identity, for that module alone
        def __getattr__(self, attr: str):
            return (lambda pred: pred) if attr == "on_chief" else getattr(graph, attr)

    return (importlib.import_module(f"tb_gradcause.capture.{name}"), "graph", Graph())


def _no_gather() -> tuple:
    """Full captures left to the chief's share (as in a conditional): no all-gather."""
    from tb_gradcause.capture import graph

    return (graph, "gathers", lambda: False)


def _per_tensor_gathers() -> tuple:
    """A capture's gathers one tensor at a time (two collectives each), as before `Shares.join_all`."""
    from tb_gradcause.capture import replicas

    def gather_each(tensors: list) -> list:
        return [None if t is None else replicas._all_gather(t) for t in tensors]  # pylint: disable=protected-access

    return (replicas, "_all_gather_many", gather_each)


# variant -> (GradCauseCallback arguments, the patches held while it traces), as `breakdown.VARIANTS`:
# lean steps with the chief's conditionals of the loss row or the spike watch taken out (on one
# device they are folded at trace time), full captures without their gathers, and with a gather
# per tensor.
PATCHES = {
    "lean_rows_unguarded": (breakdown.LEAN, lambda: [_unguarded("loss_chunks")]),
    "lean_spike_unguarded": (breakdown.LEAN, lambda: [_unguarded("check")]),
    "gradcause_default_no_gather": ({}, lambda: [_no_gather()]),
    "gradcause_full_no_gather": (breakdown.FULL, lambda: [_no_gather()]),
    "gradcause_default_per_tensor": ({}, lambda: [_per_tensor_gathers()]),
    "gradcause_full_per_tensor": (breakdown.FULL, lambda: [_per_tensor_gathers()]),
}


def _arguments(variant: str) -> dict:
    """The GradCauseCallback arguments of a variant."""
    if variant == "gradcause_full":
        return dict(breakdown.FULL)
    if variant in PATCHES:
        return dict(PATCHES[variant][0])
    return breakdown.arguments(variant) if variant in breakdown.VARIANTS else {}


@contextlib.contextmanager
def _patched(variant: str):
    """`breakdown.tracing(variant)`, or this module's `PATCHES` of it, held while it traces."""
    patches = PATCHES[variant][1]() if variant in PATCHES else []
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, value in patches:
        setattr(owner, name, value)
    try:
        with breakdown.tracing(variant):
            yield
    finally:
        for owner, name, value in originals:
            setattr(owner, name, value)


GLOBAL_BATCH = overhead.BATCH


def worker(
    kind: str, rounds: int, warmup_steps: int, variants: list[str], one_device: bool = False, cycles: int = 0
) -> dict:
    """One worker's body (TF_CONFIG set; `one_device`: none, no strategy): per variant, the median
    wall and CPU seconds per step and the medians of the per-round ratios to plain (`cycles`: by
    the steps method instead, `_steps_method`)."""
    import tensorflow as tf

    # Before any other op.
    strategy = tf.distribute.get_strategy() if one_device else tf.distribute.MultiWorkerMirroredStrategy()
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

    if cycles:
        if {"gradcause_unfolded", "plain_allreduce"} & set(variants):
            raise SystemExit("gradcause_unfolded and plain_allreduce need models of their own: not with --steps")
        return _steps_method(strategy, MultiWorkerSequential, kind, cycles, variants)
    steps = overhead.STEPS[kind]
    work = tempfile.mkdtemp(prefix="gradcause_mw_bench_")
    try:
        runs = {}
        for variant in variants:
            built, x, y = overhead.build(kind)
            # The same layers, without variables yet: Keras then skips its eager build (README).
            cls = AllReduceSequential if variant == "plain_allreduce" else MultiWorkerSequential
            model = cls([type(layer).from_config(layer.get_config()) for layer in built.layers])
            keras.utils.set_random_seed(0)
            callbacks = []
            if variant.startswith("gradcause") or variant in breakdown.VARIANTS or variant in PATCHES:
                callbacks = [GradCauseCallback(os.path.join(work, variant), **_arguments(variant))]
            kwargs = dict(batch_size=GLOBAL_BATCH, epochs=1, verbose=0, shuffle=False, callbacks=callbacks)
            with strategy.scope():
                model.build((None, *x.shape[1:]))
                model.compile("adam", "sparse_categorical_crossentropy")
                if variant == "gradcause_unfolded":
                    unfolded.add(id(model.optimizer))
                with _patched(variant):
                    model.fit(x, y, **{**kwargs, "epochs": -(-warmup_steps // steps)})
            runs[variant] = (model, x, y, kwargs)
        times: dict[str, list[tuple[float, float]]] = {v: [] for v in variants}
        for r in range(rounds):
            for variant in variants if r % 2 == 0 else variants[::-1]:
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


def _steps_method(strategy, model_class, kind: str, cycles: int, variants: list[str]) -> dict:
    """`overhead.py`'s steps method under the strategy: one model, whose train functions (plain
    Keras' own and each variant's, picked by its callback before the batch) alternate batch by
    batch in cycles of random order, the same order on every worker (a seeded generator): their
    collectives match. Ratios: medians over blocks of `overhead.BLOCK` cycles of the variant's
    time over plain's in the block."""
    import tensorflow as tf

    built, x, y = overhead.build(kind)
    model = model_class([type(layer).from_config(layer.get_config()) for layer in built.layers])
    work = tempfile.mkdtemp(prefix="gradcause_mw_bench_")
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH, drop_remainder=True).repeat()
    try:
        with strategy.scope():
            model.build((None, *x.shape[1:]))
            model.compile("adam", "sparse_categorical_crossentropy")
            batches = iter(strategy.experimental_distribute_dataset(dataset))
            model.fit(x[:GLOBAL_BATCH], y[:GLOBAL_BATCH], batch_size=GLOBAL_BATCH, verbose=0)  # builds the optimizer
            # Plain Keras' function traced again, with the optimizer built, as `plain_again` and the
            # callbacks' are (its first trace, which built it, ran ~10 % slower under the strategy).
            model.make_train_function(force=True)
            plain = model.train_function
            model.optimizer.iterations.assign(overhead.WARMUP_STEPS)  # the default cadence's steady state
            steps = {"plain": lambda: plain(batches)}
            for variant in variants[1:]:
                if variant == "plain_again":
                    model.make_train_function(force=True)  # a second trace of plain Keras' own
                    again = model.train_function
                    steps[variant] = lambda again=again: again(batches)
                    continue
                log_dir = os.path.join(work, variant)
                steps[variant] = overhead.callback_step(model, batches, log_dir, _arguments(variant), _patched(variant))
            times = overhead.time_interleaved(steps, cycles)  # the same order on every worker
    finally:
        shutil.rmtree(work, ignore_errors=True)

    return {
        name: {
            "wall": statistics.fmean(t[0] for t in ts),
            "cpu": statistics.fmean(t[1] for t in ts),
            "wall_ratio": statistics.median(overhead.block_ratios(ts, times["plain"], 0)),
            "cpu_ratio": statistics.median(overhead.block_ratios(ts, times["plain"], 1)),
        }
        for name, ts in times.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="mlp", choices=sorted(overhead.STEPS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup-steps", type=int, default=1000)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated; plain is always first")
    parser.add_argument("--one-device", action="store_true", help="one process, no strategy")
    parser.add_argument("--steps", type=int, default=0, help="cycles of the steps method (multiple of 100)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    variants = ["plain"] + [v for v in args.variants.split(",") if v and v != "plain"]
    unknown = [v for v in variants if v not in VARIANTS and v not in breakdown.VARIANTS and v not in PATCHES]
    if unknown:
        parser.error(f"unknown variants {unknown}")
    if args.worker:
        print(json.dumps(worker(args.model, args.rounds, args.warmup_steps, variants, cycles=args.steps)))
        return
    if args.one_device:
        print(f"load average before: {overhead.load_average()} (1 process)")
        _table(args.model, worker(args.model, args.rounds, args.warmup_steps, variants, True, args.steps))
        return
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    procs = []
    for config in loopback.worker_configs(2):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_CONFIG": config, "PYTHONPATH": root}
        command = [sys.executable, __file__, "--worker", "--model", args.model, "--rounds", str(args.rounds)]
        command += ["--warmup-steps", str(args.warmup_steps), "--variants", ",".join(variants)]
        command += ["--steps", str(args.steps)]
        procs.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    print(f"load average before: {overhead.load_average()} (2 shared cores, 2 workers)")
    outs = [proc.communicate() for proc in procs]
    for proc, (_, err) in zip(procs, outs):
        if proc.returncode:
            raise SystemExit(err[-3000:])
    _table(args.model, json.loads(outs[0][0].strip().splitlines()[-1]))


def _table(model: str, times: dict) -> None:
    print("| model | variant | chief CPU ms/step | wall ms/step | CPU ratio | wall ratio |")
    print("|---|---|---|---|---|---|")
    for variant, t in times.items():
        print(
            f"| {model} | {variant} | {t['cpu'] * 1e3:.2f} | {t['wall'] * 1e3:.2f} | "
            f"{t['cpu_ratio']:.3f} | {t['wall_ratio']:.3f} |"
        )
    print(f"load average after: {overhead.load_average()}")


if __name__ == "__main__":
    main()
