"""The detector engine: run every detector on a run, link cause chains, return the per-run result."""

from __future__ import annotations

import logging
from typing import Any

from tb_gradcause.analysis.causes import Cause, RunDiagnosis
from tb_gradcause.analysis.detectors import (
    dead_relu,
    disconnected_gradient,
    exploding_gradient,
    input_scale,
    learning_rate_too_high,
    loss_shape_mismatch,
    nan_inf,
    saturated_activation,
    vanishing_gradient,
    wrong_gradient,
)
from tb_gradcause.analysis.reader import RunData
from tb_gradcause.analysis.signals import per_layer

logger = logging.getLogger(__name__)

DETECTORS = (
    nan_inf,
    exploding_gradient,
    vanishing_gradient,
    dead_relu,
    saturated_activation,
    input_scale,
    disconnected_gradient,
    learning_rate_too_high,
    loss_shape_mismatch,
    wrong_gradient,
)

# effect kind -> kinds that can explain it (a cause precedes or coincides with its effect).
CAUSES: dict[str, tuple[str, ...]] = {
    "nan_inf": ("exploding_gradient", "learning_rate_too_high", "input_scale", "saturated_activation"),
    "exploding_gradient": ("learning_rate_too_high", "input_scale"),
    "vanishing_gradient": ("saturated_activation", "dead_relu", "wrong_gradient"),
    "disconnected_gradient": ("wrong_gradient",),  # a gradient function returning zeros
    "dead_relu": ("learning_rate_too_high", "input_scale", "dead_relu"),
    "saturated_activation": ("learning_rate_too_high", "input_scale"),
    # large inputs make any step size effectively too large for the first layer
    "learning_rate_too_high": ("input_scale",),
}
# Effects measured on the backward pass: their causes sit at the same or a later layer.
BACKWARD_EFFECTS = frozenset({"exploding_gradient", "vanishing_gradient"})


def diagnose(run: RunData) -> RunDiagnosis:
    """The causes found in one `RunData`, the kinds checked and those skipped (with why)."""
    try:
        return _diagnose(run)
    finally:
        per_layer.clear_memos()  # the arrays shared by the detectors of this run


def analyze(run: RunData) -> dict[str, Any]:
    """`diagnose`'s JSON: `{"events": [...], "checked": [kinds that ran], "skipped": {kind: why}}`."""
    return diagnose(run).to_json()


def _diagnose(run: RunData) -> RunDiagnosis:
    events: list[Cause] = []
    checked: list[str] = []
    skipped: dict[str, str] = {}
    for detector in DETECTORS:
        missing = [kind for kind in detector.REQUIRES if not _logged(run, kind)]
        if missing:
            # A detector whose kind is logged only where it applies says why it may be absent.
            default = f"needs {' and '.join(missing)} statistics, which this run did not log"
            skipped[detector.CAUSE_KIND] = getattr(detector, "NOT_LOGGED", None) or default
            continue
        try:
            events.extend(detector.detect(run))
        except Exception as e:  # one broken detector must not hide the others' findings
            logger.exception("detector %s failed on run %r", detector.CAUSE_KIND, getattr(run, "run", "?"))
            skipped[detector.CAUSE_KIND] = f"detector failed: {type(e).__name__}: {e}"
            continue
        checked.append(detector.CAUSE_KIND)
    _unique_ids(events)
    link_causes(events, layer_depths(run))
    advise_from_the_root(events)
    events.sort(key=lambda e: (e.first_step, -e.rank, e.layer or ""))
    return RunDiagnosis(events, checked, skipped)


# Root causes whose remedy comes first for everything they explain (and whose own advice says it):
# kind -> (what is wrong, in words; the remedy).
ROOT_REMEDIES = {
    "learning_rate_too_high": (
        "the learning rate is too high",
        "lower it (try 10x lower) and clip gradients (`clipnorm=1.0`)",
    ),
    "input_scale": ("the inputs are badly scaled", "standardize each feature on the training set"),
}


def advise_from_the_root(causes: list[Cause]) -> None:
    """Lead each cause's advice with its root cause's remedy, so a card never advises against its
    own chain (e.g. "weights initialized too large" under a learning rate that is too high)."""
    by_id = {c.id: c for c in causes}
    for cause in causes:
        root = cause
        seen = {cause.id}
        while root.caused_by and root.caused_by[0] in by_id and root.caused_by[0] not in seen:
            root = by_id[root.caused_by[0]]
            seen.add(root.id)
        if root is not cause and root.kind in ROOT_REMEDIES:
            wrong, remedy = ROOT_REMEDIES[root.kind]
            cause.advice = (
                f"Root cause first: {wrong} (from step {root.first_step}); {remedy}. This follows from it; "
                f"if it persists once that is fixed: {cause.advice}"
            )


def _unique_ids(events: list[Cause]) -> None:
    """Suffix "#2", "#3"... to ids that repeat (e.g. two model inputs, both the layer "input")."""
    seen: dict[str, int] = {}
    for event in events:
        seen[event.id] = seen.get(event.id, 0) + 1
        if seen[event.id] > 1:
            event.id = f"{event.id}#{seen[event.id]}"


def _logged(run: RunData, kind: str) -> bool:
    series = run.get(kind)
    return series is not None and len(series.steps) > 0 and len(series.rows) > 0


def layer_depths(run: RunData) -> dict[str, int]:
    """Forward position of every layer named in the run's rows (-1 when unknown)."""
    depths: dict[str, int] = {}
    for series in run.series.values():
        for row in series.rows:
            if row.layer:
                depths.setdefault(row.layer, row.depth)
    return depths


def _related(cause: Cause, effect: Cause, depths: dict[str, int]) -> bool:
    """Same layer, a run-wide/input cause, or a cause upstream of the effect along its signal."""
    if cause.layer in (None, "input") or effect.layer is None or cause.layer == effect.layer:
        return True
    if effect.kind == "nan_inf":  # non-finite values spread through every later layer and the update
        return True
    c, e = depths.get(cause.layer, -1), depths.get(effect.layer, -1)
    if c < 0 or e < 0:
        return True
    return c >= e if effect.kind in BACKWARD_EFFECTS else c <= e


def link_causes(events: list[Cause], depths: dict[str, int]) -> None:
    """Fill `caused_by` with the direct causes of each event (indirect ones left to the chain)."""
    candidates = {
        effect.id: [
            cause.id
            for cause in events
            if cause.kind in CAUSES.get(effect.kind, ())
            and cause.first_step <= effect.first_step
            and _related(cause, effect, depths)
        ]
        for effect in events
    }
    for effect in events:
        candidates[effect.id] = [c for c in candidates[effect.id] if c != effect.id]

    def ancestors(event_id: str, seen: frozenset[str] = frozenset()) -> set[str]:
        found: set[str] = set()
        for parent in candidates.get(event_id, []):
            if parent not in seen:
                found |= {parent} | ancestors(parent, seen | {event_id})
        return found

    for effect in events:
        direct = candidates[effect.id]
        indirect = set().union(*(ancestors(c) for c in direct)) if direct else set()
        effect.caused_by = [c for c in direct if c not in indirect]
