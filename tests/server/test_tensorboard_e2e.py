"""End to end over HTTP: a real `tensorboard` process with the plugin, with both of its loaders."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from tb_gradcause import cli
from tb_gradcause.metadata import KIND_STATS
from tb_gradcause.plugin import gradcause_plugin as plugin
from tb_gradcause.testing import synthetic
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
    STEPS,
    TRUNCATED,
    wait_until_served,
    write_logdir,
)
from tests.support.tensorboard_server import tensorboard_server

ROUTE = "/data/plugin/gradcause"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    path = tmp_path_factory.mktemp("logs")
    return path, write_logdir(path)


@pytest.fixture(scope="module")
def logdir(written):
    return written[0]


@pytest.fixture(scope="module", params=["false", "true"], ids=["python_loader", "rustboard"])
def tb(request, written):
    with tensorboard_server(written[0], load_fast=request.param) as server:
        wait_until_served(server.get_json, written[1])
        yield server


def _wait_for(condition, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)
    return result


def test_the_tab_is_registered_and_its_module_served(tb):
    listing = tb.get_json("/data/plugins_listing")["gradcause"]
    assert listing["enabled"] is True and listing["tab_name"] == "Gradient Causes"
    assert listing["loading_mechanism"]["module_path"] == f"{ROUTE}/index.js"
    assert (plugin.STATIC_DIR / "index.js").is_file(), "build the frontend: cd frontend && npm ci && npm run build"
    status, headers, body = tb.get(f"{ROUTE}/index.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert body == (plugin.STATIC_DIR / "index.js").read_bytes()
    assert b"render" in body


def test_every_logged_step_is_served(tb):
    data = tb.get_json(f"{ROUTE}/timeline?run={HEALTHY}&kind=activations")
    assert data["steps"] == list(range(STEPS))
    assert all(len(row) == STEPS for row in data["values"]["dead_frac"])


def test_nan_step_survives_decimation_over_http(tb):
    data = tb.get_json(f"{ROUTE}/timeline?run={NAN}&kind=gradients&max_points=16&stats=l2,nan")
    assert NAN_STEP in data["steps"] and len(data["steps"]) <= 16
    assert data["values"]["l2"][0][data["steps"].index(NAN_STEP)] == "NaN"


def test_binary_nan_step_survives_decimation_over_http(tb):
    """The tab's form: the same steps as the JSON form, the NaN step's norm a NaN float."""
    query = f"{ROUTE}/timeline?run={NAN}&kind=gradients&max_points=16&stats=l2,nan"
    status, headers, body = tb.get(f"{query}&format=binary")
    assert status == 200 and headers["Content-Type"] == "application/octet-stream"
    data = binary_timeline.decode(body)
    assert data["steps"] == tb.get_json(query)["steps"] and NAN_STEP in data["steps"]
    assert np.isnan(data["values"]["l2"][0][data["steps"].index(NAN_STEP)])


def test_events_agree_with_the_cli(tb, logdir, capsys):
    assert cli.main(["report", str(logdir), "--json"]) == 2  # the logdir holds damaged event files
    report = json.loads(capsys.readouterr().out)
    assert {d["run"] for d in report["damaged"]} >= {TRUNCATED, CORRUPT}
    results = report["runs"]
    for run in GOOD_RUNS:
        assert tb.get_json(f"{ROUTE}/events?run={run}") == results[run]


def test_hostile_layer_name_is_json_data(tb):
    status, headers, body = tb.get(f"{ROUTE}/timeline?run={HOSTILE_RUN}&kind=backward")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert json.loads(body)["rows"][0]["layer"] == HOSTILE
    status, headers, body = tb.get(f"{ROUTE}/events?run={HOSTILE_RUN}")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert HOSTILE in [event["layer"] for event in json.loads(body)["events"]]


@pytest.mark.parametrize(
    "path, status",
    [
        ("/timeline?run=healthy", 400),
        ("/timeline?run=healthy&kind=loss&max_points=zero", 400),
        ("/events", 400),
        ("/events?run=nope", 404),
        ("/timeline?run=nope&kind=loss", 404),
        ("/../../../../etc/passwd", 404),
        ("/%2e%2e/%2e%2e/%2e%2e/etc/passwd", 404),
        ("/..%2f..%2fplugin.py", 404),
        ("/index.js/..%2fplugin.py", 404),
        ("/plugin.py", 404),
    ],
)
def test_bad_requests_are_client_errors(tb, path, status):
    code, _, body = tb.get(ROUTE + path)
    assert code == status, body[:300]


def test_broken_runs_do_not_break_the_server(tb):
    for run in BROKEN_RUNS:
        for query in (f"events?run={run}", *(f"timeline?run={run}&kind={kind}" for kind in KIND_STATS)):
            code, _, body = tb.get(f"{ROUTE}/{query}")
            assert code in (200, 404), (query, code, body[:300])
    assert len(tb.get_json(f"{ROUTE}/timeline?run={HEALTHY}&kind=loss")["steps"]) == STEPS


def test_a_run_written_while_serving_appears_and_updates(tb, logdir, request):
    run = f"live_{request.node.callspec.id}"
    data = synthetic.healthy_run(synthetic.mlp(2), 20, seed=7)
    path = synthetic.write_run(str(logdir), run, data)
    _wait_for(lambda: run in tb.get_json(f"{ROUTE}/runs")["runs"], "the new run")
    _wait_for(lambda: len(tb.get_json(f"{ROUTE}/timeline?run={run}&kind=loss")["steps"]) == 20, "its steps")
    assert tb.get_json(f"{ROUTE}/events?run={run}")["events"] == []

    loss = data["loss"]
    with synthetic.RunWriter(path, wall_time=1.7e9 + 500) as writer:
        for step in range(20, 30):
            value = np.array(loss.values[-1])
            if step == 29:
                value[0, loss.stats.index("value")] = np.nan
            writer.write("loss", step, loss.rows, value, wall_time=1.7e9 + 500 + step)
    url = f"{ROUTE}/timeline?run={run}&kind=loss"
    _wait_for(lambda: len(tb.get_json(url)["steps"]) == 30, "the appended steps")
    assert tb.get_json(url)["steps"] == list(range(30))
    events = _wait_for(lambda: tb.get_json(f"{ROUTE}/events?run={run}")["events"], "a cause after the NaN loss")
    assert any(event["kind"] == "nan_inf" and event["first_step"] == 29 for event in events)
