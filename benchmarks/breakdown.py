"""Where a lean step's cost goes: the variants of `overhead.py --groups breakdown` (steps method).

Each is GradCauseCallback on lean steps only (`every_n_steps=10**9`; the steps method starts
past step 0) with pieces of the step switched off by patching tb_gradcause while its train
function traces, so the package keeps no knob for them. Beside them in the group: plain Keras
with a hand-written finite check (`floor_check`), the least an in-step check costs.

The `late` group weighs the lean step's full capture decided by the loss (known after the forward
pass) against the same capture decided, as before session 20, by the gradient check (after the
whole backward pass), and what the late capture of the one case the loss misses (finite loss,
non-finite gradients) costs as it holds more kinds.

The `full` group asks where a full step's cost goes (`every_n_steps=1`, every kind every step):
each kind left out in turn, the stat kernels replaced by zeros, the summary writes replaced by a
store of their values, the weight snapshot left out, the exact fallback left out, the stat
kernels compiled by XLA; and beside them floors built without tb_gradcause (`floor_function`):
plain Keras plus one L2 reduction (or the fast kernels' six, per tensor or batched) per tensor
the capture reads, no summary written. The `full_kernels` group runs the full step with the stat
kernels of an earlier commit (`KERNELS_BEFORE`) beside the current ones.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

LEAN = {"every_n_steps": 10**9}
FULL = {"every_n_steps": 1}
# Variables by dtype: a value stored in one stays in the step (one nothing reads is pruned).
_SINKS: dict[str, Any] = {}


def _keep_alive(value: Any) -> None:
    import tensorflow as tf

    value = tf.convert_to_tensor(value)
    key = value.dtype.name
    if key not in _SINKS:
        with tf.init_scope():
            _SINKS[key] = tf.Variable(tf.zeros([], value.dtype), trainable=False, name=f"breakdown_sink_{key}")
    _SINKS[key].assign(value if value.dtype == tf.bool else tf.reduce_sum(value))


def _no_spike() -> tuple:
    import tensorflow as tf

    from tb_gradcause.capture import check

    return (check.SpikeWatch, "observe", lambda self, loss: tf.constant(False))


def _no_full_branch() -> tuple:
    """`pending.write` without the conditional full capture: only the loss row goes to its chunk.
    Its predicate is stored, so the finite check that decides it still runs."""
    from tb_gradcause.capture import step

    def write(plan, records, chunks=None, on_bad=None, late_records=None):
        if plan.pulse is not None and chunks is not None:
            chunks.add(plan.pulse, plan.step)
        _keep_alive(plan.full if plan.late is None else plan.full | plan.late)

    return (step, "write", write)


def _trivial_body(writes: bool, reads_weights: bool = False) -> tuple:
    """The full-capture conditional on its own predicate with a body that takes no tensor of the
    step: nothing, or (`writes`) one summary of a constant, or (`reads_weights`) also the sum of
    every trainable weight after the update, as the `weights` record reads them."""
    import tensorflow as tf

    from tb_gradcause.capture import graph, step

    variables: list = []
    original_apply = step.StepCapture.apply

    def apply(self, rec, mode, x, original, grads, variables_):
        variables[:] = list(variables_) if variables_ is not None else []
        return original_apply(self, rec, mode, x, original, grads, variables_)

    def write(plan, records, chunks=None, on_bad=None, late_records=None):
        if plan.pulse is not None and chunks is not None:
            chunks.add(plan.pulse, plan.step)

        def body():
            if writes:
                value = tf.constant(1.0)
                if reads_weights:
                    value = tf.add_n([tf.reduce_sum(tf.convert_to_tensor(graph.variable_value(v))) for v in variables])
                tf.summary.scalar("breakdown_trivial", value, step=plan.step)
            return tf.constant(True)

        graph.cond(plan.full, body, separate=True)

    return [(step.StepCapture, "apply", apply), (step, "write", write)]


def _checked_late() -> tuple:
    """The full capture decided as before session 20: by the gradient check, after the whole
    backward pass (the step's one conditional holds every tensor the capture reads until then)."""
    from tb_gradcause.capture import step

    original = step.StepCapture._plan

    def _plan(self, *args, **kwargs):
        return original(self, *args, **{**kwargs, "by_loss": False})

    return (step.StepCapture, "_plan", _plan)


def _unlowered() -> tuple:
    """The capture conditionals (`graph.cond(..., separate=True)`) kept as one `If` op each instead
    of lowered into a Switch per input and a Merge: one op to run on a step that does not capture,
    but one that waits for all its inputs."""
    from tensorflow.python.ops import control_flow_util_v2

    from tb_gradcause.capture import graph

    original = graph.cond

    def cond(pred, true_fn, false_fn=None, separate=False):
        if not separate:
            return original(pred, true_fn, false_fn)
        control_flow_util_v2._DISABLE_LOWER_USING_SWITCH_MERGE = True
        try:
            return original(pred, true_fn, false_fn, separate=True)
        finally:
            control_flow_util_v2._DISABLE_LOWER_USING_SWITCH_MERGE = False

    return (graph, "cond", cond)


def _late_kinds(kinds: frozenset[str]) -> tuple:
    """The late capture (finite loss, non-finite gradients) holding `kinds`."""
    from tb_gradcause.capture import step

    return (step, "LATE_KINDS", kinds)


def _no_snapshot() -> tuple:
    from tb_gradcause.capture import step

    return (step.StepCapture, "_snapshot", lambda self, *args: None)


def _no_probes() -> tuple:
    from tb_gradcause.capture import hooks

    return (hooks, "_probe", lambda x, store: x)


def _no_stats() -> list[tuple]:
    """Every stat kernel (`stats`' entry points) returning zeros of its shape: the records are
    built and written, but read none of the tensors (nor compute what only they read)."""
    import tensorflow as tf

    from tb_gradcause import metadata, stats

    def zeros(kind: str, n: int) -> Any:
        return tf.zeros([n, len(metadata.KIND_STATS[kind])])

    def features(x: Any, max_features: int = metadata.MAX_INPUT_FEATURES) -> int:
        return min(x.shape[-1] if x.shape.rank >= 2 else 1, max_features)

    return [
        (stats, "tensor_stats_list", lambda xs: zeros("backward", len(xs))),
        (stats, "output_stats_list", lambda xs, max_units=None: zeros("backward", len(xs))),
        (stats, "activation_stats_list", lambda xs, acts, max_units=None: zeros("activations", len(xs))),
        (stats, "gradient_stats_list", lambda grads, dense_slices=False: zeros("gradients", len(grads))),
        (stats, "weight_stats_list", lambda ws, ups, befores=None: zeros("weights", len(ws))),
        (stats, "input_stats", lambda x, max_features=metadata.MAX_INPUT_FEATURES: zeros("inputs", features(x))),
        (stats, "time_grad_stats", lambda grad: zeros("backward_time", 1)[0]),
    ]


def _no_exact() -> list[tuple]:
    """The stat kernels' fast rows always, without their fallback to the exact (NaN/Inf-aware)
    rows: what the fallback's conditionals cost (since 28cee09 a never-inlined call each)."""
    import tensorflow as tf

    from tb_gradcause import stats

    class Patched:  # `stats.tf` with `cond` taking the fast branch, for `stats` alone
        def __getattr__(self, name: str) -> Any:
            return (lambda pred, true_fn, false_fn: true_fn()) if name == "cond" else getattr(tf, name)

    return [(stats, "tf", Patched())]


def _stats_xla() -> list[tuple]:
    """Every stat kernel list (`stats`' entry points but the per-tensor `time_grad_stats`)
    compiled by XLA, one cluster per call: XLA may fuse the passes over one tensor into one loop,
    where TensorFlow runs one kernel per reduction (measured in session 18: no faster)."""
    import tensorflow as tf

    from tb_gradcause import stats

    return [(stats, name, tf.function(getattr(stats, name), jit_compile=True, autograph=False)) for name in _LISTS]


# `stats`' entry points that take a list of tensors (or a batch), but the per-tensor `time_grad_stats`.
_LISTS = (
    "tensor_stats_list",
    "output_stats_list",
    "activation_stats_list",
    "gradient_stats_list",
    "weight_stats_list",
    "input_stats",
)
# The commit whose stat kernels `full_stats_before` runs (environment variable KERNELS_BEFORE):
# by default the fast kernels' last version with ~20-40 ops per tensor (the per-tensor arithmetic,
# before their [N] columns).
KERNELS_BEFORE = os.environ.get("KERNELS_BEFORE", "5b8b5e3")


def _stats_before() -> list[tuple]:
    """`stats`' entry points as `tb_gradcause/stats.py` had them at `KERNELS_BEFORE` (read from
    git, loaded as a module of its own): the same step with the kernels before and after a change,
    in one process."""
    import importlib.util
    import subprocess
    import tempfile

    from tb_gradcause import stats

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    source = subprocess.run(
        ["git", "show", f"{KERNELS_BEFORE}:tb_gradcause/stats.py"], cwd=root, capture_output=True, text=True, check=True
    ).stdout
    path = os.path.join(tempfile.mkdtemp(prefix="stats_before_"), "stats_before.py")
    with open(path, "w", encoding="utf-8") as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location("stats_before", path)
    assert spec is not None and spec.loader is not None
    before = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(before)
    return [(stats, name, getattr(before, name)) for name in _LISTS]


def _before_fixes() -> list[tuple]:
    """The full step as it was before 2947c8b and 28cee09: the NaN replay's keep a host call on
    every step that copies the weights, the exact stat rows a conditional's inlined branch."""
    import tensorflow as tf

    from tb_gradcause import stats
    from tb_gradcause.capture.nan_origin import NanOrigin

    keep = NanOrigin.keep

    def keep_on_every_copy(self, pred, step, data, variables, values=None, gated=False, *, own_loss=False):
        return keep(self, pred, step, data, variables, values, values is not None, own_loss=own_loss)

    return [
        (NanOrigin, "keep", keep_on_every_copy),
        (stats, "_fast_unless", lambda ok, fast, exact: tf.cond(ok, lambda: fast, exact)),
    ]


def _no_write() -> tuple:
    """`summary.write` storing its values' sum in a variable: the stats are computed, no summary
    op, metadata flag or event is written."""
    import tensorflow as tf

    from tb_gradcause import summary

    def write(kind, rows, values, step=None, consecutive=False):
        _keep_alive(values)
        return tf.constant(True)

    return (summary, "write", write)


def floor_function(model: Any, variant: str, batches: Any) -> Callable[[], Any]:
    """Plain Keras' train function plus the least any capture of the full step's tensors pays in
    the step, without tb_gradcause: one fused reduction (the L2 norm's `tf.nn.l2_loss`) per tensor
    of the batch's inputs, every layer's output and the gradient flowing back into it (taken by an
    identity with a custom gradient, as tb_gradcause's probes; a softmax output's through its
    logits), every gradient and every weight after the update, stored in a variable; no summary.
    `floor_full_snapshot` also reads the weights before the update and reduces each update;
    `floor_full_stats` does too, with the columns of tb_gradcause's fast kernels instead of the
    L2 norm alone (L2, mean, variance, min, max, zeros: six reductions per tensor), and
    `floor_full_batched` with those columns of every tensor at once (one concatenation, five
    segment reductions). Not the recurrent layers' d loss / d input, which training does not
    compute."""
    import keras
    import tensorflow as tf

    sink = tf.Variable(tf.zeros([0]), shape=tf.TensorShape([None]), trainable=False)
    seen: dict[str, list] = {"inputs": [], "outputs": [], "signals": []}

    def probe(t: Any) -> Any:
        @tf.custom_gradient
        def identity(u):
            def grad(dy):
                seen["signals"].append(dy)
                return dy

            return tf.identity(u), grad

        return identity(t)

    def wrapped(original: Callable) -> Callable:
        def call(*args, **kwargs):
            out = original(*args, **kwargs)
            if not isinstance(out, tf.Tensor) or not out.dtype.is_floating:
                return out
            seen["outputs"].append(out)
            probed = probe(out)
            logits = getattr(out, "_keras_logits", None)
            if logits is not None:  # Keras' loss reads the logits
                probed._keras_logits = probe(logits)  # pylint: disable=protected-access
            return probed

        return call

    opt, train_step = model.optimizer, model.train_step
    original_apply = opt.apply

    def apply(grads, variables=None):
        variables = list(variables if variables is not None else model.trainable_variables)
        read = lambda: [tf.convert_to_tensor(v.value) for v in variables]  # noqa: E731
        before = read() if variant != "floor_full" else []
        result = original_apply(grads, variables)
        after = read()
        updates = [a - b for a, b in zip(after, before)]
        tensors = seen["inputs"] + seen["outputs"] + seen["signals"] + list(grads) + after + updates
        tensors = [tf.cast(t, tf.float32) for t in tensors if t is not None]
        if variant == "floor_full_batched":
            sink.assign(_batched_moments(tensors))
        else:
            reduce = _moments if variant == "floor_full_stats" else lambda t: tf.reshape(tf.nn.l2_loss(t), [1])
            sink.assign(tf.concat([reduce(t) for t in tensors], 0))
        return result

    def step_fn(data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        seen.update(inputs=[t for t in tf.nest.flatten(x) if t.dtype.is_floating], outputs=[], signals=[])
        return train_step(data)

    layers = list(model.layers)
    calls = [layer.__dict__.get("call") for layer in layers]  # an instance's own (tb_gradcause's hook) or None
    for layer in layers:
        layer.call = wrapped(layer.call)
    opt.apply = apply
    try:
        function = model._make_function(step_fn)  # pylint: disable=protected-access
        function(batches)  # traces it, with the wrappers in place
    finally:
        opt.apply = original_apply
        for layer, call in zip(layers, calls):
            if call is None:
                del layer.call
            else:
                layer.call = call
    return lambda: function(batches)


def _moments(t: Any) -> Any:
    """L2 norm, mean, variance, min, max and zeros of a float32 tensor: six reductions."""
    import tensorflow as tf

    mean = tf.reduce_mean(t)
    return tf.stack(
        [
            tf.nn.l2_loss(t),
            mean,
            tf.reduce_mean(tf.math.squared_difference(t, mean)),
            tf.reduce_min(t),
            tf.reduce_max(t),
            tf.cast(tf.math.count_nonzero(t), tf.float32),
        ]
    )


def _batched_moments(tensors: list) -> Any:
    """`_moments`' columns of every tensor at once (the variance from the sums of squares)."""
    import tensorflow as tf

    flat = [tf.reshape(t, [-1]) for t in tensors]
    ids = tf.repeat(tf.range(len(flat)), tf.stack([tf.size(t) for t in flat]))
    x = tf.concat(flat, 0)
    sums = tf.math.segment_sum(tf.stack([x, tf.square(x), tf.cast(tf.equal(x, 0.0), tf.float32)], 1), ids)
    low, high = tf.math.segment_min(x, ids), tf.math.segment_max(x, ids)
    return tf.reshape(tf.concat([sums, tf.stack([low, high], 1)], 1), [-1])


def _without(*kinds: str) -> dict:
    from tb_gradcause.metadata import SUMMARY_KINDS

    return {"kinds": [k for k in SUMMARY_KINDS if k not in kinds]}


# variant -> (GradCauseCallback arguments, the patches held while it traces)
VARIANTS: dict[str, tuple[Callable[[], dict], Callable[[], list[tuple]]]] = {
    "lean": (lambda: LEAN, lambda: []),
    "lean_no_spike": (lambda: LEAN, lambda: [_no_spike()]),
    "lean_no_loss_row": (lambda: {**LEAN, "loss_every_step": False}, lambda: []),
    "lean_no_keep": (lambda: {**LEAN, **_without("nan_origin")}, lambda: []),
    "lean_no_snapshot_keep": (lambda: {**LEAN, **_without("nan_origin")}, lambda: [_no_snapshot()]),
    "lean_no_full_branch": (lambda: LEAN, lambda: [_no_full_branch()]),
    "lean_no_probes": (lambda: LEAN, lambda: [_no_probes()]),
    "lean_checked_late": (lambda: LEAN, lambda: [_checked_late()]),
    "lean_unlowered": (lambda: LEAN, lambda: [_unlowered()]),
    "lean_trivial_body": (lambda: LEAN, lambda: _trivial_body(writes=False)),
    "lean_trivial_write": (lambda: LEAN, lambda: _trivial_body(writes=True)),
    "lean_trivial_write_weights": (lambda: LEAN, lambda: _trivial_body(writes=True, reads_weights=True)),
    "lean_late_nothing": (lambda: LEAN, lambda: [_late_kinds(frozenset())]),
    "lean_late_gradients": (lambda: LEAN, lambda: [_late_kinds(frozenset({"gradients"}))]),
    "lean_late_backward": (lambda: LEAN, lambda: [_late_kinds(frozenset({"activations", "backward", "gradients"}))]),
    "lean_check_only": (
        lambda: {**LEAN, "loss_every_step": False, **_without("nan_origin")},
        lambda: [_no_spike(), _no_full_branch(), _no_snapshot(), _no_probes()],
    ),
    "full": (lambda: FULL, lambda: []),
    # Each kind left out in turn (`gradient_check` is not: built-in layers are not checked).
    **{
        f"full_no_{kind}": (lambda kind=kind: {**FULL, **_without(kind)}, lambda: [])
        for kind in ("inputs", "activations", "backward", "backward_time", "gradients", "weights", "loss_inputs")
    },
    "full_no_loss_row": (lambda: {**FULL, "loss_every_step": False}, lambda: []),
    "full_no_nan_origin": (lambda: {**FULL, **_without("nan_origin")}, lambda: []),  # the replay's keep
    "full_no_snapshot_keep": (lambda: {**FULL, **_without("nan_origin")}, lambda: [_no_snapshot()]),
    "full_no_stats": (lambda: FULL, _no_stats),
    "full_no_write": (lambda: FULL, lambda: [_no_write()]),
    "full_no_exact": (lambda: FULL, _no_exact),
    "full_stats_xla": (lambda: FULL, _stats_xla),
    "full_stats_before": (lambda: FULL, _stats_before),
    "lean_stats_before": (lambda: LEAN, _stats_before),  # the full capture's branch, built, not taken
    "full_before_fixes": (lambda: FULL, _before_fixes),
}

# The conditional's experiments: the `late` group of `overhead.py`, beside the lean step with and without it.
EXPERIMENTS = (
    "lean_checked_late",
    "lean_unlowered",
    "lean_trivial_body",
    "lean_trivial_write",
    "lean_trivial_write_weights",
    "lean_late_nothing",
    "lean_late_gradients",
    "lean_late_backward",
)
LATE = ("lean", "lean_no_full_branch", *EXPERIMENTS)
# The stat kernels at `KERNELS_BEFORE` (the `full_kernels` and `lean_kernels` groups).
BEFORE = ("full_stats_before", "lean_stats_before")
# The lean step's breakdown (the `breakdown` group) and the full step's (`full`, with `FLOORS`).
LEAN_BREAKDOWN = tuple(name for name in VARIANTS if name.startswith("lean") and name not in EXPERIMENTS + BEFORE)
FULL_BREAKDOWN = tuple(name for name in VARIANTS if name.startswith("full") and name not in BEFORE)
FLOORS = ("floor_full", "floor_full_snapshot", "floor_full_stats", "floor_full_batched")
# A shorter `full` group: the full step, its stat kernels and writes, and the floors.
FULL_SHORT = ("full", "full_no_exact", "full_no_stats", "full_no_write", "full_stats_xla")
# The stat kernels at `KERNELS_BEFORE` against the current ones, and without any (the `full_kernels` group).
FULL_KERNELS = ("full", "full_stats_before", "full_no_stats")
# The same for the lean step, whose full-capture conditional holds the kernels but never runs them.
LEAN_KERNELS = ("lean", "lean_stats_before")


def arguments(variant: str) -> dict:
    return VARIANTS[variant][0]()


@contextlib.contextmanager
def tracing(variant: str) -> Iterator[None]:
    """Hold `variant`'s patches (none for a variant not in VARIANTS), originals back afterwards."""
    patches: list[tuple[Any, str, Any]] = VARIANTS[variant][1]() if variant in VARIANTS else []
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, value in patches:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in originals:
            setattr(owner, name, value)
