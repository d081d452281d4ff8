"""The on-disk format of tb_gradcause summaries: plugin name, kinds, stat columns, metadata protos.

Every logged step writes one tensor summary per kind: a float32 matrix [rows, stats] whose
row and column meanings live in the tag's `SummaryMetadata` (a `GradCausePluginData` proto,
written once per tag). Each stat is documented in `docs/stats.md`.

This module must stay import-light (no TensorFlow): the plugin, the reader and the CLI use it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from tensorboard.compat.proto import summary_pb2

from tb_gradcause import plugin_data_pb2
from tb_gradcause.rows import RowInfo

PLUGIN_NAME = "gradcause"

# Newest version of `GradCausePluginData` this code writes and understands.
PROTO_VERSION = 1

# Stats shared by every tensor-valued kind (computed over all elements of the tensor).
TENSOR_STATS: tuple[str, ...] = (
    "l2",  # L2 norm of the finite elements
    "mean",  # mean of the finite elements
    "std",  # standard deviation of the finite elements
    "min",  # minimum of the finite elements
    "max",  # maximum of the finite elements
    "max_abs",  # largest |x| over the finite elements
    "zero_frac",  # fraction of elements exactly 0
    "nan",  # count of NaN elements
    "inf",  # count of +Inf or -Inf elements
)

# Column names per kind. Readers look stats up by name, never by position.
KIND_STATS: dict[str, tuple[str, ...]] = {
    # Rows: trainable variables. missing = 1 when the variable received no gradient (None).
    "gradients": TENSOR_STATS + ("missing",),
    # Rows: layers (their outputs, as seen in the training forward pass).
    # dead_frac: fraction of units <= 0 for every sample in the batch.
    # saturated_frac: fraction of elements within a small margin of the activation's bounds.
    # batch_std: mean over units of the across-batch standard deviation (0 => output ignores input).
    "activations": TENSOR_STATS + ("dead_frac", "saturated_frac", "batch_std"),
    # Rows: layers. Gradient of the loss with respect to each layer's output.
    "backward": TENSOR_STATS,
    # Rows: recurrent layers. L2 norm of d loss / d (layer input at time t) at 8 positions spaced
    # evenly from the last time step (t_0) to the first one (t_7), plus the sequence length.
    "backward_time": tuple(f"t_{i}" for i in range(8)) + ("seq_len",),
    # Rows: trainable variables. update = the change actually applied by the optimizer.
    # nonfinite_before: NaN/Inf elements in the value the step started from (NaN when unknown).
    "weights": ("norm", "max_abs", "nan", "inf", "update_norm", "update_ratio", "nonfinite_before"),
    # Rows: input features (last axis; channels for images), capped at MAX_INPUT_FEATURES per input.
    # max_abs_z: the batch's largest |x - mean| / std for that feature.
    "inputs": ("mean", "std", "min", "max", "nan", "inf", "max_abs_z"),
    # One row "loss". step_skipped = 1 when a loss scaler skipped the update.
    "loss": ("value", "learning_rate", "loss_scale", "step_skipped"),
    # Rows: loss terms ("loss", or "loss/<output>"), what the loss's graph did with y_true and y_pred,
    # found at trace time (1 = found; the shapes and ops are the row's facts): a mutual broadcast,
    # labels broadcast across y_pred's `classes` columns, one-hot-shaped labels read as indices;
    # then the label values of the step: min, max and the fraction that are whole numbers.
    "loss_inputs": (
        "broadcast",
        "labels_broadcast",
        "labels_as_index",
        "classes",
        "labels_min",
        "labels_max",
        "labels_integral",
    ),
    # Rows: the float inputs of the checked layers and their trainable weights together ("<layer>/input",
    # "<layer>/weights"), once, at the first captured step: the hand-written gradient against finite
    # differences along random directions (`capture/gradient_check.py`). rel_error = |autodiff -
    # numeric| / the larger; numeric, autodiff: norms of the directional derivatives; scale: the
    # autodiff ones fitted as scale x numeric (-1: sign-flipped); upstream_ratio: autodiff for twice
    # the upstream gradient over once (2 when linear, 1 when it ignores it); noise: the finite
    # differences' own error (rounding, two step sizes' disagreement); identity = 1 when the layer's
    # output is its input unchanged.
    "gradient_check": ("rel_error", "numeric", "autodiff", "scale", "upstream_ratio", "noise", "identity"),
    # One row per replayed non-finite step ("nan_origin/<step>", `capture/nan_origin.py`): found = 1
    # when the first NaN/Inf was located (the row's facts: phase, op, source, code; its layer),
    # 0 when it was not (facts["reason"]); nan, inf and size count that first non-finite tensor.
    "nan_origin": ("found", "nan", "inf", "size"),
}

SUMMARY_KINDS: tuple[str, ...] = tuple(KIND_STATS)

MAX_INPUT_FEATURES = 256

# Units per sample above which a layer output's stats come from a sample of units. A memory pass
# over a large conv output costs about as much as the layer itself on a CPU; ~1000 units keep
# the standard error of a fraction (dead, saturated, zero) under 1.6 points.
SAMPLE_UNITS = 1024

TAG_PREFIX = "gradcause"


def tag_for(kind: str, row_names: Sequence[str]) -> str:
    """Tag of a kind's series: a changed row set gets a new tag (TensorBoard keeps the first metadata)."""
    digest = hashlib.sha1("\0".join(row_names).encode("utf-8")).hexdigest()[:8]
    return f"{TAG_PREFIX}/{kind}/{digest}"


def create_summary_metadata(
    kind: str,
    rows: Iterable[RowInfo],
    stats: Sequence[str] | None = None,
    *,
    version: int = PROTO_VERSION,
) -> summary_pb2.SummaryMetadata:
    """Metadata for one kind's tensor series (`data_class` must be TENSOR or loaders drop it)."""
    if kind not in KIND_STATS:
        raise ValueError(f"unknown gradcause kind {kind!r}; expected one of {SUMMARY_KINDS}")
    content = plugin_data_pb2.GradCausePluginData(
        version=version,
        kind=kind,
        stats=list(stats if stats is not None else KIND_STATS[kind]),
        rows=[row.to_proto() for row in rows],
    )
    return summary_pb2.SummaryMetadata(
        display_name=kind,
        summary_description=f"tb_gradcause {kind} statistics",
        plugin_data=summary_pb2.SummaryMetadata.PluginData(
            plugin_name=PLUGIN_NAME, content=content.SerializeToString()
        ),
        data_class=summary_pb2.DATA_CLASS_TENSOR,
    )


def parse_plugin_metadata(content: bytes) -> plugin_data_pb2.GradCausePluginData:
    """Parse `plugin_data.content`; raise ValueError for a version newer than this code knows."""
    if not isinstance(content, bytes):
        raise TypeError("content must be bytes")
    result = plugin_data_pb2.GradCausePluginData.FromString(content)
    if result.version > PROTO_VERSION:
        raise ValueError(
            f"gradcause data has format version {result.version}; this tb_gradcause reads up to "
            f"{PROTO_VERSION}: upgrade tb_gradcause"
        )
    return result
