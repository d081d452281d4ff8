"""The plugin's HTTP routes through a real TensorBoard WSGI app, with both of TensorBoard's loaders."""

from __future__ import annotations

import concurrent.futures
import gzip
import json
import os
import time
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
from tensorboard import context
from tensorboard.plugins import base_plugin
from werkzeug import test as werkzeug_test

from tb_gradcause import cli
from tb_gradcause.analysis import json_numbers, reader
from tb_gradcause.cli import report as report_cli
from tb_gradcause.metadata import KIND_STATS
from tb_gradcause.plugin import damage
from tb_gradcause.plugin import gradcause_plugin as plugin
from tb_gradcause.testing import synthetic, tensorboard_app
from tests.support import binary_timeline
from tests.support.plugin_logdir import (
    BROKEN_RUNS,
    CORRUPT,
    GOOD_RUNS,
    HEALTHY,
    HOSTILE,
    HOSTILE_RUN,
    NAN,
    NAN_STEP,
    REWIND,
    REWOUND_LOSS,
    SCALARS_ONLY,
    STEPS,
    TRUNCATED,
    wait_until_served,
    write_logdir,
)

ROUTE = "/data/plugin/gradcause"


def _strict_json(body: bytes):
    """Parse JSON that must not contain the non-standard NaN/Infinity tokens."""

    def refuse(token: str):
        raise AssertionError(f"non-standard JSON token {token}")

    return json.loads(body, parse_constant=refuse)


class Client:
    """A TensorBoard WSGI app over a logdir, as `tensorboard --load_fast=MODE` would build it."""

    def __init__(self, logdir: Path, load_fast: str) -> None:
        app, self.multiplexer = tensorboard_app.wsgi_app(logdir, load_fast)
        self.client = werkzeug_test.Client(app)

    def get(self, path: str):
        return self.client.get(path)

    def json(self, path: str):
        """The route's JSON; RuntimeError unless status 200 (like `TensorBoardProcess.get_json`)."""
        response = self.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} -> {response.status_code}: {response.get_data()[:300]!r}")
        assert response.headers["Content-Type"].startswith("application/json")
        return _strict_json(response.get_data())


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("logs")
    return path, write_logdir(path)


@pytest.fixture(scope="module")
def logdir(written) -> Path:
    return written[0]


@pytest.fixture(scope="module", params=["false", "true"], ids=["python_loader", "rustboard"])
def client(request, written) -> Client:
    result = Client(written[0], request.param)
    assert (result.multiplexer is None) == (request.param == "true")  # RustBoard has no multiplexer
    wait_until_served(result.json, written[1])
    return result


def test_runs_lists_the_runs_with_gradcause_data(client):
    runs = client.json(f"{ROUTE}/runs")["runs"]
    assert set(GOOD_RUNS) <= set(runs)
    assert set(runs) <= set(GOOD_RUNS) | set(BROKEN_RUNS)


def test_tab_is_listed_active_with_its_module(client):
    listing = client.json("/data/plugins_listing")["gradcause"]
    assert listing["enabled"] is True
    assert listing["tab_name"] == "Gradient Causes"
    assert listing["loading_mechanism"] == {"type": "IFRAME", "module_path": f"{ROUTE}/index.js"}


def test_timeline_keeps_every_step_of_every_row(client):
    data = client.json(f"{ROUTE}/timeline?run={HEALTHY}&kind=gradients")
    assert data["run"] == HEALTHY and data["kind"] == "gradients"
    assert data["steps"] == list(range(STEPS))
    assert data["stats"] == list(KIND_STATS["gradients"])
    names = [row["name"] for row in data["rows"]]
    assert names == [f"dense_{i}/{role}" for i in range(3) for role in ("kernel", "bias")]
    assert set(data["rows"][0]) == {
        "name",
        "layer",
        "layer_class",
        "activation",
        "shape",
        "recurrent",
        "role",
        "depth",
        "facts",
    }
    for stat in data["stats"]:
        assert len(data["values"][stat]) == len(names)
        assert all(len(per_row) == STEPS for per_row in data["values"][stat])


def test_timeline_values_match_what_was_written(client):
    expected = synthetic.healthy_run(synthetic.mlp(3), STEPS)["weights"]
    data = client.json(f"{ROUTE}/timeline?run={HEALTHY}&kind=weights&stats=update_ratio,norm")
    assert data["stats"] == ["update_ratio", "norm"]
    np.testing.assert_allclose(np.array(data["values"]["norm"]).T, expected.stat("norm"), rtol=1e-6)
    np.testing.assert_allclose(np.array(data["values"]["update_ratio"]).T, expected.stat("update_ratio"), rtol=1e-6)


def test_a_preview_is_a_sample_of_the_logged_steps_read_without_diagnosing(client, monkeypatch):
    """`samples=N`: at most N logged steps (the last among them) with their values as logged, for
    the tab to draw while the whole run is read and diagnosed; the run is not diagnosed for it."""
    full = client.json(f"{ROUTE}/timeline?run={NAN}&kind=gradients&stats=l2,nan")
    monkeypatch.setattr(plugin.engine, "diagnose", lambda data: pytest.fail("a preview diagnosed the run"))
    preview = client.json(f"{ROUTE}/timeline?run={NAN}&kind=gradients&stats=l2,nan&samples=20")
    assert 2 <= len(preview["steps"]) <= 20 and preview["steps"][-1] == full["steps"][-1]
    at = [full["steps"].index(step) for step in preview["steps"]]
    assert at == sorted(at)
    for stat in ("l2", "nan"):
        assert [[row[i] for i in at] for row in full["values"][stat]] == preview["values"][stat]
    thinned = client.json(f"{ROUTE}/timeline?run={NAN}&kind=gradients&stats=l2,nan&samples=20&max_points=10")
    assert len(thinned["steps"]) <= 10


def test_nonfinite_values_are_json_strings_and_survive_decimation(client):
    full = client.json(f"{ROUTE}/timeline?run={NAN}&kind=gradients")
    assert full["values"]["l2"][0][NAN_STEP] == "NaN"
    small = client.json(f"{ROUTE}/timeline?run={NAN}&kind=gradients&max_points=20")
    assert len(small["steps"]) <= 20 and NAN_STEP in small["steps"]
    assert small["values"]["l2"][0][small["steps"].index(NAN_STEP)] == "NaN"
    assert small["steps"][0] == 0 and small["steps"][-1] == STEPS - 1
    loss = client.json(f"{ROUTE}/timeline?run={NAN}&kind=loss&max_points=10")
    assert loss["values"]["value"][0][loss["steps"].index(NAN_STEP)] == "Infinity"


def test_thinned_timelines_keep_every_step_a_cause_names(client):
    """The hostile run's dead ReLUs start at step 5 of its 30 loss steps: no bucket's edge when they
    are thinned to 6 points, yet kept (as the NaN run's step 120 is)."""
    for run in (HOSTILE_RUN, NAN):
        events = client.json(f"{ROUTE}/events?run={urllib.parse.quote(run)}")["events"]
        named = {step for e in events for step in (e["first_step"], e["last_step"])}
        loss = client.json(f"{ROUTE}/timeline?run={urllib.parse.quote(run)}&kind=loss&max_points=6")
        assert events and named <= set(loss["steps"]) and len(loss["steps"]) <= 6, run


def test_step_rewind_keeps_the_latest_write(client):
    data = client.json(f"{ROUTE}/timeline?run={REWIND}&kind=loss&stats=value")
    assert data["steps"] == list(range(90))  # the restart at step 60 replaced every later step
    values = data["values"]["value"][0]
    assert values[60:90] == [REWOUND_LOSS] * 30
    assert REWOUND_LOSS not in values[:60]


def test_timeline_is_gzipped_for_clients_that_accept_it(client):
    url = f"{ROUTE}/timeline?run={HEALTHY}&kind=gradients&max_points=50"
    plain = client.get(url)
    zipped = client.client.get(url, headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in plain.headers and zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.get_data()) == plain.get_data()
    assert int(plain.headers["Content-Length"]) == len(plain.get_data())


@pytest.mark.parametrize("query", ["kind=gradients&max_points=20&stats=l2,nan", "kind=loss", "kind=weights"])
def test_binary_timeline_is_the_json_timeline_as_float32_columns(client, query):
    """The tab's `format=binary`: the same steps, rows, stats and (unrounded) values, NaN/Inf native,
    as an uncompressed octet stream; asked after the JSON form, it is not that form's cached body."""
    url = f"{ROUTE}/timeline?run={NAN}&{query}"
    as_json = client.json(url)
    response = client.client.get(f"{url}&format=binary", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert "Content-Encoding" not in response.headers
    sent = binary_timeline.decode(response.get_data())
    assert {k: v for k, v in sent.items() if k != "values"} == {k: v for k, v in as_json.items() if k != "values"}
    for stat, rows in sent["values"].items():
        decoded = [[json_numbers.parse(v) for v in row] for row in as_json["values"][stat]]
        np.testing.assert_allclose(rows, decoded, rtol=1e-6)
    json_nan = any(v == "NaN" for rows in as_json["values"].values() for row in rows for v in row)
    assert any(np.isnan(rows).any() for rows in sent["values"].values()) == json_nan
    assert json_nan or "gradients" not in query  # the NaN run's gradients hold NaN steps


def test_hostile_layer_name_is_returned_as_plain_json_data(client):
    response = client.get(f"{ROUTE}/timeline?run={HOSTILE_RUN}&kind=activations")
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    data = _strict_json(response.get_data())
    assert data["rows"][0]["name"] == HOSTILE and data["rows"][0]["layer"] == HOSTILE
    assert client.json(f"{ROUTE}/timeline?run={HOSTILE_RUN}&kind=gradients")["rows"][0]["name"] == f"{HOSTILE}/kernel"
    events = client.json(f"{ROUTE}/events?run={HOSTILE_RUN}")["events"]
    assert [event["layer"] for event in events if event["kind"] == "dead_relu"] == [HOSTILE]


def test_events_are_exactly_the_cli_report(client, logdir, capsys):
    # BROKEN_RUNS' damaged event files make the report incomplete: exit status 2, the good runs reported.
    assert cli.main(["report", str(logdir), "--json"]) == report_cli.EXIT_UNUSABLE
    report = json.loads(capsys.readouterr().out)["runs"]
    for run in GOOD_RUNS:
        served = client.json(f"{ROUTE}/events?run={run}")
        assert set(served) == {"events", "checked", "skipped"}
        assert served == report[run], run
    assert any(event["kind"] == "nan_inf" for event in report[NAN]["events"])


@pytest.mark.parametrize(
    "query, status",
    [
        ("timeline", 400),
        ("timeline?run=healthy", 400),
        ("timeline?kind=loss", 400),
        ("timeline?run=&kind=loss", 400),
        ("timeline?run=healthy&kind=bogus", 400),
        ("timeline?run=healthy&kind=loss&max_points=abc", 400),
        ("timeline?run=healthy&kind=loss&max_points=1", 400),
        ("timeline?run=healthy&kind=loss&max_points=-5", 400),
        ("timeline?run=healthy&kind=loss&max_points=1e3", 400),
        ("timeline?run=healthy&kind=loss&stats=bogus", 400),
        ("timeline?run=healthy&kind=loss&stats=,,", 400),
        ("timeline?run=healthy&kind=loss&format=xml", 400),
        ("timeline?run=healthy&kind=loss&samples=0", 400),
        ("timeline?run=healthy&kind=loss&samples=abc", 400),
        ("timeline?run=healthy&kind=loss&samples=3", 200),
        ("timeline?run=no_such_run&kind=loss", 404),
        ("timeline?run=../../etc/passwd&kind=loss", 404),
        ("timeline?run=%ff%00&kind=loss", 404),
        ("timeline?run=healthy&kind=%ff", 400),
        ("timeline?run=healthy&kind=loss&max_points=99999999999999999999999", 200),
        ("timeline?run=healthy&kind=backward_time", 404),  # a kind this run did not log
        ("events", 400),
        ("events?run=", 400),
        ("events?run=no_such_run", 404),
        ("report", 400),
        ("report?run=", 400),
        ("report?run=no_such_run", 404),
    ],
)
def test_arguments_are_validated_with_a_clear_status(client, query, status):
    response = client.get(f"{ROUTE}/{query}")
    assert response.status_code == status, response.get_data()
    assert response.get_data().strip(), "every answer, also an error, has a body"


@pytest.mark.parametrize(
    "path",
    [
        "/plugin.py",
        "/__init__.py",
        "/static/index.js",
        "/index.js/../plugin.py",
        "/..%2fplugin.py",
        "/%2e%2e/%2e%2e/setup.py",
        "/index.js%00.py",
        "/../../../../etc/passwd",
    ],
)
def test_paths_outside_the_static_allow_list_are_not_found(client, path):
    response = client.get(ROUTE + path)
    assert response.status_code == 404, (path, response.get_data()[:200])


def test_broken_event_files_never_cause_a_server_error(client):
    for run in BROKEN_RUNS:
        for query in (f"events?run={run}", *(f"timeline?run={run}&kind={kind}" for kind in KIND_STATS)):
            response = client.get(f"{ROUTE}/{query}")
            assert response.status_code in (200, 404), (query, response.status_code, response.get_data()[:300])
    assert client.json(f"{ROUTE}/timeline?run={HEALTHY}&kind=loss")["steps"] == list(range(STEPS))


def _overview(get_json) -> dict:
    """The overview once nothing is pending (what its time budget did not cover comes as pending)."""
    for _ in range(100):
        overview = get_json(f"{ROUTE}/overview")
        if not overview["pending"]:
            return overview
    raise AssertionError(f"still pending after 100 requests: {overview}")


def test_overview_sums_up_every_run_in_one_route(client):
    overview = _overview(client.json)
    lines = {line["run"]: line for line in overview["runs"]}
    assert [line["run"] for line in overview["runs"]] == client.json(f"{ROUTE}/runs")["runs"]
    tensorboard_runs = client.json("/data/runs")  # TensorBoard's run selector's order gives its colours
    for run in GOOD_RUNS:
        line, events = lines[run], client.json(f"{ROUTE}/events?run={run}")["events"]
        assert line["events"] == len(events)
        assert line["counts"] == {s: sum(e["severity"] == s for e in events) for s in ("info", "warning", "error")}
        assert line["color"] == tensorboard_runs.index(run)
        assert line["damaged"] == []
    assert lines[NAN]["worst"] == {
        "id": "nan_inf:run:120",
        "severity": "error",
        "kind": "nan_inf",
        "layer": None,
        "first_step": NAN_STEP,
    }
    first = f"first error NaN/Inf values (nan_inf) in the run at step {NAN_STEP}"
    assert lines[NAN]["summary"] == f"1 event: 1 error; {first}"
    assert lines[HOSTILE_RUN]["worst"]["layer"] == HOSTILE and lines[HEALTHY]["worst"] is None
    # Damaged files are named on their run's line (or under `skipped` if the loader found no gradcause data).
    damaged = {d["run"]: d for line in [*overview["runs"], *overview["skipped"]] for d in line["damaged"]}
    assert set(damaged) == set(BROKEN_RUNS)
    truncated = damaged[TRUNCATED]
    assert truncated["problem"] == "truncated" and truncated["last_step"] == 39
    assert Path(truncated["path"]).parent.name == TRUNCATED
    assert truncated["text"].startswith(f"{truncated['path']}: truncated at byte {truncated['offset']:,}")
    assert damaged[CORRUPT]["problem"] == "corrupt"
    assert SCALARS_ONLY in [s["run"] for s in overview["skipped"]] and SCALARS_ONLY not in lines
    assert overview["damage_checked"] is True


def test_overview_sends_the_runs_it_had_no_time_to_diagnose_as_pending(logdir):
    """A first open of many runs paints at once: runs past the time budget come as pending lines."""
    provider = reader.logdir_provider(str(logdir))
    direct = plugin.GradCausePlugin(base_plugin.TBContext(data_provider=provider, logdir=str(logdir)))
    ctx = context.RequestContext()
    rushed = direct.overview_impl(ctx, "", budget_s=0)
    # Every run pending, and every event file old enough to check (the damaged ones at least) unchecked.
    _, rested = damage.DamageCheck(str(logdir)).damaged(deadline=-1)
    assert rested >= len(BROKEN_RUNS) and rushed["pending"] == len(rushed["runs"]) + rested
    assert all(line["pending"] and line["worst"] is None and not line["damaged"] for line in rushed["runs"])
    full = direct.overview_impl(ctx, "", budget_s=600)  # the default 0.7 s may not cover them all under load
    assert full["pending"] == 0 and not any(line.get("pending") for line in full["runs"])
    assert {d["run"] for line in full["runs"] for d in line["damaged"]} <= set(BROKEN_RUNS)
    assert direct.overview_impl(ctx, "", budget_s=0) == full  # diagnosed runs and checked files are cached


@pytest.mark.parametrize("run", [NAN, HOSTILE_RUN, TRUNCATED])
def test_report_is_the_cli_markdown_of_that_run(client, logdir, capsys, run):
    if run not in client.json(f"{ROUTE}/runs")["runs"]:
        pytest.skip(f"this loader reads no gradcause data from {run}")
    cli.main(["report", str(logdir), "--run", run, "--format", "markdown"])
    printed = capsys.readouterr().out
    response = client.get(f"{ROUTE}/report?run={run}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/markdown; charset=utf-8"
    assert response.get_data(as_text=True) == printed
    assert ("Damaged event file" in printed) == (run == TRUNCATED)


def test_damage_is_reported_once_the_file_has_rested(tmp_path):
    """A file that ends mid-record while its writer may still flush the rest is not called damaged yet."""
    path = Path(synthetic.write_run(str(tmp_path), "live", synthetic.healthy_run(synthetic.mlp(2), 20)))
    (event_file,) = path.iterdir()
    event_file.write_bytes(event_file.read_bytes()[:-20])
    app = Client(tmp_path, "false")

    def damaged() -> list[dict]:
        return [d for line in _overview(app.json)["runs"] for d in line["damaged"]]

    assert damaged() == []
    rested = time.time() - damage.SETTLE_SECONDS - 1
    os.utime(event_file, (rested, rested))
    assert [(d["run"], d["problem"]) for d in damaged()] == [("live", "truncated")]
    assert "Damaged event file" in app.get(f"{ROUTE}/report?run=live").get_data(as_text=True)


def test_remote_or_missing_logdirs_are_not_checked_for_damage(tmp_path):
    for logdir in ("gs://bucket/logs", "", None, str(tmp_path / "missing")):
        check = damage.DamageCheck(logdir)
        assert not check.available and check.damaged() == ([], 0)
    assert damage.DamageCheck(str(tmp_path)).available


def test_static_files_come_only_from_the_allow_list(tmp_path, monkeypatch):
    (tmp_path / "index.js").write_text("export function render() {}")
    (tmp_path / "index.css").write_text("body {}")
    (tmp_path / "secret.txt").write_text("no")
    monkeypatch.setattr(plugin, "STATIC_DIR", tmp_path)
    app = Client(tmp_path / "empty_logdir", "false")

    js = app.get(f"{ROUTE}/index.js")
    assert js.status_code == 200 and js.get_data() == b"export function render() {}"
    assert js.headers["Content-Type"].startswith("text/javascript")
    assert app.get(f"{ROUTE}/index.css").headers["Content-Type"].startswith("text/css")
    assert app.get(f"{ROUTE}/secret.txt").status_code == 404
    assert app.get(f"{ROUTE}/index.js.map").status_code == 404  # allowed, but not built
    assert app.json("/data/plugins_listing")["gradcause"]["enabled"] is False
    assert app.json(f"{ROUTE}/runs") == {"runs": []}
    assert app.json(f"{ROUTE}/overview") == {"runs": [], "skipped": [], "damage_checked": False, "pending": 0}


def test_parallel_first_requests_read_the_run_once(logdir, monkeypatch):
    reads = []
    read_run = plugin.reader.read_run
    monkeypatch.setattr(plugin.reader, "read_run", lambda *args: reads.append(args[-1]) or read_run(*args))
    app = Client(logdir, "false")
    urls = [f"{ROUTE}/events?run={HEALTHY}"] + [f"{ROUTE}/timeline?run={HEALTHY}&kind={kind}" for kind in KIND_STATS]
    with concurrent.futures.ThreadPoolExecutor(len(urls)) as pool:
        statuses = list(pool.map(lambda url: app.get(url).status_code, urls))
    # An MLP has no RNN rows, and a healthy run no non-finite step to replay: those two kinds are absent.
    expected = [200] + [404 if kind in ("backward_time", "nan_origin") else 200 for kind in KIND_STATS]
    assert statuses == expected
    assert reads == [HEALTHY]


def test_results_follow_new_data_after_a_reload(tmp_path):
    data = synthetic.healthy_run(synthetic.mlp(2), 30, seed=3)
    synthetic.write_run(str(tmp_path), "live", data)
    app = Client(tmp_path, "false")
    before = app.json(f"{ROUTE}/timeline?run=live&kind=loss")
    assert before["steps"] == list(range(30))
    assert app.json(f"{ROUTE}/events?run=live")["events"] == []
    (before_line,) = app.json(f"{ROUTE}/overview")["runs"]

    rows = data["gradients"].rows
    bad = np.array(data["gradients"].values[-1])
    bad[:, KIND_STATS["gradients"].index("l2")] = np.nan
    bad[:, KIND_STATS["gradients"].index("nan")] = 10
    with synthetic.RunWriter(str(tmp_path / "live"), wall_time=1.7e9 + 100) as writer:
        for step in range(30, 40):
            writer.write("loss", step, data["loss"].rows, data["loss"].values[-1], wall_time=1.7e9 + 100 + step)
        writer.write("gradients", 39, rows, bad, wall_time=1.7e9 + 200)
    app.multiplexer.Reload()

    assert app.json(f"{ROUTE}/timeline?run=live&kind=loss")["steps"] == list(range(40))
    assert any(event["kind"] == "nan_inf" for event in app.json(f"{ROUTE}/events?run=live")["events"])
    (after_line,) = app.json(f"{ROUTE}/overview")["runs"]
    assert after_line["signature"] != before_line["signature"]  # the tab reloads the run's panel
    assert after_line["worst"]["kind"] == "nan_inf" and before_line["worst"] is None


def test_is_active_only_with_gradcause_data(logdir, tmp_path):
    def active(path) -> bool:
        context = base_plugin.TBContext(data_provider=reader.logdir_provider(str(path)))
        return plugin.GradCausePlugin(context).is_active()

    (tmp_path / "other").mkdir()
    assert active(logdir) is True
    assert active(tmp_path / "other") is False


def test_impl_methods_give_what_the_routes_serve(client, logdir):
    """The routes are thin: the `*_impl` methods the tests and other callers use give the same answers."""
    direct = plugin.GradCausePlugin(base_plugin.TBContext(data_provider=reader.logdir_provider(str(logdir))))
    ctx = context.RequestContext()
    assert set(GOOD_RUNS) <= set(direct.runs_impl(ctx, ""))
    assert direct.events_impl(ctx, "", NAN) == client.json(f"{ROUTE}/events?run={NAN}")
    body = gzip.decompress(direct.timeline_impl(ctx, "", NAN, "gradients", 50, ("l2", "nan")))
    assert _strict_json(body) == client.json(f"{ROUTE}/timeline?run={NAN}&kind=gradients&max_points=50&stats=l2,nan")
