"""exploding_gradient: gradients that grow by orders of magnitude over steps, across depth, or
along time inside a recurrent layer, while training is in trouble (loss rising, stalled or NaN).

One event per run, at the layer where it starts: the earliest onset, then the largest excess.
"""

from __future__ import annotations

import numpy as np

from tb_gradcause.analysis.causes import Cause, evidence
from tb_gradcause.analysis.reader import RunData
from tb_gradcause.analysis.signals import flow, per_layer, suggestions, trends, wording

CAUSE_KIND = "exploding_gradient"
REQUIRES: tuple[str, ...] = ("gradients",)

# A layer's kernel-gradient RMS 100x above its own early level (healthy runs drift within ~10x).
GROWTH_DECADES = 2.0
# A layer's backward signal (d loss / d output, L2 norm) 100x above that of every later layer:
# Glorot/He-initialized layers change it by at most ~sqrt(2) per layer.
DEPTH_DECADES = 2.0
# Without the backward signal, kernel gradients also scale with the layer's input and (for conv
# kernels) with the positions they sum over, so the depth rule asks for 1000x.
DEPTH_DECADES_KERNELS = 3.0
# Recurrent: d loss / d input at the first time position 100x above that at the last one.
TIME_DECADES = 2.0
# Between logged gradient samples: the per-step loss 100x above its best smoothed level so far and
# above its starting level, up to the step it turns NaN/Inf (too fast for the gradient cadence).
LOSS_DECADES = 2.0
# A single step's loss this many times the largest loss of every step before it (Megatron-LM's
# spiky-loss check uses 10x): one update overshot, even if training recovers; an early warning.
SPIKE_FACTOR = 10.0
# Steps of history a spike is measured against (the first losses set no reference yet).
SPIKE_HISTORY = 5
# Recurrent layers whose gates already keep the error signal along time in check.
GATED = frozenset({"LSTM", "GRU", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"})


def _recurrent_advice(run: RunData, best: flow.Candidate, clip: suggestions.Suggestion) -> str:
    """Clipping and the recurrence's own remedies: LSTM/GRU only for a layer that is neither, and tanh
    for one whose activation does not squash (ReLU, linear), which leaves the recurrent state unbounded
    (tsgm issue 59: an LSTM(activation='relu') whose loss explodes)."""
    row = best.row
    seq_len = flow.sequence_length(run, best.layer)
    length = f" {seq_len}" if seq_len else ""
    unbounded = (
        f"Its {row.activation} activation does not bound the recurrent state, which can grow along the "
        "sequence: use tanh (the default). "
        if row.activation and row.activation not in per_layer.SQUASHING
        else ""
    )
    gated = "" if row.layer_class in GATED else "use LSTM/GRU instead of SimpleRNN, "
    return (
        f"The error signal grows as it flows back through the{length} time steps of {best.layer}. {unbounded}"
        f"Clip gradients ({clip.setting}), {gated}keep the recurrent kernel orthogonal (the default "
        "initializer), and shorten sequences or truncate backpropagation through time." + suggestions.notes(clip)
    )


def _advice(run: RunData, best: flow.Candidate, start: int, last: int) -> str:
    clip = suggestions.clipping(run, start)
    if best.row.recurrent or best.how == "along_time":
        return _recurrent_advice(run, best, clip)
    lr = suggestions.learning_rate(run, last)
    if best.how == "depth":
        text = (
            f"Gradients grow layer by layer towards {best.layer}: the weights are initialized too large "
            "for this depth. Use the default Glorot/He initializers, add BatchNormalization or residual "
            f"connections, and clip gradients ({clip.setting}) or lower the learning rate {lr.setting}."
        )
        return text + suggestions.notes(clip, lr)
    text = (
        f"Gradients of {best.layer} keep growing: each update overshoots. Lower the learning rate {lr.setting}, "
        f"clip gradients ({clip.setting}), and standardize inputs and targets."
    )
    return text + suggestions.notes(lr, clip)


def _loss_explosion(run: RunData, trend: trends.LossTrend | None, sampled: np.ndarray) -> Cause | None:
    """A run-wide event when the per-step loss grows by orders of magnitude and is still that high
    where the run dies (NaN/Inf), or where it ends before the gradient statistics (logged at
    the `sampled` steps) could show or refute the growth. A spike the loss comes back from is
    not an explosion."""
    if trend is None:
        return None
    values = trend.values
    dies = trend.first_nonfinite_step is not None
    n = int(np.argmax(~np.isfinite(values))) if dies else len(values)
    if n == 0:
        return None
    # Best so far of the smoothed loss: one lucky batch does not set the reference.
    best = np.fmin.accumulate(trend.smooth_until(n))
    with np.errstate(all="ignore"):
        decades = np.log10(values[:n] / best)
    mask = (decades >= LOSS_DECADES) & (values[:n] > trend.baseline) & (best > 0)
    spans = [span for span in trends.persistent_spans(mask, 1) if span[2] == n - 1]
    if not spans:
        return None
    _, a, b = spans[0]
    if not dies and (sampled >= trend.steps[a]).any():
        return None  # the gradients were sampled during the growth: their own rules decide
    peak = a + int(np.argmax(decades[a : b + 1]))
    first, last = int(trend.steps[a]), int(trend.steps[-1])
    lr, clip = suggestions.learning_rate(run, last), suggestions.clipping(run, first)
    items = [
        evidence(
            "loss_growth",
            10 ** decades[peak],
            10**LOSS_DECADES,
            ">=",
            int(trend.steps[peak]),
        ),
        evidence("loss_start", trend.baseline, 0, ">"),
    ]
    return Cause.create(
        CAUSE_KIND,
        "error" if dies else "warning",
        None,
        first,
        last,
        f"Gradients explode from step {first}: the loss grows {wording.num(10 ** decades[peak])}x within a few steps",
        items,
        "The loss (logged every step) blows up faster than the gradient statistics are sampled, so no "
        f"single layer can be named. Lower the learning rate {lr.setting}, clip gradients ({clip.setting}), "
        f"and scale inputs and targets (the loss starts at {wording.num(trend.baseline)})."
        + suggestions.notes(lr, clip),
    )


def _gradient_jumps(grads: flow.Profile) -> np.ndarray:
    """Sampled steps where some layer's kernel-gradient RMS is >= `SPIKE_FACTOR` times its largest
    at every sampled step before."""
    with np.errstate(invalid="ignore"):
        before = np.fmax.accumulate(np.where(np.isfinite(grads.log), grads.log, np.nan), axis=0)
        jump = grads.log[1:] - before[:-1] >= np.log10(SPIKE_FACTOR)
    return grads.steps[1:][jump.any(axis=1)]


def _loss_spike(run: RunData, trend: trends.LossTrend | None, sampled: np.ndarray, jumps: np.ndarray) -> Cause | None:
    """A warning at the first finite loss `SPIKE_FACTOR` times the largest loss of all steps before
    it, at a step the gradient statistics did not sample or where they jumped as well. The capture
    samples every such spike in full; a loss that leaps while the gradients stay at their level
    (saturated logits: huge but bounded gradients) is no overshooting update."""
    if trend is None or len(trend.values) <= SPIKE_HISTORY:
        return None
    # Factors of the loss mean something only for a loss that cannot be negative (not e.g. a
    # similarity); a loss of exactly 0 (a per-sample loss that underflowed) sets no reference.
    if (trend.values[np.isfinite(trend.values)] < 0).any():
        return None
    values = np.where(np.isfinite(trend.values) & (trend.values > 0), trend.values, np.nan)
    running_max = np.fmax.accumulate(values)
    with np.errstate(invalid="ignore"):
        factor = values[SPIKE_HISTORY:] / running_max[SPIKE_HISTORY - 1 : -1]
    later = trend.steps[SPIKE_HISTORY:]
    unexplained = ~np.isin(later, sampled) | np.isin(later, jumps)
    spikes = np.flatnonzero((factor >= SPIKE_FACTOR) & unexplained)
    if not len(spikes):
        return None
    i = SPIKE_HISTORY + int(spikes[0])
    step, ratio = int(trend.steps[i]), float(factor[spikes[0]])
    clip, warmup = suggestions.clipping(run, step), suggestions.warmup(run, step)
    early = f" Early in training, {warmup.setting}." if warmup is not None else ""
    items = [
        evidence("loss_spike", ratio, SPIKE_FACTOR, ">=", step),
        evidence("loss", float(values[i]), float(running_max[i - 1]), ">", step, "over the largest loss before it"),
    ]
    return Cause.create(
        CAUSE_KIND,
        "warning",
        None,
        step,
        step,
        f"The loss spikes at step {step}: {wording.num(float(values[i]))}, "
        f"{wording.num(ratio)}x its largest value before",
        items,
        "One update overshot: a gradient far larger than usual (an outlier batch, or a learning rate at the "
        f"edge of stability). Clip gradients ({clip.setting}), check that batch's inputs, and lower the "
        f"learning rate if spikes recur.{early}" + suggestions.notes(clip),
    )


def detect(run: RunData) -> list[Cause]:
    dies = flow.run_dies(run)
    grads = flow.kernel_gradients(run["gradients"])
    candidates = flow.spans(
        grads,
        flow.growth(grads),
        GROWTH_DECADES,
        dies,
        "time",
        "gradient_rms_growth",
    )
    depth = flow.depth_signal(run)
    threshold = DEPTH_DECADES if depth.what == flow.BACKWARD_NORM else DEPTH_DECADES_KERNELS
    candidates += flow.spans(
        depth,
        flow.above_later(depth),
        threshold,
        dies,
        "depth",
        depth.metric,
        "vs the smallest of the later layers'",
    )
    timed = flow.along_time(run)
    if timed is not None:
        candidates += flow.spans(
            timed,
            timed.log,
            TIME_DECADES,
            dies,
            "along_time",
            "backward_time_ratio",
        )
    trend = trends.LossTrend.from_run(run)
    confirmed = flow.confirm(candidates, trend)
    if not confirmed:
        sampled = run["gradients"].steps
        fallback = _loss_explosion(run, trend, sampled) or _loss_spike(run, trend, sampled, _gradient_jumps(grads))
        return [fallback] if fallback is not None else []
    start, last = min(c.first for c in confirmed), max(c.last for c in confirmed)
    best = max((c for c in confirmed if c.first == start), key=lambda c: c.score)
    items = list(best.items)
    others = sorted({c.layer for c in confirmed} - {best.layer})
    if others:
        items.append(evidence("other_layers", len(others), 0, ">", None, wording.names(others)))
    where = {"time": "grow", "depth": "explode across depth", "along_time": "explode along time"}[best.how]
    return [
        Cause.create(
            CAUSE_KIND,
            "error" if dies else "warning",
            best.layer,
            start,
            last,
            f"Gradients {where} in {best.layer} from step {start} ({wording.num(10**best.score)}x)",
            items,
            _advice(run, best, start, last),
        )
    ]
