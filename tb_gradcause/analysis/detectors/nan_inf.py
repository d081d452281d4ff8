"""nan_inf: the first step where NaN/Inf appears, the layer, and the phase of the step it arose in.

A training step runs input -> forward (layer outputs, first layer first) -> loss -> backward
(d loss / d layer output, last layer first) -> gradients -> optimizer update. The earliest phase
holding a non-finite value at the first bad step is where it arose; inside a phase, the first
layer in forward order (forward) or in backward order (backward, gradients) is named. Weights
that were already non-finite when the step began (`nonfinite_before`) come first: an earlier
update made them so (the step before, when its loss was logged finite).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tb_gradcause.analysis.causes import Cause, evidence
from tb_gradcause.analysis.reader import RunData, Series
from tb_gradcause.analysis.signals import nan_origin, per_layer, suggestions, trends, wording
from tb_gradcause.rows import RowInfo

CAUSE_KIND = "nan_inf"
REQUIRES: tuple[str, ...] = ()  # uses whichever kinds were logged

# (phase, kind, search order of layers inside the phase)
PHASES: tuple[tuple[str, str, str], ...] = (
    ("entry", "weights", "forward"),
    ("input", "inputs", "forward"),
    ("forward", "activations", "forward"),
    ("loss", "loss", "forward"),
    ("backward", "backward", "backward"),
    ("backward", "backward_time", "backward"),
    ("gradient", "gradients", "backward"),
    ("update", "weights", "forward"),
)

# Layers whose forward pass is only products and sums (plus a bounded or ReLU-like activation):
# a NaN/Inf there is an overflow of huge weights or inputs, not an op with a singularity.
WEIGHTED_LAYERS = frozenset(
    {
        "Dense",
        "EinsumDense",
        "Conv1D",
        "Conv2D",
        "Conv3D",
        "DepthwiseConv2D",
        "SeparableConv2D",
        "Conv1DTranspose",
        "Conv2DTranspose",
        "Embedding",
        "SimpleRNN",
        "LSTM",
        "GRU",
        "Bidirectional",
    }
)

# Layer outputs this large make a squared error (or an exp) overflow float32's 3.4e38.
OVERFLOW_OUTPUT = 1e18

PHASE_TEXT = {
    "entry": "in the optimizer update of {layer} (the next step started from its non-finite weights)",
    "entry_unknown": "in the weights of {layer}, already non-finite when this step began (an earlier update)",
    "input": "in the input batch",
    "forward": "in the forward output of {layer}",
    "loss": "in the loss (every layer output was finite)",
    "backward": "in the backward signal (d loss / d output) of {layer}",
    "gradient": "in the gradients of {layer}",
    "update": "in the optimizer update of {layer} (its gradients were finite)",
}


@dataclasses.dataclass(frozen=True)
class _Hit:
    phase: str
    kind: str
    layer: str
    rows: tuple[str, ...]  # the non-finite rows of that layer / the input features
    count: float  # NaN + Inf elements in them (1 for the loss, NaN when not counted)


def _masks(run: RunData) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """(phase, kind) -> (steps, [S, R] non-finite mask); skipped loss-scale steps do not count
    for gradients."""
    result = {}
    loss = run.get("loss")
    skipped_steps = np.zeros(0, dtype=np.int64)
    if loss is not None and loss.has("step_skipped"):
        skipped_steps = loss.steps[loss.stat("step_skipped")[:, 0] > 0]
    for phase, kind, _ in PHASES:
        series = run.get(kind)
        if series is None or len(series.steps) == 0:
            continue
        if phase == "entry":
            if not series.has("nonfinite_before"):
                continue
            mask = series.stat("nonfinite_before") > 0
        elif kind == "loss":
            mask = ~np.isfinite(series.stat("value"))
        else:
            mask = per_layer.nonfinite(series)
        if kind in ("gradients", "backward", "backward_time", "weights"):
            mask = mask & ~np.isin(series.steps, skipped_steps)[:, None]
        result[(phase, kind)] = (np.asarray(series.steps), mask)
    return result


def _count(series: Series, i: int, rows: np.ndarray, phase: str) -> float:
    if phase == "entry":
        return float(series.stat("nonfinite_before")[i, rows].sum())
    if series.has("nan") and series.has("inf"):
        return float(series.stat("nan")[i, rows].sum() + series.stat("inf")[i, rows].sum())
    return float("nan")


def _locate(run: RunData, masks: dict, step: int) -> tuple[_Hit | None, list[str]]:
    """The earliest phase (and its first layer) non-finite at `step`; kinds not logged then."""
    not_logged: list[str] = []
    for phase, kind, order in PHASES:
        if (phase, kind) not in masks:
            continue
        steps, mask = masks[(phase, kind)]
        i = int(np.searchsorted(steps, step))
        if i >= len(steps) or steps[i] != step:
            if kind not in not_logged:
                not_logged.append(kind)
            continue
        if not mask[i].any():
            continue
        series = run[kind]  # `mask` came from it
        if kind == "inputs":
            rows = np.flatnonzero(mask[i])
            names = tuple(series.rows[r].name for r in rows)
            return _Hit(phase, kind, "input", names, _count(series, i, rows, phase)), not_logged
        if kind == "loss":
            return _Hit(phase, kind, "", (), 1.0), not_logged
        view = per_layer.Layers.of(series.rows)
        bad_layers = np.unique(view.index[mask[i]])
        layer = int(bad_layers[0] if order == "forward" else bad_layers[-1])
        rows = np.flatnonzero(mask[i] & (view.index == layer))
        names = tuple(series.rows[r].name for r in rows)
        return _Hit(phase, kind, view.names[layer], names, _count(series, i, rows, phase)), not_logged
    return None, not_logged


def _layer_info(run: RunData, layer: str) -> RowInfo | None:
    for kind in ("activations", "gradients", "backward", "weights"):
        series = run.get(kind)
        if series is not None:
            for row in series.rows:
                if per_layer.row_layer(row) == layer:
                    return row
    return None


def _largest_output(run: RunData, step: int) -> float:
    """Largest |value| of any layer output at `step` (0 when not logged)."""
    acts = run.get("activations")
    if acts is None or not acts.has("max_abs") or step not in acts.steps:
        return 0.0
    values = acts.stat("max_abs")[np.searchsorted(acts.steps, step)]
    values = values[np.isfinite(values)]
    return float(values.max()) if len(values) else 0.0


def _advice(run: RunData, hit: _Hit, step: int, origin: nan_origin.Origin | None) -> str:
    """What to change, with the clipping threshold and learning rate computed from the steps before `step`;
    led by the op and line the replay found (`origin`), whose remedy replaces a guess at the op."""
    text, parts = _advice_text(run, hit, step, origin.remedy if origin is not None else "")
    return (origin.sentence() if origin is not None else "") + text + suggestions.notes(*parts)


def _advice_text(run: RunData, hit: _Hit, step: int, remedy: str) -> tuple[str, tuple[suggestions.Suggestion, ...]]:
    row = _layer_info(run, hit.layer)
    cls = f" ({row.layer_class})" if row is not None and row.layer_class else ""
    act = row.activation if row is not None else ""
    clip = suggestions.clipping(run, step)
    if hit.phase == "input":
        return (
            f"The input batch already holds NaN/Inf ({wording.names(hit.rows, 5)}). Clean the data before training "
            "(drop or impute missing values, check divisions and logs in preprocessing; "
            "`np.isfinite(x).all()` on the dataset finds the rows).",
            (),
        )
    if hit.phase == "forward":
        if act in ("exponential", "exp", "softplus"):
            return (
                f"`{act}` in {hit.layer}{cls} overflowed (float32 exp overflows above ~88). Keep its input "
                "small: lower the learning rate, clip gradients, or predict the log of the value "
                "(e.g. a log-link loss such as Poisson with `log_input`) instead of exponentiating.",
                (),
            )
        recurrent = (
            f" For a recurrent layer: clip gradients ({clip.setting}) and check long sequences."
            if (row is not None and row.recurrent)
            else ""
        )
        if row is not None and row.layer_class in WEIGHTED_LAYERS:
            return (
                f"{hit.layer}{cls} only multiplies and adds: its output overflowed float32 (|x| > 3.4e38) "
                "because its weights or inputs had grown huge, or its weights were already non-finite "
                "after an update. The updates before this step were far too large: lower the learning "
                f"rate, clip gradients ({clip.setting}), and scale inputs and targets.{recurrent}",
                (clip,),
            )
        guess = (
            "look for exp/log/sqrt/division/pow in its computation (log(0), x/0, exp of a large value) and add "
            "an epsilon or clip the argument"
        )
        return (
            f"{hit.layer}{cls} turned finite inputs into NaN/Inf: {remedy or guess}; if its values grew over "
            f"the steps before, lower the learning rate.{recurrent}",
            (clip,) if recurrent else (),
        )
    if hit.phase == "loss":
        largest = _largest_output(run, step)
        if largest >= OVERFLOW_OUTPUT:
            return (
                f"The loss overflowed: layer outputs reached {wording.num(largest)}, and squaring or "
                "exponentiating such values exceeds float32. The weights have grown far too large: lower "
                f"the learning rate, clip gradients ({clip.setting}), and scale inputs and targets.",
                (clip,),
            )
        cause = f"{remedy}." if remedy else "a log(0) or division by zero in the loss."
        return (
            f"The loss is NaN/Inf although every layer output was finite: {cause} Use the framework's loss "
            "with `from_logits=True` instead of a hand-written log of probabilities, or clip predictions to "
            "[eps, 1-eps]; check labels for NaN.",
            (),
        )
    if hit.phase in ("backward", "gradient"):
        return (
            f"The backward pass of {hit.layer}{cls} produced NaN/Inf from finite values: an operation with "
            "an infinite derivative at the value reached (sqrt(0), log(0), pow(x, <1) at 0, a norm of a "
            "zero vector) or an overflowing gradient. Add an epsilon inside such operations; clip "
            f"gradients ({clip.setting}) if the gradients grew before.",
            (clip,),
        )
    rate = suggestions.learning_rate(run, step)
    return (
        f"The optimizer turned finite gradients into non-finite weights in {hit.layer}: the step was far "
        f"too large. Lower the learning rate {rate.setting}, clip gradients ({clip.setting}), and check "
        "the optimizer's epsilon if you changed it.",
        (rate, clip),
    )


def _finite_loss_at(run: RunData, step: int) -> bool:
    """Whether the loss of `step` was logged and finite."""
    loss = run.get("loss")
    if loss is None or step < 0:
        return False
    i = int(np.searchsorted(loss.steps, step))
    return i < len(loss.steps) and loss.steps[i] == step and bool(np.isfinite(loss.stat("value")[i, 0]))


def detect(run: RunData) -> list[Cause]:
    masks = _masks(run)
    if not masks:
        return []
    # Sorted unique steps by a sort: numpy 2.4's np.unique hashes and takes ~1 s for a million steps.
    logged = np.sort(np.concatenate([steps for steps, _ in masks.values()]))
    new = np.ones(len(logged), dtype=bool)
    new[1:] = logged[1:] != logged[:-1]
    all_steps = logged[new]
    bad = np.zeros(len(all_steps), dtype=bool)
    for steps, mask in masks.values():
        bad[np.searchsorted(all_steps, steps[mask.any(axis=1)])] = True
    # Episodes: runs of logged steps with non-finite values; same place, same event.
    grouped: dict[tuple[str, str], list] = {}
    for _, start, end in trends.true_runs(bad):
        first, last = int(all_steps[start]), int(all_steps[end])
        hit, not_logged = _locate(run, masks, first)
        if hit is None:
            continue
        grouped.setdefault((hit.phase, hit.layer), []).append((first, last, hit, not_logged))
    events = []
    origin = nan_origin.first(run)
    for (phase, layer), episodes in grouped.items():
        first, _, hit, not_logged = episodes[0]
        seen, last = first, episodes[-1][1]
        text_key = phase
        if phase == "entry":
            if _finite_loss_at(run, first - 1):  # the step before ran on finite weights: its update
                first -= 1
            else:
                text_key = "entry_unknown"
        where = PHASE_TEXT[text_key].format(layer=layer)
        # Where exactly: the rows (features, variables) beyond the layer's own name, else the layer.
        parts = [name for name in hit.rows if name != layer]
        note = wording.names(parts, 8) if parts else layer
        if phase == "loss":
            note = "every layer output was finite"
        if phase == "entry":
            found = evidence("weights.nonfinite_before", hit.count, 0, ">", seen, note)
        else:
            found = evidence(f"{hit.kind}.nan+inf", hit.count, 0, ">", first, note)
        items = [found]
        if len(episodes) > 1:
            items.append(evidence("episodes", len(episodes), 1, ">", None, f"up to step {last}"))
        if not_logged:
            items.append(
                evidence(
                    "kinds_not_logged",
                    len(not_logged),
                    0,
                    ">",
                    seen,
                    ", ".join(wording.KIND_WORDS.get(kind, kind) for kind in not_logged),
                )
            )
        title = f"NaN/Inf first appears {where} at step {first}"
        replayed = origin if origin is not None and any(s <= origin.step <= e for s, e, _, _ in episodes) else None
        advice = _advice(run, hit, first, replayed)
        if replayed is not None:
            located = float(replayed.found)
            op = ">" if located else "=="
            items.append(evidence("nan_origin.found", located, 0, op, replayed.step, replayed.text()))
            title += f": {replayed.text()}" if replayed.located_op else ""
        events.append(
            Cause.create(CAUSE_KIND, "error", None if phase == "loss" else layer, first, last, title, items, advice)
        )
    return events
