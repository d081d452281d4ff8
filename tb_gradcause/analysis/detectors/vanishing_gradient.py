"""vanishing_gradient: layers whose error signal is orders of magnitude below the later layers',
gradients collapsing far below their early level, or (recurrent layers) an error signal that
dies out along time — reported only while the loss has not converged (a stall or a rise, judged
on the finite losses: vanishing gradients make no NaN, so a later NaN is no evidence of them).

Across depth and over steps: one event at the most affected layer. Along time: one event per
recurrent layer.
"""

from __future__ import annotations

from tb_gradcause.analysis.causes import Cause, evidence
from tb_gradcause.analysis.reader import RunData
from tb_gradcause.analysis.signals import flow, per_layer, trends, wording

CAUSE_KIND = "vanishing_gradient"
REQUIRES: tuple[str, ...] = ("gradients", "loss")

# The backward signal of a layer 100x below that of some later layer. A Glorot-initialized ReLU
# layer shrinks it by ~0.7, so ten healthy layers lose ~1.5 decades; a sigmoid layer shrinks it by
# at least 4x (its slope is <= 0.25), so five sigmoid layers already lose ~2.4 decades.
DEPTH_DECADES = 2.0
# Kernel gradients also scale with the layer's input (small-but-fine input scales), so without
# the backward signal the depth rule asks for 1000x.
DEPTH_DECADES_KERNELS = 3.0
# Every gradient of a layer 1000x below its own early level.
COLLAPSE_DECADES = 3.0
# Recurrent: d loss / d input at the first time position 100x below that at the last one.
TIME_DECADES = 2.0


def _depth_advice(profile: flow.Profile, best: flow.Candidate, affected: list[str]) -> str:
    later: dict[str, list[str]] = {}
    for name, row in zip(profile.layers.names, profile.layers.rows):
        if row.depth > best.row.depth and row.activation in per_layer.SQUASHING:
            later.setdefault(row.activation, []).append(name)
    parts = [
        f"{act} in {names[0]}" if len(names) == 1 else f"{len(names)} {act} layers" for act, names in later.items()
    ]
    shrink = f" ({', '.join(parts)})" if parts else ""
    if best.row.recurrent:
        return (
            f"Almost no error signal reaches {wording.names(affected)}{shrink}; {best.layer} is recurrent: "
            "use LSTM/GRU rather than SimpleRNN, keep sequences short (or truncate backpropagation "
            "through time), and check that the loss reads the outputs that need the early steps."
        )
    return (
        f"Almost no error signal reaches {wording.names(affected)}: it shrinks on its way back through the "
        f"layers after them{shrink}. Use ReLU-family activations in hidden layers with He initialization, "
        "keep sigmoid/softmax for the output only (with `from_logits=True` losses), add BatchNormalization "
        "or residual connections, or make the network shallower."
    )


def _time_advice(c: flow.Candidate, seq_len: int | None) -> str:
    length = f" of {seq_len} steps" if seq_len else ""
    simple = (
        " Replace SimpleRNN with LSTM or GRU (gated memory keeps the signal)."
        if c.row.layer_class == "SimpleRNN"
        else ""
    )
    return (
        f"The error signal of {c.layer} dies out along the sequence{length}: early time steps get no "
        f"learning signal.{simple} Shorten the sequences or use truncated backpropagation through time, "
        "or add attention / skip connections across time."
    )


def _across_layers(run: RunData, trend: trends.LossTrend | None) -> list[Cause]:
    """Depth deficits and collapses over steps: one event at the most affected layer."""
    depth = flow.depth_signal(run)
    threshold = DEPTH_DECADES if depth.what == flow.BACKWARD_NORM else DEPTH_DECADES_KERNELS
    candidates = flow.spans(
        depth,
        flow.below_later(depth),
        threshold,
        False,
        "depth",
        depth.metric,
        "vs the largest of the later layers'",
        op="<=",
    )
    grads = flow.kernel_gradients(run["gradients"])
    candidates += flow.spans(
        grads,
        -flow.growth(grads),
        COLLAPSE_DECADES,
        False,
        "time",
        "gradient_rms_drop",
        op="<=",
    )
    confirmed = flow.confirm(candidates, trend, death_counts=False)
    if not confirmed:
        return []
    best = max(confirmed, key=lambda c: (c.score, -c.first))
    affected = list(dict.fromkeys(c.layer for c in sorted(confirmed, key=lambda c: c.row.depth)))
    items = list(best.items)
    if len(affected) > 1:
        items.append(evidence("affected_layers", len(affected), 1, ">", None, wording.names(affected)))
    title = (
        f"Gradients vanish in {best.layer} ({wording.num(10**-best.score)}x the later layers')"
        if best.how == "depth"
        else f"Gradients of {best.layer} collapse to {wording.num(10**-best.score)}x their early level"
    )
    return [
        Cause.create(
            CAUSE_KIND,
            "warning",
            best.layer,
            min(c.first for c in confirmed),
            max(c.last for c in confirmed),
            title,
            items,
            _depth_advice(depth, best, affected),
        )
    ]


def _along_time(run: RunData, trend: trends.LossTrend | None) -> list[Cause]:
    """Recurrent layers whose error signal dies out along the sequence: one event per layer."""
    timed = flow.along_time(run)
    if timed is None:
        return []
    along = flow.spans(
        timed,
        -timed.log,
        TIME_DECADES,
        False,
        "along_time",
        "backward_time_ratio",
        op="<=",
    )
    by_layer: dict[str, list[flow.Candidate]] = {}
    for c in flow.confirm(along, trend, death_counts=False):
        by_layer.setdefault(c.layer, []).append(c)
    events = []
    for layer, spans in by_layer.items():
        c = max(spans, key=lambda s: s.score)
        seq_len = flow.sequence_length(run, layer)
        events.append(
            Cause.create(
                CAUSE_KIND,
                "warning",
                layer,
                spans[0].first,
                spans[-1].last,
                f"Gradients vanish along time in {layer} ({wording.num(10**-c.score)}x at the first step)",
                list(c.items),
                _time_advice(c, seq_len),
            )
        )
    return events


def detect(run: RunData) -> list[Cause]:
    trend = trends.LossTrend.from_run(run)
    return _across_layers(run, trend) + _along_time(run, trend)
