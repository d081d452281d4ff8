"""The one reader: a run's gradcause series, from a TensorBoard data provider or a logdir, as numpy.

Everything goes through a TensorBoard data provider (`list_tensors` / `read_tensors`), so the
plugin works with both of TensorBoard's loaders and the CLI reuses TensorBoard's own loading
code (`logdir_provider`). Each kind becomes one `Series` of float32 [steps, rows, stats], stored
stat-major: the detectors read whole stat columns, which are then contiguous.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection, Mapping

import numpy as np
from tensorboard import context as tb_context
from tensorboard import errors
from tensorboard.data import provider as tb_provider

from tb_gradcause import metadata, plugin_data_pb2
from tb_gradcause.rows import RowInfo

logger = logging.getLogger(__name__)

# `read_tensors` needs an int: one larger than any run's sample count keeps every sample.
ALL_SAMPLES = 2**31 - 1


class UnsupportedFormatError(errors.InvalidArgumentError):
    """A run was written in a format newer than this tb_gradcause (HTTP 400 in TensorBoard)."""


@dataclasses.dataclass(frozen=True)
class Series:
    """One kind of one run: `values[s, r, k]` is stat `stats[k]` of row `rows[r]` at `steps[s]`."""

    kind: str
    steps: np.ndarray  # int64 [S], sorted, unique
    wall_times: np.ndarray  # float64 [S]
    values: np.ndarray  # float32 [S, R, K], NaN/Inf as logged; stored stat-major
    rows: tuple[RowInfo, ...]
    stats: tuple[str, ...]

    def __post_init__(self) -> None:
        # Stat-major: `values` is a view of a C-contiguous [K, S, R] (copied into one if it is not).
        stat_major = np.ascontiguousarray(np.asarray(self.values).transpose(2, 0, 1))
        object.__setattr__(self, "values", stat_major.transpose(1, 2, 0))

    def stat(self, name: str) -> np.ndarray:
        """The [S, R] values of one stat, a C-contiguous view; KeyError if this series lacks it."""
        if name not in self.stats:
            raise KeyError(f"{self.kind} series has no stat {name!r}; it has {self.stats}")
        return self.values[:, :, self.stats.index(name)]

    def has(self, name: str) -> bool:
        return name in self.stats

    def rows_of(self, layer: str) -> list[int]:
        """Indices of the rows owned by `layer` (or named `layer`)."""
        return [i for i, row in enumerate(self.rows) if layer in (row.layer, row.name)]


@dataclasses.dataclass(frozen=True)
class RunData:
    """All gradcause series of one run, by kind (an absent kind was not logged)."""

    run: str
    series: dict[str, Series]

    def get(self, kind: str) -> Series | None:
        return self.series.get(kind)

    def __getitem__(self, kind: str) -> Series:
        """A kind the caller knows was logged (a detector's `REQUIRES`); KeyError otherwise."""
        return self.series[kind]


def list_runs(provider: tb_provider.DataProvider, ctx: tb_context.RequestContext, experiment_id: str) -> list[str]:
    """Names of the runs that hold gradcause data, sorted."""
    listing = provider.list_tensors(ctx, experiment_id=experiment_id, plugin_name=metadata.PLUGIN_NAME)
    return sorted(run for run, tags in listing.items() if tags)


def read_run(
    provider: tb_provider.DataProvider,
    ctx: tb_context.RequestContext,
    experiment_id: str,
    run: str,
    *,
    kinds: Collection[str] | None = None,
    samples: int = ALL_SAMPLES,
) -> RunData:
    """Every logged step of every kind of `run` (or of `kinds` only).

    `samples` < the kind's sample count reads that many samples of each kind, as the provider
    chooses them (RustBoard: at random, always the last; only those are converted, so 500 of
    the 10,000-step benchmark run's 4 charted kinds take ~0.1 s where every sample takes ~2.5 s;
    TensorBoard's Python loader converts every sample first): a preview to draw, never data to
    diagnose (it may miss every non-finite step).

    Raises `tensorboard.errors.NotFoundError` for a run without gradcause data and
    `UnsupportedFormatError` for a run written in a newer format.
    """
    run_filter = tb_provider.RunTagFilter(runs=[run])
    listing = provider.list_tensors(
        ctx, experiment_id=experiment_id, plugin_name=metadata.PLUGIN_NAME, run_tag_filter=run_filter
    ).get(run)
    if not listing:
        raise errors.NotFoundError(f"run {run!r} has no gradcause data")
    series = {}
    for kind, (tag, plugin_data) in _latest_tag_per_kind(run, listing).items():
        if kinds is not None and kind not in kinds:
            continue
        # One tag per request: RustBoard answers in one gRPC message of at most 256 MB.
        data = provider.read_tensors(
            ctx,
            experiment_id=experiment_id,
            plugin_name=metadata.PLUGIN_NAME,
            downsample=samples,
            run_tag_filter=tb_provider.RunTagFilter(runs=[run], tags=[tag]),
        )
        result = _series(kind, plugin_data, data.get(run, {}).get(tag, []), f"{run}/{tag}")
        if result is not None:
            series[kind] = result
    return RunData(run=run, series=series)


def logdir_provider(logdir: str) -> tb_provider.DataProvider:
    """A data provider over `logdir` loaded once by TensorBoard's own loader, keeping all gradcause samples."""
    from tensorboard.backend.event_processing import data_ingester, data_provider, plugin_event_multiplexer

    multiplexer = plugin_event_multiplexer.EventMultiplexer(
        size_guidance=data_ingester.DEFAULT_SIZE_GUIDANCE,
        tensor_size_guidance={**data_ingester.DEFAULT_TENSOR_SIZE_GUIDANCE, metadata.PLUGIN_NAME: 0},
    )
    multiplexer.AddRunsFromDirectory(logdir)
    multiplexer.Reload()
    return data_provider.MultiplexerDataProvider(multiplexer, logdir)


def read_logdir(
    logdir: str,
    run: str | None = None,
    *,
    failures: dict[str, str] | None = None,
    skipped: list[str] | None = None,
) -> dict[str, RunData]:
    """Every gradcause run under `logdir` (or just `run`), read through `logdir_provider`.

    Raises `NotFoundError` for a `run` without gradcause data. A run in a newer format raises
    `UnsupportedFormatError`, or, when `failures` is given, is recorded there (run -> why) and
    left out while the other runs are read. `skipped`, when given, receives the runs of the
    logdir that hold no gradcause data (other plugins' runs in a mixed logdir).
    """
    provider = logdir_provider(logdir)
    ctx = tb_context.RequestContext()
    runs = list_runs(provider, ctx, "")
    if skipped is not None:
        skipped += sorted({r.run_name for r in provider.list_runs(ctx, experiment_id="")} - set(runs))
    if run is not None:
        if run not in runs:
            raise errors.NotFoundError(f"no gradcause run {run!r} under {logdir!r}; runs: {', '.join(runs) or 'none'}")
        runs = [run]
    result = {}
    for name in runs:
        try:
            result[name] = read_run(provider, ctx, "", name)
        except UnsupportedFormatError as e:
            if failures is None:
                raise
            failures[name] = str(e)
    return result


def _latest_tag_per_kind(
    run: str, listing: Mapping[str, tb_provider.TensorTimeSeries]
) -> dict[str, tuple[str, plugin_data_pb2.GradCausePluginData]]:
    """kind -> (tag, parsed metadata) of the kind's tag with the latest step (row sets may change)."""
    best: dict[str, tuple[tuple[int, float], str, plugin_data_pb2.GradCausePluginData]] = {}
    for tag, series in listing.items():
        try:
            plugin_data = metadata.parse_plugin_metadata(series.plugin_content)
        except ValueError as e:
            raise UnsupportedFormatError(f"run {run!r}: {e}") from e
        if plugin_data.kind not in metadata.KIND_STATS:
            logger.warning("run %r tag %r: unknown gradcause kind %r ignored", run, tag, plugin_data.kind)
            continue
        key = (series.max_step, series.max_wall_time)
        if plugin_data.kind not in best or key > best[plugin_data.kind][0]:
            best[plugin_data.kind] = (key, tag, plugin_data)
    return {kind: (tag, plugin_data) for kind, (_, tag, plugin_data) in best.items()}


def _series(
    kind: str, plugin_data: plugin_data_pb2.GradCausePluginData, data: list[tb_provider.TensorDatum], where: str
) -> Series | None:
    """Stack one tag's samples; drop samples whose shape disagrees with the metadata. A loss
    sample of n rows holds n consecutive steps from its own (`summary.write`'s `consecutive`)."""
    rows = tuple(RowInfo.from_proto(row) for row in plugin_data.rows)
    stats = tuple(plugin_data.stats)
    shape = (len(rows), len(stats))
    chunked = kind == "loss" and len(rows) == 1
    good = [
        d for d in data if d.numpy.shape == shape or (chunked and d.numpy.ndim == 2 and d.numpy.shape[1:] == shape[1:])
    ]
    if len(good) < len(data):
        logger.warning("%s: %d samples without shape %s dropped", where, len(data) - len(good), shape)
    if not good:
        return None
    if chunked:
        return _spread_steps(kind, good, rows, stats)
    steps = np.fromiter((datum.step for datum in good), dtype=np.int64, count=len(good))
    keep = np.flatnonzero(_latest_writes(steps))
    kept = good if len(keep) == len(good) else [good[i] for i in keep]
    return Series(
        kind=kind,
        steps=steps[keep],
        wall_times=np.fromiter((datum.wall_time for datum in kept), dtype=np.float64, count=len(kept)),
        values=_stat_major([datum.numpy for datum in kept], shape),
        rows=rows,
        stats=stats,
    )


def _spread_steps(
    kind: str, data: list[tb_provider.TensorDatum], rows: tuple[RowInfo, ...], stats: tuple[str, ...]
) -> Series:
    """A one-row series from samples of [n, stats] rows, row i at the sample's step + i (the
    sample's wall time: when it was written)."""
    counts = np.fromiter((datum.numpy.shape[0] for datum in data), dtype=np.int64, count=len(data))
    starts = np.fromiter((datum.step for datum in data), dtype=np.int64, count=len(data))
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    steps = np.repeat(starts, counts) + offsets
    wall_times = np.repeat(np.fromiter((datum.wall_time for datum in data), dtype=np.float64, count=len(data)), counts)
    keep = _latest_writes(steps)
    values = np.concatenate([datum.numpy for datum in data]).astype(np.float32, copy=False)[keep]
    return Series(
        kind=kind,
        steps=steps[keep],
        wall_times=wall_times[keep],
        values=values.reshape(len(values), len(rows), len(stats)),
        rows=rows,
        stats=stats,
    )


def _stat_major(matrices: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """float32 [S, R, K] from S [R, K] matrices in one copy, laid out stat-major (a view of a
    C-contiguous [K, S, R]) so that every `Series.stat` column is a contiguous [S, R] array."""
    rows, stats = shape
    columns = np.empty((stats, len(matrices) * rows), dtype=np.float32)
    np.concatenate([m.T for m in matrices], axis=1, out=columns, casting="unsafe")
    return columns.reshape(stats, len(matrices), rows).transpose(1, 2, 0)


def _latest_writes(steps: np.ndarray) -> np.ndarray:
    """Mask of the samples (in write order) that survive restarts: a write at step s replaces
    every earlier write at a step >= s (as RustBoard does), so the kept steps strictly increase."""
    later_min = np.minimum.accumulate(steps[::-1])[::-1]
    return steps < np.append(later_min[1:], np.iinfo(np.int64).max)
