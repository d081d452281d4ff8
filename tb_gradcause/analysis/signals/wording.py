"""The words and numbers people read: evidence labels and the formatting of titles, notes and advice."""

from __future__ import annotations

import math
from collections.abc import Sequence

# Plain words for every evidence metric: what its value is (the metric stays the id for tools).
EVIDENCE_LABELS: dict[str, str] = {
    # nan_inf: NaN + Inf elements, by where they were found
    "inputs.nan+inf": "NaN/Inf values in the input batch",
    "activations.nan+inf": "NaN/Inf values in a layer's output",
    "loss.nan+inf": "NaN/Inf values in the loss",
    "backward.nan+inf": "NaN/Inf values in d loss / d layer output",
    "backward_time.nan+inf": "NaN/Inf values in d loss / d input along time",
    "gradients.nan+inf": "NaN/Inf values in the gradients",
    "weights.nan+inf": "NaN/Inf values in the updated weights",
    "weights.nonfinite_before": "NaN/Inf values in the weights the step started from",
    "episodes": "separate NaN/Inf episodes",
    "kinds_not_logged": "statistics not logged at that step",
    "nan_origin.found": "the first op producing NaN/Inf, found by an eager replay of the step (1 = found)",
    # the loss
    "loss_nonfinite_step": "step at which the loss turns NaN/Inf",
    "loss_rise": "smoothed loss over its best so far",
    "loss_progress": "share of the early loss removed",
    "loss_growth": "loss over its best smoothed level so far",
    "loss_start": "early loss level",
    "loss_spike": "loss over the largest loss before it",
    "loss": "loss at the spike",
    # gradient flow
    "gradient_rms_growth": "kernel-gradient RMS over its early level",
    "gradient_rms_drop": "kernel-gradient RMS over its early level",
    "backward_signal_depth_ratio": "backward-signal norm over a later layer's",
    "kernel_gradient_depth_ratio": "kernel-gradient RMS over a later layer's",
    "backward_time_ratio": "d loss / d input at the first time position over the last",
    "other_layers": "other layers exploding",
    "affected_layers": "layers with vanishing gradients",
    # activations
    "dead_frac": "share of the ReLU units dead",
    "kernel_grad_zero_frac": "share of kernel gradient entries exactly 0",
    "saturated_frac": "share of the outputs saturated",
    "early_saturated_frac": "share of the outputs saturated at the start",
    # inputs
    "magnitude_gap": "gap between two groups of feature scales",
    "magnitude_over_median": "feature scale over the input's median",
    "input_magnitude": "smallest feature scale |x|",
    "outlier_sigma": "distance of an input value from its usual mean, in usual batch stds",
    "gradient_spike": "kernel-gradient RMS over its median",
    # disconnected gradients
    "batch_std_over_max_abs": "output spread across the batch, relative to its size",
    "variables_without_gradient": "variables without gradient",
    "backward_l2_of_input": "gradient reaching the layer's input",
    "steps_without_gradient": "logged steps without gradient",
    # weights
    "update_ratio": "update norm over kernel norm",
    "weight_norm_growth": "kernel norm over its early level",
    # the loss's inputs (found in its graph at trace time)
    "loss_broadcast": "y_true and y_pred broadcast against each other in the loss",
    "labels_broadcast": "one-column labels broadcast across y_pred's classes in the loss",
    "labels_as_index": "one-hot-shaped labels read as class indices by the loss",
    # wrong_gradient
    "gradient_check.rel_error": "hand-written gradient against finite differences: relative error",
    "gradient_check.scale": "hand-written gradient as a multiple of the true one",
    "gradient_check.upstream_ratio": "gradient for twice the upstream gradient over once (2 when correct)",
    "labels_max": "largest label value",
    "labels_integral": "share of the label values that are whole numbers",
}


# Logged statistics kinds whose name is no plain word.
KIND_WORDS: dict[str, str] = {
    "activations": "layer outputs",
    "backward": "d loss / d layer output",
    "backward_time": "d loss / d input along time",
}


# Each cause kind in words, for headers where the kind id alone would be jargon (the id stays beside it).
CAUSE_WORDS: dict[str, str] = {
    "nan_inf": "NaN/Inf values",
    "exploding_gradient": "exploding gradients",
    "vanishing_gradient": "vanishing gradients",
    "dead_relu": "dead ReLU units",
    "saturated_activation": "saturated activations",
    "input_scale": "badly scaled inputs",
    "disconnected_gradient": "disconnected gradients",
    "learning_rate_too_high": "learning rate too high",
    "loss_shape_mismatch": "y_true and y_pred mismatched in the loss",
    "wrong_gradient": "a wrong hand-written gradient",
}


def num(value: float) -> str:
    """A number for people: 3 significant digits, positional from 0.001 to 1e5 ("983", "0.0121"),
    else scientific ("6.98e29", "9.02e-44"); NaN, Inf and -Inf by name."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    rounded = float(f"{value:.3g}")
    if rounded == 0 or 1e-3 <= abs(rounded) < 1e5:
        decimals = max(0, 2 - math.floor(math.log10(abs(rounded)))) if rounded else 0
        text = f"{rounded:.{decimals}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    mantissa, exponent = f"{rounded:.2e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def names(items: Sequence[str], limit: int = 6) -> str:
    """'a, b, c' with an ellipsis beyond `limit` items."""
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def index_ranges(indices: Sequence[int]) -> str:
    """[0, 1, 2, 5, 7, 8] -> '0–2, 5, 7–8'."""
    runs: list[list[int]] = []  # [first, last] of each run of consecutive indices
    for i in sorted(indices):
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in runs)
