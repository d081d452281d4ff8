"""Step-time overhead of GradCauseCallback against plain `model.fit`, and bytes per logged layer.

    python benchmarks/overhead.py [--groups steps,references,...] [--repeats 3] [--cycles-scale 1] [--rounds 7]
        [--models mlp,cnn,lstm,tiny_mlp,small_cnn] [--append]

Two methods, each model in its own processes:

- **steps** (`STEP_GROUPS`: tb_gradcause's variants, and floor functions built without it): one
  model, whose train functions alternate batch by batch: plain Keras' own, and each variant's as
  its callback picks it before the batch (the callback's per-batch Python included), in cycles of
  random order. Every variant thus runs on the same weights, memory and machine state within
  milliseconds of plain, which resolves ~1 % where whole `fit` rounds on separate models wandered
  by 5-10 % (machine speed and a model instance's memory layout both drift). Ratios are medians
  over blocks of `BLOCK` cycles of (variant's time / plain's time) in the block: means inside a
  block, so the default's full capture (one per block at its steady state) is counted.
- **rounds** (the references, whose op callbacks or batch hooks cannot be swapped per batch):
  every variant is compiled and trained `WARMUP_STEPS` first, then timed in interleaved rounds of
  one `fit` each (alternating order); ratios are medians over rounds of the ratio to plain `fit`
  in the same round. `--append` adds the tables to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from tb_gradcause.metadata import SUMMARY_KINDS

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import breakdown  # noqa: E402

GROUPS = {
    # `plain_again`: a second plain model, timed like the others: the noise floor of the ratios.
    "references": ["plain", "keras_tensorboard", "plain_again"],
    # tb_gradcause by whole rounds too (not run by default): the method the steps method replaced.
    "gradcause": ["plain", "gradcause_default", "gradcause_full", "keras_tensorboard", "plain_again"],
    "check_numerics": ["plain", "check_numerics"],
    "debugger": ["plain", "debugger_concise_health"],
    # Where the default's cost goes (not run by default): lean steps only (finite check), plus
    # the loss pulse; and full stats every step without sampling large outputs.
    "split": ["plain", "gradcause_lean", "gradcause_lean_pulse", "gradcause_full_unsampled"],
    # Lean steps (no loss pulse) logging one kind besides the loss: what each kind's dead capture
    # branch costs a step that does not log.
    # The loss-spike check (on every step) against the default without it, and the default plus
    # a gradient-norm spike check (the finite check's sums as sums of squares, a second history).
    "spike": ["plain", "gradcause_default", "gradcause_no_spike", "gradcause_grad_norm_spike", "plain_again"],
    "lean_kinds": [
        "plain",
        "gradcause_lean",
        "gradcause_lean_loss",
        "gradcause_lean_gradients",
        "gradcause_lean_weights",
    ],
}
# Steps per round (one epoch over that many batches): multiples of the default cadence's late
# interval, so every round of a variant holds the same number of full captures.
STEPS = {"mlp": 200, "tiny_mlp": 200, "cnn": 100, "small_cnn": 100, "cnn28": 100, "lstm": 100}
BATCH = 64
# Steps trained before timing: traces, and takes the default cadence past its early phases
# (every 10 steps to step 100, every 25 to step 1000), so the rounds measure a long run's steady
# state. The early phases' cost is reported beside it, from the same figures.
WARMUP_STEPS = 1000
# Hidden width of the MLPs. "mlp" is the "small MLP (~3 ms/step)": 2.98 ms/step here
# (2026-11-27). "tiny_mlp" (2.0 ms/step, not run by default) was "mlp" until then: fixed per-step
# costs weigh most there.
MLP_WIDTH = {"mlp": 384, "tiny_mlp": 256}
# Image side of the CNNs. "cnn" is the "small CNN (~30 ms/step)" where the issue was
# written; it ran 17-53 ms/step here in November's first sessions and 130-260 ms/step on the
# 27th. "small_cnn" (not run by default) is the same network on 16x16 images: 66 ms/step that day.
CNN_SIDE = {"cnn": 32, "small_cnn": 16}


def build(kind: str):
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    n = STEPS[kind] * BATCH
    if kind in MLP_WIDTH:
        x = rng.normal(size=(n, 128)).astype("float32")
        y = rng.integers(0, 10, size=(len(x),))
        width = MLP_WIDTH[kind]
        model = keras.Sequential(
            [
                keras.Input((128,)),
                keras.layers.Dense(width, activation="relu"),
                keras.layers.Dense(width, activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
    elif kind == "cnn28":  # the 2-conv CNN on 28x28 single-channel inputs
        x = rng.normal(size=(n, 28, 28, 1)).astype("float32")
        y = rng.integers(0, 10, size=(len(x),))
        model = keras.Sequential(
            [
                keras.Input((28, 28, 1)),
                keras.layers.Conv2D(32, 3, activation="relu"),
                keras.layers.MaxPooling2D(),
                keras.layers.Conv2D(64, 3, activation="relu"),
                keras.layers.MaxPooling2D(),
                keras.layers.Flatten(),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
    elif kind in CNN_SIDE:
        side = CNN_SIDE[kind]
        x = rng.normal(size=(n, side, side, 3)).astype("float32")
        y = rng.integers(0, 10, size=(len(x),))
        model = keras.Sequential(
            [
                keras.Input((side, side, 3)),
                keras.layers.Conv2D(32, 3, activation="relu", padding="same"),
                keras.layers.Conv2D(64, 3, activation="relu", padding="same"),
                keras.layers.MaxPooling2D(),
                keras.layers.Conv2D(64, 3, activation="relu", padding="same"),
                keras.layers.GlobalAveragePooling2D(),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
    else:
        x = rng.normal(size=(n, 50, 16)).astype("float32")
        y = rng.integers(0, 10, size=(len(x),))
        model = keras.Sequential(
            [keras.Input((50, 16)), keras.layers.LSTM(64), keras.layers.Dense(10, activation="softmax")]
        )
    model.compile("adam", "sparse_categorical_crossentropy")
    return model, x, y


# The steps method's groups: {variant: GradCauseCallback arguments}, or None for a floor train
# function built without tb_gradcause (`_floor_function`).
STEP_GROUPS: dict[str, dict[str, dict | None]] = {
    "steps": {
        "gradcause_default": {},
        "gradcause_default_no_pulse": {"loss_every_step": False},
        "gradcause_full": {"every_n_steps": 1},
    },
    # What any design that captures a non-finite step in full in that step costs at least (not
    # run by default), beside tb_gradcause's lean steps (no full capture after the first step).
    "steps_floor": {
        "gradcause_lean_pulse": {"every_n_steps": 10**9},
        "floor_check": None,
        "floor_capture_cond": None,
        "floor_capture_host": None,
    },
    # What keeping a non-finite step for its replay (`capture/nan_origin.py`: one host call in the
    # weight snapshot's branch, taken on a non-finite loss) costs a lean step: the same lean steps
    # without it (not run by default).
    "nan_origin": {
        "gradcause_lean_pulse": {"every_n_steps": 10**9},
        "gradcause_lean_pulse_no_origin": {
            "every_n_steps": 10**9,
            "kinds": [kind for kind in SUMMARY_KINDS if kind != "nan_origin"],
        },
    },
    # Where a lean step's cost goes (not run by default): lean steps with pieces switched off
    # while they trace (`breakdown.py`), and the floor of an in-step check.
    "breakdown": {
        **{name: breakdown.arguments(name) for name in breakdown.LEAN_BREAKDOWN},
        "floor_check": None,
    },
    # Where a full step's cost goes (not run by default): full steps (every kind every step) with
    # pieces switched off while they trace, and the floor of an in-step capture of their tensors.
    # The floors come last: they wrap the layers' calls, which the callbacks hook first.
    "full": {
        **{name: breakdown.arguments(name) for name in breakdown.FULL_BREAKDOWN},
        **{name: None for name in breakdown.FLOORS},
    },
    # The full step before and after session 18's fixes (not run by default).
    "full_fixes": {name: breakdown.arguments(name) for name in ("full", "full_before_fixes")},
    "full_short": {
        **{name: breakdown.arguments(name) for name in breakdown.FULL_SHORT},
        **{name: None for name in breakdown.FLOORS if name != "floor_full_batched"},
    },
    # The full step with the stat kernels before and after a change (not run by default).
    "full_kernels": {name: breakdown.arguments(name) for name in breakdown.FULL_KERNELS},
    "lean_kernels": {name: breakdown.arguments(name) for name in breakdown.LEAN_KERNELS},
    # Why the dead full-capture conditional costs (not run by default): `breakdown.LATE`.
    "late": {name: breakdown.arguments(name) for name in breakdown.LATE},
}
# Cycles per block: at the default cadence's steady state (a full capture every 100 steps), a
# block holds one full capture of the default.
BLOCK = 100
# Timed cycles per model and process (multiples of BLOCK), and untimed ones first (traces and caches).
CYCLES = {"mlp": 1000, "tiny_mlp": 1000, "cnn": 200, "small_cnn": 400, "cnn28": 400, "lstm": 600}
WARMUP_CYCLES = 20


def time_interleaved(steps: dict[str, Callable[[], Any]], cycles: int) -> dict[str, list[tuple[float, float]]]:
    """Each step's (wall, CPU) seconds over `cycles` interleaved cycles, after WARMUP_CYCLES
    untimed ones. A seeded random order per cycle (the same in every process): a step right after
    a full capture runs slower (its caches are cold), and in a fixed or alternating order the
    same variants would pay for that."""
    names = list(steps)
    for _ in range(WARMUP_CYCLES):
        for name in names:
            steps[name]()
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    order = random.Random(0)
    for _ in range(cycles):
        for name in order.sample(names, len(names)):
            wall, cpu = time.perf_counter(), time.process_time()
            steps[name]()
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return times


def callback_step(model: Any, batches: Any, log_dir: str, kwargs: dict, patches: Any) -> Callable[[], None]:
    """One training step of `model` on the next of `batches` with a GradCauseCallback(log_dir,
    **kwargs) picking its train function first, as `fit` does; traced now (and the rebuild of a
    stale one) while the context manager `patches` is held."""
    from tb_gradcause import GradCauseCallback

    callback = GradCauseCallback(log_dir, **kwargs)
    callback.set_model(model)
    callback.on_train_begin()

    def step() -> None:
        callback.on_train_batch_begin(0)
        model.train_function(batches)

    with patches:
        for _ in range(3):  # a floor function built later wraps the optimizer while it traces
            step()
    return step


def block_ratios(ts: list, plain: list, clock: int) -> list[float]:
    """A variant's time over plain's per block of BLOCK interleaved cycles (`clock`: 0 wall, 1 CPU)."""
    return [
        sum(t[clock] for t in ts[b : b + BLOCK]) / sum(t[clock] for t in plain[b : b + BLOCK])
        for b in range(0, len(plain) - BLOCK + 1, BLOCK)
    ]


def run_steps(model_kind: str, cycles: int, group: str = "steps") -> dict:
    """Child process: the steps method on one model; {variant: {wall, cpu, wall_ratio, cpu_ratio}}."""
    import tensorflow as tf

    model, x, y = build(model_kind)
    batches = iter(tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH, drop_remainder=True).repeat())
    model.fit(x[:BATCH], y[:BATCH], batch_size=BATCH, verbose=0)  # builds the model and plain Keras' train function
    plain = model.train_function
    # As if trained WARMUP_STEPS already: the callbacks start at the default cadence's steady state.
    model.optimizer.iterations.assign(WARMUP_STEPS)
    work = tempfile.mkdtemp(prefix="gradcause_bench_")
    steps = {"plain": lambda: plain(batches)}
    try:
        for variant, kwargs in STEP_GROUPS[group].items():
            if kwargs is None and variant in breakdown.FLOORS:
                steps[variant] = breakdown.floor_function(model, variant, batches)
                continue
            if kwargs is None:
                function = _floor_function(model, variant, os.path.join(work, variant), batches)
                steps[variant] = lambda function=function: function(batches)
                continue
            log_dir = os.path.join(work, variant)
            steps[variant] = callback_step(model, batches, log_dir, kwargs, breakdown.tracing(variant))
        model.make_train_function(force=True)  # a second trace of plain Keras' own
        plain_again = model.train_function
        steps["plain_again"] = lambda: plain_again(batches)
        times = time_interleaved(steps, cycles)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    return {
        name: {
            "wall": statistics.fmean(t[0] for t in ts),
            "cpu": statistics.fmean(t[1] for t in ts),
            "wall_blocks": block_ratios(ts, times["plain"], 0),
            "cpu_blocks": block_ratios(ts, times["plain"], 1),
        }
        for name, ts in times.items()
    }


def pool_steps(results: list[dict]) -> dict:
    """The steps method's figures over several processes: ms/step are medians of the processes'
    means, ratios medians of all their blocks (traces of one function differ by ~2 % between
    processes: repeats average that out)."""
    return {
        name: {
            "wall": statistics.median(r[name]["wall"] for r in results),
            "cpu": statistics.median(r[name]["cpu"] for r in results),
            "wall_ratio": statistics.median(b for r in results for b in r[name]["wall_blocks"]),
            "cpu_ratio": statistics.median(b for r in results for b in r[name]["cpu_blocks"]),
        }
        for name in results[0]
    }


def callbacks_for(variant: str, log_dir: str):
    import keras

    from tb_gradcause import GradCauseCallback

    if variant == "gradcause_default":
        return [GradCauseCallback(log_dir)]
    if variant == "gradcause_full":
        return [GradCauseCallback(log_dir, every_n_steps=1)]
    if variant == "gradcause_full_unsampled":
        return [GradCauseCallback(log_dir, every_n_steps=1, max_units=None)]
    if variant.startswith("gradcause_lean"):  # no full capture after the first step
        kind = variant.removeprefix("gradcause_lean").removeprefix("_")
        kinds = {"loss", kind} if kind in ("loss", "gradients", "weights") else None
        return [GradCauseCallback(log_dir, every_n_steps=10**9, loss_every_step=kind == "pulse", kinds=kinds)]
    if variant == "keras_tensorboard":
        return [keras.callbacks.TensorBoard(log_dir, histogram_freq=1)]
    if variant == "gradcause_no_spike":
        return [_no_spike_callback(log_dir)]
    if variant == "gradcause_grad_norm_spike":
        return [_grad_norm_spike_callback(log_dir)]
    return []


def _no_spike_callback(log_dir: str):
    """The default callback without its loss-spike check (its train functions trace at their first call)."""
    from tb_gradcause import GradCauseCallback

    class NoSpike(GradCauseCallback):
        def _install(self) -> None:
            super()._install()
            self._capture.spikes = None

    return NoSpike(log_dir)


def _grad_norm_spike_callback(log_dir: str):
    """The default callback whose finite check also watches the global gradient norm for spikes:
    sums of squares instead of sums (the norm comes with them), and a second `SpikeWatch`.
    Patched while its train functions trace (the first `fit`), for this measurement only."""
    import tensorflow as tf

    from tb_gradcause import GradCauseCallback
    from tb_gradcause.capture import check

    original = check.all_finite

    class GradNormSpike(GradCauseCallback):
        def _install(self) -> None:
            watch = check.SpikeWatch()

            def all_finite(tensors):
                squares = [
                    tf.nn.l2_loss(tf.cast(g.values if isinstance(g, tf.IndexedSlices) else g, tf.float32))
                    for g in tensors
                    if g is not None and tf.as_dtype(g.dtype).is_floating
                ]
                total = tf.add_n(squares)
                spike = watch.observe(tf.sqrt(2.0 * total))
                return tf.math.is_finite(total) | (spike & (total < 0.0))  # spike kept, never taken

            check.all_finite = all_finite
            super()._install()

        def on_train_end(self, logs=None) -> None:
            check.all_finite = original
            super().on_train_end(logs)

    return GradNormSpike(log_dir)


def _floor_function(model, variant: str, log_dir: str, batches):
    """Plain Keras' train function plus the least that captures a non-finite step in that step,
    without tb_gradcause: every step checks its gradients (one sum each, as tb_gradcause does) and
    then, by `variant`:

    - `floor_check`: stores the result, nothing more;
    - `floor_capture_cond`: the result decides a conditional that takes the gradients and the
      variables (read after the update) and, when taken, writes one summary of them;
    - `floor_capture_host`: no conditional: the step keeps its gradients in a variable (released
      when the next step starts) and the host reads the result after the step, to capture then.

    Neither capture holds the layers' outputs or backward signals, nor writes a loss pulse: a real
    capture costs more. Never taken here (training stays finite)."""
    import tensorflow as tf

    opt, train_step = model.optimizer, model.train_step
    original = opt.apply
    flag = tf.Variable(False, trainable=False)
    held = tf.Variable(tf.raw_ops.OptionalNone(), trainable=False, shape=[])
    writer = tf.summary.create_file_writer(log_dir)

    def apply(grads, variables=None):
        result = original(grads, variables)
        bad = tf.logical_not(tf.math.is_finite(tf.add_n([tf.reduce_sum(g) for g in grads])))
        if variant == "floor_capture_cond":
            weights = list(variables if variables is not None else model.trainable_variables)

            def capture():
                with writer.as_default():
                    total = tf.add_n([tf.reduce_sum(t) for t in list(grads) + [w.value for w in weights]])
                    return tf.summary.write("capture", total, step=opt.iterations)

            branch = tf.function(capture, autograph=False, experimental_attributes={"_noinline": True})
            bad = tf.cond(bad, branch, lambda: tf.constant(False))
        elif variant == "floor_capture_host":
            held.assign(tf.raw_ops.OptionalFromValue(components=list(grads)))
        flag.assign(bad)
        return result

    def step_fn(data):
        if variant == "floor_capture_host":
            held.assign(tf.raw_ops.OptionalNone())
        return train_step(data)

    opt.apply = apply
    try:
        function = model._make_function(step_fn)  # pylint: disable=protected-access
        function(batches)  # traces it, with `apply` in place
    finally:
        opt.apply = original
    if variant != "floor_capture_host":
        return function

    def host_decided(iterator):
        outputs = function(iterator)
        if tf.raw_ops.ReadVariableOp(resource=flag.handle, dtype=tf.bool).numpy():
            raise AssertionError("a floor capture was taken: training went non-finite")
        return outputs

    return host_decided


def run_group(model_kind: str, group: str, rounds: int) -> dict:
    """Child process: time the group's variants on one model; returns {variant: {wall, cpu}} per step."""
    import tensorflow as tf

    steps = STEPS[model_kind]
    work = tempfile.mkdtemp(prefix="gradcause_bench_")
    runs = {}
    try:
        for variant in GROUPS[group]:
            if variant == "check_numerics":
                tf.debugging.enable_check_numerics()
            if variant == "debugger_concise_health":
                tf.debugging.experimental.enable_dump_debug_info(
                    os.path.join(work, "dbg"), tensor_debug_mode="CONCISE_HEALTH", circular_buffer_size=-1
                )
            model, x, y = build(model_kind)
            assert len(x) == steps * BATCH
            cbs = callbacks_for(variant, os.path.join(work, variant))
            fit_kwargs = dict(batch_size=BATCH, epochs=1, verbose=0, shuffle=False, callbacks=cbs)
            model.fit(x, y, **{**fit_kwargs, "epochs": -(-WARMUP_STEPS // steps)})
            runs[variant] = (model, x, y, fit_kwargs)
        times: dict[str, list[tuple[float, float]]] = {v: [] for v in runs}
        order = list(runs)
        for r in range(rounds):
            for variant in order if r % 2 == 0 else order[::-1]:
                model, x, y, kwargs = runs[variant]
                wall, cpu = time.perf_counter(), time.process_time()
                model.fit(x, y, **kwargs)
                times[variant].append(((time.perf_counter() - wall) / steps, (time.process_time() - cpu) / steps))
        # Ratios pair each round with plain `fit`'s in the same round: the machine's speed drifts
        # between rounds more than the differences measured here.
        return {
            v: {
                "wall": statistics.median(t[0] for t in ts),
                "cpu": statistics.median(t[1] for t in ts),
                "wall_ratio": statistics.median(t[0] / p[0] for t, p in zip(ts, times["plain"])),
                "cpu_ratio": statistics.median(t[1] / p[1] for t, p in zip(ts, times["plain"])),
            }
            for v, ts in times.items()
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _event_bytes(log_dir: str) -> int:
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(log_dir) for f in fs)


def _callback_bytes_per_step(work: str, kinds, steps: int) -> float:
    """Cause bytes per logged step of the CNN (every step logged), metadata excluded."""
    from tb_gradcause import GradCauseCallback

    sizes = []
    for n in (2, steps + 2):  # the difference cancels the first events' metadata
        model, x, y = build("cnn")
        x, y = x[: BATCH * n], y[: BATCH * n]
        assert len(x) == BATCH * n
        log_dir = os.path.join(work, f"{'_'.join(sorted(kinds))}_{n}")
        model.fit(
            x,
            y,
            batch_size=BATCH,
            epochs=1,
            verbose=0,
            callbacks=[GradCauseCallback(log_dir, every_n_steps=1, kinds=kinds)],
        )
        sizes.append(_event_bytes(log_dir))
    return (sizes[1] - sizes[0]) / steps


def bytes_per_layer() -> dict:
    """Cause bytes per logged step against one `tf.summary.histogram` per tensor (CNN)."""
    import tensorflow as tf

    from tb_gradcause import metadata

    work = tempfile.mkdtemp(prefix="gradcause_bytes_")
    try:
        steps = 40
        model, _, _ = build("cnn")
        hist_dir = os.path.join(work, "hist")
        writer = tf.summary.create_file_writer(hist_dir)
        tensors = list(model.trainable_weights)
        with writer.as_default():
            for step in range(steps):
                for w in tensors:
                    tf.summary.histogram(w.path, w, step=step)
        writer.flush()
        return {
            "layers": len(model.layers),
            "variables": len(tensors),
            "all_kinds_per_layer": _callback_bytes_per_step(work, set(metadata.SUMMARY_KINDS), steps)
            / len(model.layers),
            "gradients_per_variable": _callback_bytes_per_step(work, {"gradients"}, steps) / len(tensors),
            "histogram_per_tensor": _event_bytes(hist_dir) / steps / len(tensors),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def early_estimate(result: dict) -> dict:
    """Step time of the default over steps 0-999, from the measured steady state: a linear model
    in the share of steps captured in full (1 every 100 at steady state, all of them for
    `gradcause_full`, 46 in 1000 in the early phases)."""
    from tb_gradcause.capture import cadence as capture_cadence

    rate = sum(capture_cadence.is_full(s, None) for s in range(1000)) / 1000
    late = 1 / capture_cadence.PHASES[-1][1]
    estimate = {}
    for clock in ("wall", "cpu"):
        default, full = result["gradcause_default"][clock], result["gradcause_full"][clock]
        per_capture = (full - default) / (1 - late)
        estimate[clock] = default + (rate - late) * per_capture
        estimate[f"{clock}_ratio"] = estimate[clock] / result["plain"][clock]
    return estimate


def _cycles(model_kind: str, scale: float) -> int:
    return max(BLOCK, round(CYCLES[model_kind] * scale / BLOCK) * BLOCK)


def load_average() -> str:
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--models", default="mlp,cnn,lstm")
    parser.add_argument(
        "--groups",
        default="steps,references,check_numerics,debugger",
        help=f"some of {','.join([*STEP_GROUPS, *GROUPS])}",
    )
    parser.add_argument("--cycles-scale", type=float, default=1.0, help="scale the steps method's CYCLES")
    parser.add_argument("--repeats", type=int, default=3, help="processes per model for the steps method")
    parser.add_argument("--append", action="store_true", help="append the tables to benchmarks/RESULTS.md")
    parser.add_argument("--child", nargs=3, metavar=("MODEL", "GROUP", "ROUNDS"), help=argparse.SUPPRESS)
    parser.add_argument("--bytes-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--steps-child", nargs=3, metavar=("MODEL", "CYCLES", "GROUP"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_group(args.child[0], args.child[1], int(args.child[2]))))
        return
    if args.steps_child:
        print(json.dumps(run_steps(args.steps_child[0], int(args.steps_child[1]), args.steps_child[2])))
        return
    if args.bytes_child:
        print(json.dumps(bytes_per_layer()))
        return

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}

    def child(*extra: str) -> dict:
        out = subprocess.run([sys.executable, __file__, *extra], env=env, capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    load_before = load_average()
    lines = [
        "| model | method | variant | wall ms/step | CPU ms/step | wall ratio | CPU ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for model_kind in args.models.split(","):
        for group in args.groups.split(","):
            method = "steps" if group in STEP_GROUPS else "rounds"
            if method == "steps":
                cycles = str(_cycles(model_kind, args.cycles_scale))
                result = pool_steps([child("--steps-child", model_kind, cycles, group) for _ in range(args.repeats)])
            else:
                result = child("--child", model_kind, group, str(args.rounds))
            if {"gradcause_default", "gradcause_full"} <= set(result):
                result["gradcause_default_first_1000_est"] = early_estimate(result)
            for variant, t in result.items():
                if variant == "plain" and method == "rounds" and group not in ("references", "gradcause"):
                    continue
                lines.append(
                    f"| {model_kind} | {method} | {variant} | {t['wall'] * 1e3:.2f} | "
                    f"{t['cpu'] * 1e3:.2f} | {t['wall_ratio']:.3f} | {t['cpu_ratio']:.3f} |"
                )
                print(lines[-1], flush=True)
    sizes = child("--bytes-child")
    hist = sizes["histogram_per_tensor"]
    lines += [
        "",
        f"Bytes per logged step, CNN ({sizes['layers']} layers, {sizes['variables']} variables), metadata excluded: "
        f"one `tf.summary.histogram` = {hist:.0f} B per tensor; gradcause `gradients` = "
        f"{sizes['gradients_per_variable']:.0f} B per variable (ratio {sizes['gradients_per_variable'] / hist:.2f}); "
        f"every kind of gradcause = {sizes['all_kinds_per_layer']:.0f} B per layer (ratio "
        f"{sizes['all_kinds_per_layer'] / hist:.2f}).",
        f"Load average before/after: {load_before} / {load_average()} (2 shared cores).",
    ]
    print("\n".join(lines[-3:]))
    if args.append:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")
        with open(path, "a", encoding="utf-8") as f:
            f.write(
                "\n## Logging overhead (`benchmarks/overhead.py`)\n\n"
                f"steps: {args.repeats} processes of "
                f"{', '.join(f'{m} {_cycles(m, args.cycles_scale)}' for m in args.models.split(','))} "
                f"timed cycles, ratios = median over blocks of {BLOCK} cycles; rounds: medians of {args.rounds} "
                f"interleaved rounds of {STEPS} steps after {WARMUP_STEPS} warm-up steps (method: see the script's "
                f"docstring). MLP hidden widths {MLP_WIDTH}, CNN image sides {CNN_SIDE}. "
                "`_est` rows are computed, not timed (`early_estimate`).\n\n" + "\n".join(lines) + "\n"
            )


if __name__ == "__main__":
    main()
