"""The "Gradient Causes" TensorBoard plugin: HTTP routes over `context.data_provider`.

Routes (under `/data/plugin/gradcause/`, contracts in docs/design.md):
`runs`, `overview`, `timeline?run=R&kind=K[&max_points=N][&stats=a,b][&format=json|binary][&samples=N]`, `events?run=R`,
`report?run=R`, and the frontend's static files from `STATIC_FILES`. Data comes only through
`reader` and causes only from `engine`; results are cached per run and dropped when TensorBoard
has loaded new data for it. Damaged event files come from the files themselves (`damage`).
"""

from __future__ import annotations

import collections
import gzip
import math
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

from tensorboard import context as tb_context
from tensorboard import errors, plugin_util
from tensorboard.backend import http_util
from tensorboard.data import provider as tb_provider
from tensorboard.plugins import base_plugin
from werkzeug import wrappers

from tb_gradcause.analysis import engine, reader
from tb_gradcause.analysis.causes import RunDiagnosis
from tb_gradcause.analysis.logdir import LogdirDiagnosis
from tb_gradcause.cli import report
from tb_gradcause.metadata import PLUGIN_NAME, SUMMARY_KINDS
from tb_gradcause.plugin import damage, overview, timeline

STATIC_DIR = Path(__file__).parent / "static"

# The only files served from STATIC_DIR, with their content types.
STATIC_FILES: dict[str, str] = {
    "index.js": "text/javascript",
    "index.js.map": "application/json",
    "index.css": "text/css",
}

TAB_NAME = "Gradient Causes"

# Runs whose data and timelines are kept in memory; causes are small and kept for more runs.
_RUN_CACHE_SIZE = 4
_TIMELINE_CACHE_SIZE = 32
_EVENTS_CACHE_SIZE = 256

# Seconds the overview spends diagnosing runs not diagnosed yet; the rest are sent as pending and the
# tab asks again: a first open of 100 runs paints at once and fills in, rather than after a minute.
OVERVIEW_BUDGET_S = 0.7

# Level 1 compresses a million-step run's gradient and weight timelines (33 MB of JSON) in half the
# time of level 3 (0.56 vs 1.05 s at load 5) to 10.5 instead of 9.5 MB: a cold open waits for the time.
# The binary form is not compressed: without its all-zero rows it is float32 values, which level 1
# shrinks by 10-50 % for ~0.2 s of CPU per 3 MB (a 200-layer run's gradient norms at 2,000 steps).
GZIP_LEVEL = 1

_JSON = "application/json"
_BINARY = "application/octet-stream"
# The timeline route's encodings: JSON for any client, binary typed-array columns for the tab.
TIMELINE_FORMATS = ("json", "binary")
_MARKDOWN = "text/markdown; charset=utf-8"


class _Cache:
    """A thread-safe LRU of values tagged with the data fingerprint they were computed from.

    Concurrent requests for one key compute it once (the tab asks for a run's events and
    timelines in parallel, and all of them need the run's data).
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: collections.OrderedDict[Hashable, tuple[Hashable, Any]] = collections.OrderedDict()
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def peek(self, key: Hashable, fingerprint: Hashable) -> Any | None:
        """The value cached for `key` at `fingerprint`, None if there is none (nothing is computed)."""
        with self._lock:
            hit = self._items.get(key)
        return hit[1] if hit is not None and hit[0] == fingerprint else None

    def get(self, key: Hashable, fingerprint: Hashable, compute: Callable[[], Any]) -> Any:
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                hit = self._items.get(key)
                if hit is not None and hit[0] == fingerprint:
                    self._items.move_to_end(key)
                    return hit[1]
            value = compute()
            with self._lock:
                self._items[key] = (fingerprint, value)
                self._items.move_to_end(key)
                while len(self._items) > self._size:
                    evicted, _ = self._items.popitem(last=False)
                    self._key_locks.pop(evicted, None)
            return value


class GradCausePlugin(base_plugin.TBPlugin):
    """Serves runs, per-kind timelines and detected causes of the `gradcause` summaries."""

    plugin_name = PLUGIN_NAME

    def __init__(self, context: base_plugin.TBContext) -> None:
        self._provider = context.data_provider
        self._runs = _Cache(_RUN_CACHE_SIZE)
        self._timelines = _Cache(_TIMELINE_CACHE_SIZE)
        self._events = _Cache(_EVENTS_CACHE_SIZE)
        self._logdir = context.logdir or ""
        self._damage = damage.DamageCheck(context.logdir)

    def get_plugin_apps(self) -> dict[str, Callable]:
        application = wrappers.Request.application  # WSGI apps of (request -> response) methods
        apps: dict[str, Callable] = {
            "/runs": application(self._serve_runs),
            "/overview": application(self._serve_overview),
            "/report": application(self._serve_report),
            "/timeline": application(self._serve_timeline),
            "/events": application(self._serve_events),
        }
        for name in STATIC_FILES:
            apps["/" + name] = application(self._serve_static)
        return apps

    def is_active(self) -> bool:
        """True when the experiment has gradcause data (one cheap provider call)."""
        if self._provider is None:
            return False
        plugins = self._provider.list_plugins(tb_context.RequestContext(), experiment_id="")
        return PLUGIN_NAME in (plugins or ())

    def frontend_metadata(self) -> base_plugin.FrontendMetadata:
        return base_plugin.FrontendMetadata(es_module_path="/index.js", tab_name=TAB_NAME)

    # Routes: parse the request, call the `*_impl` method (the CLI's and tests' entry), respond.

    def _serve_runs(self, request: wrappers.Request) -> wrappers.Response:
        ctx, experiment = _request_scope(request)
        return http_util.Respond(request, {"runs": self.runs_impl(ctx, experiment)}, _JSON)

    def _serve_overview(self, request: wrappers.Request) -> wrappers.Response:
        ctx, experiment = _request_scope(request)
        return http_util.Respond(request, self.overview_impl(ctx, experiment), _JSON)

    def _serve_report(self, request: wrappers.Request) -> wrappers.Response:
        ctx, experiment = _request_scope(request)
        text = self.report_impl(ctx, experiment, _required_arg(request, "run"))
        return http_util.Respond(request, text, _MARKDOWN)

    def _serve_timeline(self, request: wrappers.Request) -> wrappers.Response:
        ctx, experiment = _request_scope(request)
        run, kind = _required_arg(request, "run"), _required_arg(request, "kind")
        form = request.args.get("format", "json")
        if form not in TIMELINE_FORMATS:
            raise errors.InvalidArgumentError(f"format must be one of {', '.join(TIMELINE_FORMATS)}, got {form!r}")
        body = self.timeline_impl(
            ctx,
            experiment,
            run,
            kind,
            _int_arg(request, "max_points", 2),
            _stats_arg(request),
            form,
            _int_arg(request, "samples", 1),  # a preview's samples per kind (absent: every logged step)
        )
        if form == "binary":
            return http_util.Respond(request, body, _BINARY)
        return http_util.Respond(request, body, _JSON, content_encoding="gzip")

    def _serve_events(self, request: wrappers.Request) -> wrappers.Response:
        ctx, experiment = _request_scope(request)
        return http_util.Respond(request, self.events_impl(ctx, experiment, _required_arg(request, "run")), _JSON)

    def _serve_static(self, request: wrappers.Request) -> wrappers.Response:
        name = request.path.rsplit("/", 1)[-1]
        path = STATIC_DIR / name
        if name not in STATIC_FILES or not path.is_file():
            raise errors.NotFoundError(f"no static file {name!r} (is the frontend bundle built?)")
        return http_util.Respond(request, path.read_bytes(), STATIC_FILES[name])

    # Implementations

    def runs_impl(self, ctx: tb_context.RequestContext, experiment: str) -> list[str]:
        """Names of the runs with gradcause data, sorted."""
        return reader.list_runs(self._provider, ctx, experiment)

    def overview_impl(
        self, ctx: tb_context.RequestContext, experiment: str, budget_s: float = OVERVIEW_BUDGET_S
    ) -> dict[str, Any]:
        """One line per run with gradcause data (`overview.run_line`), from one listing of the data.

        Each line carries the run's colour index in TensorBoard's own run selector (its place in
        the core plugin's run order: start time, then name) and a signature that changes with its
        data or damage. Runs not diagnosed yet are diagnosed, then event files not checked yet are
        checked, for `budget_s` seconds; the runs left are sent as pending lines, and `pending` counts
        them and the files left (the tab asks again). `skipped` names TensorBoard's other runs (no
        gradcause data); `damage_checked` says whether event files are checked for damage at all (a
        local logdir)."""
        deadline = time.monotonic() + budget_s
        listing = self._provider.list_tensors(ctx, experiment_id=experiment, plugin_name=PLUGIN_NAME)
        all_runs = sorted(
            self._provider.list_runs(ctx, experiment_id=experiment),
            key=lambda run: (math.inf if run.start_time is None else run.start_time, run.run_name),
        )
        colors = {run.run_name: index for index, run in enumerate(all_runs)}
        lines, fingerprints = [], {}
        for run in sorted(name for name, tags in listing.items() if tags):
            fingerprints[run] = _fingerprint_of(listing[run])
            diagnosis = self._events.peek((experiment, run), fingerprints[run])
            try:
                if diagnosis is None and time.monotonic() > deadline:
                    lines.append(overview.pending_line(run))
                else:
                    diagnosis = diagnosis or self._diagnosis(ctx, experiment, run, fingerprints[run])
                    lines.append(overview.run_line(run, diagnosis))
            except errors.InvalidArgumentError as e:  # a newer format version
                lines.append(overview.unreadable_line(run, str(e)))
        # Event files are checked after the runs, in what is left of the budget.
        found, unchecked = self._damage.damaged(deadline=deadline)
        damaged: dict[str, list] = collections.defaultdict(list)
        for file in found:
            damaged[file.run].append(file)
        for line in lines:
            run = line["run"]
            line["damaged"] = [overview.damage_json(d) for d in damaged[run]]
            line["color"] = colors.get(run)
            line["signature"] = overview.signature(run, fingerprints[run], line["damaged"])
        listed = {line["run"] for line in lines}
        skipped = [run for run in [*colors, *sorted(damaged)] if run not in listed]
        return {
            "runs": lines,
            "skipped": [
                {"run": run, "damaged": [overview.damage_json(d) for d in damaged.get(run, [])]}
                for run in dict.fromkeys(skipped)
            ],
            "damage_checked": self._damage.available,
            "pending": sum(bool(line.get("pending")) for line in lines) + unchecked,
        }

    def report_impl(self, ctx: tb_context.RequestContext, experiment: str, run: str) -> str:
        """The run's report as `tb-gradcause report LOGDIR --run RUN --format markdown` prints it
        (the CLI's formatter over the `events` route's result and the run's damaged files)."""
        result = self._diagnosis(ctx, experiment, run)
        damaged, _ = self._damage.damaged(run)
        return report.format_markdown(self._logdir, LogdirDiagnosis({run: result}, {}, [], damaged))

    def timeline_impl(
        self,
        ctx: tb_context.RequestContext,
        experiment: str,
        run: str,
        kind: str,
        max_points: int | None = None,
        stats: tuple[str, ...] = (),
        form: str = "json",
        samples: int | None = None,
    ) -> bytes:
        """The `timeline` route's body: JSON (`timeline.timeline_json`) gzip-compressed, or for `form`
        "binary" `timeline.timeline_binary` as it is (see `GZIP_LEVEL`).

        Encoded once and cached per data fingerprint rather than by `Respond` on every
        request: timelines reach megabytes. Thinning keeps the steps the run's causes name (the
        diagnosis is computed for it if need be). With `samples`, a preview: the kind alone read
        with at most that many samples (`reader.read_run`), neither diagnosed nor waiting for a
        diagnosis or the whole run's read, so the tab can draw it while the run is being read.
        400 for an unknown kind or stat, 404 for an unknown run or a kind it did not log."""
        if kind not in SUMMARY_KINDS:
            raise errors.InvalidArgumentError(f"unknown kind {kind!r}; expected one of {', '.join(SUMMARY_KINDS)}")
        fingerprint = self._fingerprint(ctx, experiment, run)

        def compute() -> bytes:
            if samples is None:
                series = self._run_data(ctx, experiment, run, fingerprint).get(kind)
            else:
                series = reader.read_run(self._provider, ctx, experiment, run, kinds=(kind,), samples=samples).get(kind)
            if series is None:
                raise errors.NotFoundError(f"run {run!r} has no {kind!r} data")
            unknown = [name for name in stats if not series.has(name)]
            if unknown:
                raise errors.InvalidArgumentError(
                    f"unknown {kind} stats {unknown}; this run has {', '.join(series.stats)}"
                )
            thinned = max_points is not None and len(series.steps) > max_points
            named = thinned and samples is None  # a preview does not wait for the diagnosis
            keep = timeline.cause_steps(self._diagnosis(ctx, experiment, run, fingerprint)) if named else []
            content = timeline.timeline_content(run, series, max_points, stats, keep)
            if form == "binary":
                return timeline.timeline_binary(content)
            return gzip.compress(timeline.timeline_json(content).encode(), GZIP_LEVEL, mtime=0)

        return self._timelines.get((experiment, run, kind, max_points, stats, form, samples), fingerprint, compute)

    def events_impl(self, ctx: tb_context.RequestContext, experiment: str, run: str) -> dict[str, Any]:
        """The causes found in `run`: exactly `engine.analyze`'s result, as `tb-gradcause report` prints it."""
        return self._diagnosis(ctx, experiment, run).to_json()

    # Data

    def _diagnosis(
        self, ctx: tb_context.RequestContext, experiment: str, run: str, fingerprint: tuple | None = None
    ) -> RunDiagnosis:
        """The run's `engine.diagnose`, cached; `fingerprint` saves a listing when the caller has one."""
        fingerprint = fingerprint or self._fingerprint(ctx, experiment, run)
        return self._events.get(
            (experiment, run),
            fingerprint,
            lambda: engine.diagnose(self._run_data(ctx, experiment, run, fingerprint)),
        )

    def _fingerprint(self, ctx: tb_context.RequestContext, experiment: str, run: str) -> tuple:
        """The run's (tag, max step, max wall time) triples; NotFoundError if it has no gradcause data.

        Any new write (also one rewinding the step) raises the max wall time of its tag.
        """
        listing = self._provider.list_tensors(
            ctx,
            experiment_id=experiment,
            plugin_name=PLUGIN_NAME,
            run_tag_filter=tb_provider.RunTagFilter(runs=[run]),
        )
        tags = listing.get(run)
        if not tags:
            raise errors.NotFoundError(f"no gradcause data for run {run!r}")
        return _fingerprint_of(tags)

    def _run_data(
        self, ctx: tb_context.RequestContext, experiment: str, run: str, fingerprint: tuple
    ) -> reader.RunData:
        return self._runs.get(
            (experiment, run), fingerprint, lambda: reader.read_run(self._provider, ctx, experiment, run)
        )


def _fingerprint_of(tags: dict[str, tb_provider.TensorTimeSeries]) -> tuple:
    return tuple(sorted((tag, ts.max_step, ts.max_wall_time) for tag, ts in tags.items()))


def _request_scope(request: wrappers.Request) -> tuple[tb_context.RequestContext, str]:
    return plugin_util.context(request.environ), plugin_util.experiment_id(request.environ)


def _required_arg(request: wrappers.Request, name: str) -> str:
    value = request.args.get(name)
    if not value:
        raise errors.InvalidArgumentError(f"missing required argument {name!r}")
    return value


def _int_arg(request: wrappers.Request, name: str, least: int) -> int | None:
    """The integer argument `name` (None if absent); 400 unless it is an integer >= `least`."""
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise errors.InvalidArgumentError(f"{name} must be an integer, got {raw!r}") from None
    if value < least:
        raise errors.InvalidArgumentError(f"{name} must be at least {least}, got {value}")
    return value


def _stats_arg(request: wrappers.Request) -> tuple[str, ...]:
    """The requested stat columns, comma-separated (empty = all)."""
    raw = request.args.get("stats")
    if raw is None:
        return ()
    names = tuple(dict.fromkeys(name.strip() for name in raw.split(",")))
    if not all(names):
        raise errors.InvalidArgumentError(f"stats must be comma-separated stat names, got {raw!r}")
    return names
