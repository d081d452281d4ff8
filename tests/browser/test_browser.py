"""The "Gradient Causes" tab in headless Chromium against a real TensorBoard process.

Synthetic runs (tb_gradcause.testing.synthetic, no TensorFlow) give known problems: `chain` has
gradients exploding in dense_1 and then a NaN loss (a cause chain), HOSTILE_RUN (named like an HTML
injection) has a layer named like one too whose forward output turns NaN, `healthy` has nothing,
`after_nan` goes on training long after its gradients turn NaN, `blowup` has a loss growing 33
decades without NaN, TRUNCATED's event file ends mid-record and GARBAGE holds random bytes. The tab
must list every run in an overview (problem runs first, in TensorBoard's run colours, the selection
in the URL), show exactly what the `events` route says, mark the NaN steps as gaps (never as 0),
never turn a name into HTML, draw causes in a lane of their own, open where it matters, focus and
zoom on a card click, put a banner on a damaged run, copy the CLI's report, and follow TensorBoard's
reloads and dark mode. Screenshots go to tests/artifacts/ (the README's docs/screenshots/ with
GRADCAUSE_UPDATE_SCREENSHOTS=1). The bundle must be rebuildable byte for byte from frontend/.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import time
import urllib.parse

import numpy as np
import pytest

from tb_gradcause.analysis.reader import Series
from tb_gradcause.testing import synthetic
from tests.support import chromium
from tests.support.tensorboard_server import tensorboard_server

playwright_sync = pytest.importorskip("playwright.sync_api")

ROOT = pathlib.Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"
BUNDLE = ROOT / "tb_gradcause" / "plugin" / "static" / "index.js"
# The README's pictures are refreshed only on request; test runs leave the tree as it was.
SCREENSHOTS = ROOT / ("docs/screenshots" if os.environ.get("GRADCAUSE_UPDATE_SCREENSHOTS") else "tests/artifacts")
SCREENSHOTS.mkdir(parents=True, exist_ok=True)
HOSTILE = 'x<img src=x onerror="window.__pwned=1">'
HOSTILE_RUN = 'run<img src=x onerror="window.__pwned=2">'
STEPS = 80
NAN_STEP = 60

pytestmark = pytest.mark.timeout(300)


def _chain_run() -> dict[str, Series]:
    """dense_1's gradients and updates grow 1e9-fold over steps 30-59, then the loss is NaN."""
    data = synthetic.healthy_run(synthetic.mlp(4), STEPS, seed=5)
    grow = np.logspace(0, 9, NAN_STEP - 30)
    for kind, names in (("gradients", ("l2", "max_abs")), ("weights", ("update_norm", "update_ratio"))):
        for r in data[kind].rows_of("dense_1"):
            for name in names:
                data[kind].stat(name)[30:NAN_STEP, r] *= grow
        data[kind].stat("nan")[NAN_STEP:, :] = 10
    data["activations"].stat("nan")[NAN_STEP + 1 :, :] = 10
    data["loss"].stat("value")[30:NAN_STEP, 0] *= np.logspace(0, 3, NAN_STEP - 30)
    data["loss"].stat("value")[NAN_STEP:, 0] = np.nan
    return data


def _hostile_run() -> dict[str, Series]:
    """The layer named HOSTILE outputs NaN from NAN_STEP on; so do all gradients and the loss."""
    layers = [synthetic.Layer("dense_0"), synthetic.Layer(HOSTILE), synthetic.Layer("out", 1, "sigmoid")]
    data = synthetic.healthy_run(layers, STEPS, seed=3)
    for r in data["activations"].rows_of(HOSTILE):
        data["activations"].stat("nan")[NAN_STEP:, r] = 32
    data["gradients"].stat("nan")[NAN_STEP:, :] = 10
    data["loss"].stat("value")[NAN_STEP:, 0] = np.nan
    return data


AFTER_NAN_STEPS = 400
AFTER_NAN_STEP = 40


def _after_nan_run() -> dict[str, Series]:
    """Gradients NaN from AFTER_NAN_STEP on (their finite part empty: l2 = 0, as logged), the loss
    too, and training goes on to AFTER_NAN_STEPS (Keras' default); dense_2's gradient is exactly 0
    over steps 0-9 (a true zero, for the log axis)."""
    data = synthetic.healthy_run(synthetic.mlp(3), AFTER_NAN_STEPS, seed=8)
    grads = data["gradients"]
    grads.stat("nan")[AFTER_NAN_STEP:, :] = 10
    grads.stat("l2")[AFTER_NAN_STEP:, :] = 0.0
    for r in grads.rows_of("dense_2"):
        grads.stat("l2")[:10, r] = 0.0
    data["loss"].stat("value")[AFTER_NAN_STEP:, 0] = np.nan
    return data


def _blowup_run() -> dict[str, Series]:
    """The loss grows from ~1 to ~1e33 over the run, finite throughout."""
    data = synthetic.healthy_run(synthetic.mlp(3), STEPS, seed=9)
    data["loss"].stat("value")[:, 0] = np.logspace(0, 33, STEPS)
    return data


INPUT_FEATURES = (5, 6, 7)


def _evidence_run() -> dict[str, Series]:
    """A SimpleRNN whose backward signal fades 1e4-fold from the last time position to the first,
    input features 5-7 a thousand times larger than the others, and a loss that does not fall: an
    input_scale and a vanishing-along-time cause, whose evidence is in `inputs` and `backward_time`."""
    layers = [
        synthetic.Layer("rnn", 16, "tanh", "SimpleRNN", recurrent=True),
        synthetic.Layer("dense_1", 16),
        synthetic.Layer("out", 1, "sigmoid"),
    ]
    data = synthetic.healthy_run(layers, STEPS, seed=11)
    for i in range(8):
        data["backward_time"].stat(f"t_{i}")[:] *= 1e-4 ** (i / 7)
    for name in ("mean", "std", "min", "max"):
        data["inputs"].stat(name)[:, list(INPUT_FEATURES)] *= 1000
    loss = data["loss"].stat("value")
    loss[:] = 0.69 * (1 + 0.02 * np.random.default_rng(0).standard_normal(loss.shape))
    return data


TRUNCATED = "truncated"
GARBAGE = "garbage"

RUNS = {
    "chain": _chain_run,
    HOSTILE_RUN: _hostile_run,
    "healthy": lambda: synthetic.healthy_run(synthetic.mlp(5), STEPS, seed=4),
    "deep": lambda: synthetic.healthy_run(synthetic.mlp(40), 30, seed=7),
    "after_nan": _after_nan_run,
    "blowup": _blowup_run,
    "evidence": _evidence_run,
    TRUNCATED: lambda: synthetic.healthy_run(synthetic.mlp(2), 30, seed=2),
}


def _rested(path: pathlib.Path) -> None:
    """Last written an hour ago: a damaged file the tab reports (plugin/damage.py waits for writers)."""
    ago = time.time() - 3600
    os.utime(path, (ago, ago))


@pytest.fixture(scope="module")
def logdir(tmp_path_factory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("browser_logs")
    for name, make in RUNS.items():
        synthetic.write_run(str(path), name, make())
    (event_file,) = (path / TRUNCATED).iterdir()
    event_file.write_bytes(event_file.read_bytes()[:-37])
    _rested(event_file)
    garbage = path / GARBAGE / "events.out.tfevents.1700000000.garbage"
    garbage.parent.mkdir()
    garbage.write_bytes(np.random.default_rng(0).bytes(5000))
    _rested(garbage)
    return path


@pytest.fixture(scope="module")
def tb(logdir):
    with tensorboard_server(logdir, load_fast="true", runs=list(RUNS)) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    with playwright_sync.sync_playwright() as p:
        browser = chromium.launch(p)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"{e}\n{e.stack}"))  # the tab's iframe included
    yield page
    context.close()
    assert not errors


def _events(tb, run: str) -> list[dict]:
    return tb.get_json("/data/plugin/gradcause/events?" + urllib.parse.urlencode({"run": run}))["events"]


def _wait_for_run(server, matches, timeout_s: float = 120.0) -> str:
    """The first run the plugin lists that `matches` (the callback may write into a subdirectory)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [run for run in server.get_json("/data/plugin/gradcause/runs")["runs"] if matches(run)]
        if found:
            return found[0]
        time.sleep(0.5)
    raise AssertionError(f"no matching run listed\n{server.log()}")


def _tab(page, timeout_ms: int = 30_000):
    """The tab's iframe once it has finished loading (every run in the overview checked)."""
    deadline = timeout_ms
    while deadline > 0:
        for frame in page.frames:
            if (
                "plugin_entry.html?name=gradcause" in frame.url
                and frame.query_selector(".gc-root[data-state=ready]")
                and not frame.query_selector(".gc-run-line.gc-checking")
            ):
                return frame
        page.wait_for_timeout(100)
        deadline -= 100
    raise AssertionError(f"the tab did not load; frames: {[f.url for f in page.frames]}")


def _view_url(tb, runs: list[str], run_filter: str = "") -> str:
    """The tab's URL showing `runs`, as a shared link has it (TensorBoard's hash, `p.gradcause.*` entries)."""
    view = {"p.gradcause.runs": json.dumps(runs), **({"p.gradcause.filter": run_filter} if run_filter else {})}
    return tb.tab_url + "".join(f"&{k}={urllib.parse.quote(v, safe='')}" for k, v in view.items())


def _open(page, tb, runs: list[str]):
    """Open TensorBoard on the tab showing exactly `runs` (from the URL, as a shared link would)."""
    page.goto("about:blank")  # a new page load, also when only the hash differs
    page.goto(_view_url(tb, runs))
    frame = _tab(page)
    for run in runs:
        frame.wait_for_selector(f".gc-run[data-run={json.dumps(run)}] .gc-chart")
    return frame


def _panels(frame) -> list[str]:
    return [panel.get_attribute("data-run") for panel in frame.query_selector_all(".gc-run")]


def _url_view(page) -> dict:
    """The `p.gradcause.*` entries of TensorBoard's URL."""
    items = (item.split("=", 1) for item in urllib.parse.urlsplit(page.url).fragment.split("&") if "=" in item)
    return {urllib.parse.unquote(k): urllib.parse.unquote(v) for k, v in items if k.startswith("p.gradcause.")}


def _run_panel(frame, run: str):
    return next(p for p in frame.query_selector_all(".gc-run") if p.get_attribute("data-run") == run)


def _charts(frame) -> list:
    """The timeline charts (loss, gradient norm, heatmap, activation health, update ratio), not the events
    lane nor the evidence charts loaded on demand."""
    return frame.query_selector_all(".gc-chart:not(.gc-events):not(.gc-lazy)")


def _bar_fraction(frame, event_id: str) -> tuple[float, float]:
    """(left, width) of an event's bar in the events lane, as fractions of the plot width."""
    return frame.evaluate(
        """id => {
            const bar = [...document.querySelectorAll('.gc-lane-bar')].find(b => b.dataset.eventId === id);
            const w = bar.parentElement.clientWidth;
            return [bar.offsetLeft / w, bar.offsetWidth / w];
        }""",
        event_id,
    )


def _marker_fraction(chart) -> tuple[float, float]:
    """(left, width) of a chart's first NaN/Inf marker, as fractions of the plot width."""
    return chart.query_selector(".gc-marker").evaluate(
        "m => [m.offsetLeft / m.parentElement.clientWidth, m.offsetWidth / m.parentElement.clientWidth]"
    )


def _opened_end(first_bad: int, last_step: int) -> int:
    """The last step a run opens on (series.ts openingRange, every step logged from step 0)."""
    return min(last_step, max(first_bad + 3, first_bad + -(-first_bad // 10)))


def _unzoomed_fraction(step: float, last_step: int) -> float:
    """Where `step` sits across a plot showing all steps 0..last_step (charts.ts padRange's margin)."""
    margin = max(0.5, last_step * 0.01)
    return (step + margin) / (last_step + 2 * margin)


def _y_ticks(chart) -> list[str]:
    return chart.query_selector(".uplot").get_attribute("data-y-ticks").split()


def test_cards_show_the_events_route_in_step_order(tb, page):
    events = _events(tb, "chain")
    assert {e["kind"] for e in events} >= {"exploding_gradient", "nan_inf"}
    frame = _open(page, tb, ["chain"])
    cards = frame.query_selector_all(".gc-card")
    assert [c.get_attribute("data-event-id") for c in cards] == [
        e["id"] for e in sorted(events, key=lambda e: e["first_step"])
    ]
    for card in cards:
        event = next(e for e in events if e["id"] == card.get_attribute("data-event-id"))
        assert card.query_selector(".gc-severity").text_content() == event["severity"]
        assert card.query_selector(".gc-kind").text_content() == event["kind"]
        assert card.query_selector(".gc-layer").text_content() == (event["layer"] or "whole run")
        assert card.query_selector(".gc-title").text_content() == event["title"]
        assert card.query_selector(".gc-advice").text_content() == event["advice"]
        # Evidence in plain words: each row says what was measured (its label, and the event's note);
        # the metric's identifier is only its tooltip.
        rows = card.query_selector_all(".gc-evidence tbody tr")
        assert [row.get_attribute("data-metric") for row in rows] == [ev["metric"] for ev in event["evidence"]]
        for row, ev in zip(rows, event["evidence"]):
            label = row.query_selector("td")
            assert label.text_content() == (f"{ev['label']} ({ev['note']})" if ev["note"] else ev["label"])
            assert label.get_attribute("title") == ev["metric"] and ev["metric"] not in row.text_content()
        assert str(event["first_step"]) in card.query_selector(".gc-span").text_content()


def test_cause_chain_is_drawn_and_followable(tb, page):
    events = _events(tb, "chain")
    links = [(cause, e["id"]) for e in events for cause in e["caused_by"]]
    assert links, "the chain run should produce a caused_by link"
    frame = _open(page, tb, ["chain"])
    arrows = {
        (p.get_attribute("data-from"), p.get_attribute("data-to")) for p in frame.query_selector_all(".gc-chain-arrow")
    }
    assert arrows == set(links)
    cause, effect = links[0]
    effect_card = frame.query_selector(f'.gc-card[data-event-id="{effect}"]')
    effect_card.query_selector(f'.gc-chain-link[data-target="{cause}"]').click()
    assert "gc-selected" in frame.query_selector(f'.gc-card[data-event-id="{cause}"]').get_attribute("class")


def test_nan_steps_are_marked_on_every_chart(tb, page):
    frame = _open(page, tb, ["chain"])
    charts = _charts(frame)
    titles = [c.query_selector("h3").text_content() for c in charts]
    assert len(charts) == 5 and all(c.query_selector(".u-over") for c in charts), titles
    for chart, title in zip(charts, titles):
        markers = chart.query_selector_all(".gc-marker")
        assert markers, f"no NaN marker on {title!r}"
        assert {m.get_attribute("data-flag") for m in markers} == {"NaN"}
        assert markers[0].query_selector(".gc-marker-label").is_visible()
    # The loss chart's marker starts at the NaN step on the shared step axis, opened on [0, end].
    left, _ = _marker_fraction(charts[0])
    assert left == pytest.approx(NAN_STEP / _opened_end(NAN_STEP, STEPS - 1), abs=0.02)


def test_nan_steps_are_gaps_never_zero_and_log_axes_have_no_zero_tick(tb, page):
    """A NaN gradient's L2 over its finite elements (0 here, as logged) is not drawn as its value."""
    timeline = tb.get_json("/data/plugin/gradcause/timeline?run=after_nan&kind=gradients&stats=l2,nan")
    at = timeline["steps"].index(AFTER_NAN_STEP)
    assert {row[at] for row in timeline["values"]["l2"]} == {"NaN"}  # the route sends no number
    assert timeline["values"]["l2"][0][at - 1] != "NaN"
    frame = _open(page, tb, ["after_nan"])
    frame.click(".gc-run-head .gc-button")  # all steps
    charts = _charts(frame)
    grad = charts[1]
    # Hover the first NaN step: every layer reads NaN, none 0.
    over = grad.query_selector(".u-over")
    box = over.bounding_box()
    page.mouse.move(
        box["x"] + box["width"] * _unzoomed_fraction(AFTER_NAN_STEP + 5, AFTER_NAN_STEPS - 1),
        box["y"] + box["height"] - 2,
    )
    lines = [d.text_content() for d in over.query_selector_all(".gc-tooltip div")]
    assert lines[0] == f"step {AFTER_NAN_STEP + 5}", lines
    values = [line.split(": ")[1] for line in lines[1:] if line.startswith("dense_")]
    assert values and set(values) == {"NaN"}, lines
    # dense_2's true zeros sit on the bottom edge, said in the title; no log axis has a "0" tick.
    assert "0 drawn on the bottom edge" in grad.query_selector("h3").text_content()
    for chart in (grad, charts[4]):
        ticks = _y_ticks(chart)
        assert ticks and "0" not in ticks, ticks


def test_hover_shows_the_exact_value(tb, page):
    timeline = tb.get_json("/data/plugin/gradcause/timeline?run=chain&kind=loss")
    step = 10
    expected = timeline["values"]["value"][0][timeline["steps"].index(step)]
    frame = _open(page, tb, ["chain"])
    over = _charts(frame)[0].query_selector(".u-over")
    box = over.bounding_box()
    page.mouse.move(box["x"] + box["width"] * step / _opened_end(NAN_STEP, STEPS - 1), box["y"] + box["height"] * 0.9)
    lines = [d.text_content() for d in over.query_selector_all(".gc-tooltip div")]
    assert lines[0] == f"step {step}"
    label, value = lines[1].split(": ")
    # Written as every figure of the tab and the CLI is: 3 significant digits.
    assert label == "loss" and float(value) == pytest.approx(expected, rel=5e-3)


def test_hostile_layer_and_run_names_stay_text(tb, page):
    events = _events(tb, HOSTILE_RUN)
    assert any(e["layer"] == HOSTILE for e in events), events
    frame = _open(page, tb, [HOSTILE_RUN])
    assert frame.query_selector(".gc-run-head h2").text_content() == HOSTILE_RUN
    layers = [c.text_content() for c in frame.query_selector_all(".gc-card .gc-layer")]
    assert HOSTILE in layers
    card = next(
        c for c in frame.query_selector_all(".gc-card") if c.query_selector(".gc-layer").text_content() == HOSTILE
    )
    card.click()
    assert frame.query_selector(".gc-focus").text_content() == f"focused: {HOSTILE}"
    # Hover the hostile layer's heatmap row: its name shows in the tooltip, as text.
    heat = _charts(frame)[2].query_selector(".u-over")
    heat.scroll_into_view_if_needed()
    box = heat.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5)
    tooltip = heat.query_selector(".gc-tooltip")
    assert tooltip.is_visible() and HOSTILE in tooltip.text_content()
    assert frame.query_selector("img") is None
    assert frame.evaluate("window.__pwned") is None


def test_card_click_focuses_layer_and_steps_then_reset(tb, page):
    event = next(e for e in _events(tb, "chain") if e["kind"] == "exploding_gradient")
    frame = _open(page, tb, ["chain"])
    _, width_before = _bar_fraction(frame, event["id"])
    frame.click(f'.gc-card[data-event-id="{event["id"]}"]')
    assert "gc-selected" in frame.query_selector(f'.gc-card[data-event-id="{event["id"]}"]').get_attribute("class")
    assert frame.query_selector(".gc-focus").text_content() == f"focused: {event['layer']}"
    assert "gc-focused" in frame.query_selector(f'.gc-lane-bar[data-event-id="{event["id"]}"]').get_attribute("class")
    # Each chart shades the focused event's steps, and only those.
    for chart in _charts(frame):
        bands = [b for b in chart.query_selector_all(".gc-band") if b.is_visible()]
        assert [b.get_attribute("data-event-id") for b in bands] == [event["id"]]
    left, width = _bar_fraction(frame, event["id"])
    assert width > width_before * 1.3 and 0 < left < 0.5
    frame.click(".gc-run-head .gc-button")  # all steps
    full = (event["last_step"] - event["first_step"]) / (STEPS - 1)
    assert _bar_fraction(frame, event["id"])[1] == pytest.approx(full, abs=0.01)
    assert frame.query_selector(".gc-selected") is None
    assert not any(b.is_visible() for b in frame.query_selector_all(".gc-band"))


def test_causes_are_a_lane_of_their_own_above_the_charts(tb, page):
    events = _events(tb, "chain")
    frame = _open(page, tb, ["chain"])
    sections = frame.query_selector_all(".gc-chart")
    lane = sections[0]
    assert "gc-events" in lane.get_attribute("class")  # above every chart
    legend = [i.text_content() for i in lane.query_selector_all(".gc-legend-item")]
    assert legend == ["error", "warning", "info", "NaN/Inf steps"]
    bars = lane.query_selector_all(".gc-lane-bar")
    assert sorted(b.get_attribute("data-event-id") for b in bars) == sorted(e["id"] for e in events)
    for bar in bars:
        event = next(e for e in events if e["id"] == bar.get_attribute("data-event-id"))
        assert event["severity"] in bar.get_attribute("class").split()[1]
        assert bar.text_content().startswith(event["kind"])
    # The lane's error colour is the error card's border colour.
    colour = bars[0].evaluate("b => getComputedStyle(b).backgroundColor")
    card = frame.query_selector(f'.gc-card[data-event-id="{bars[0].get_attribute("data-event-id")}"]')
    assert colour == card.evaluate("c => getComputedStyle(c).borderLeftColor")
    # No chart carries event bars or bands of its own until one is focused.
    for chart in _charts(frame):
        assert not chart.query_selector(".gc-lane-bar")
        assert not any(b.is_visible() for b in chart.query_selector_all(".gc-band"))
    # A bar click selects its card.
    explosion = next(e for e in events if e["kind"] == "exploding_gradient")
    frame.click(f'.gc-lane-bar[data-event-id="{explosion["id"]}"]')
    assert "gc-selected" in frame.query_selector(f'.gc-card[data-event-id="{explosion["id"]}"]').get_attribute("class")


def test_a_run_that_trained_on_after_nan_opens_on_its_first_nan(tb, page):
    frame = _open(page, tb, ["after_nan"])
    loss = _charts(frame)[0]
    end = _opened_end(AFTER_NAN_STEP, AFTER_NAN_STEPS - 1)
    left, width = _marker_fraction(loss)
    assert left == pytest.approx(AFTER_NAN_STEP / end, abs=0.02)
    assert width < 0.15  # not 90 % of the width on NaN
    note = frame.query_selector(".gc-opening").text_content()
    assert f"first NaN/Inf at step {AFTER_NAN_STEP}" in note and f"steps 0–{end}" in note
    # A nan_inf card zooms to a few logged steps around the first NaN: it sits mid-chart, and the
    # note, which describes the opening view only, goes.
    nan_event = next(e for e in _events(tb, "after_nan") if e["kind"] == "nan_inf")
    assert nan_event["first_step"] == AFTER_NAN_STEP
    frame.click(f'.gc-card[data-event-id="{nan_event["id"]}"]')
    assert _marker_fraction(loss)[0] == pytest.approx(0.5, abs=0.02)
    frame.wait_for_selector(".gc-opening:empty", state="attached", timeout=5000)
    frame.click(".gc-run-head .gc-button")  # all steps: the NaN region is most of the run
    left, width = _marker_fraction(loss)
    assert left == pytest.approx(_unzoomed_fraction(AFTER_NAN_STEP, AFTER_NAN_STEPS - 1), abs=0.01)
    assert left + width == pytest.approx(_unzoomed_fraction(AFTER_NAN_STEPS - 1, AFTER_NAN_STEPS - 1), abs=0.01)


def _label_widths(frame, labels: list[str]) -> list[float]:
    """Pixel widths of tick labels in uPlot's axis font."""
    return frame.evaluate(
        """labels => {
            const ctx = document.createElement('canvas').getContext('2d');
            ctx.font = '12px system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif';
            return labels.map(l => ctx.measureText(l).width);
        }""",
        labels,
    )


def test_loss_axis_is_log_over_many_decades_with_a_toggle_and_compact_ticks(tb, page):
    def title(chart) -> str:
        return chart.query_selector("h3").evaluate("h => h.firstChild.textContent")

    def assert_compact(chart) -> list[str]:
        ticks = _y_ticks(chart)
        assert len(ticks) >= 3 and all(re.fullmatch(r"-?\d+(\.\d+)?(e-?\d+)?", t) for t in ticks), ticks
        assert max(_label_widths(frame, ticks)) < 100, ticks  # the y axis is 130 px wide: never clipped
        return ticks

    frame = _open(page, tb, ["blowup"])
    loss = _charts(frame)[0]
    assert title(loss).startswith("Loss (log scale")
    assert loss.query_selector(".gc-log-toggle").is_checked()
    assert any(re.fullmatch(r"1e[1-3]\d", t) for t in assert_compact(loss))  # decades up to 1e33
    loss.query_selector(".gc-log-toggle").click()
    frame.wait_for_function("!document.querySelector('.gc-log-toggle').checked")
    loss = _charts(frame)[0]
    assert title(loss).strip() == "Loss"
    assert any(re.fullmatch(r"\d(\.\d+)?e3\d", t) for t in assert_compact(loss))  # linear: 5e32, 1e33
    # A loss within 3 decades opens linear.
    frame = _open(page, tb, ["healthy"])
    assert not _charts(frame)[0].query_selector(".gc-log-toggle").is_checked()


def test_drag_zooms_all_charts_and_double_click_resets(tb, page):
    frame = _open(page, tb, ["chain"])
    over = [chart.query_selector(".u-over") for chart in _charts(frame)]
    box = over[0].bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.1, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.4, y, steps=5)
    page.mouse.up()
    # Zoomed to steps ~8-32 everywhere: the NaN markers (steps 60+) are out of view on every chart.
    frame.wait_for_function("[...document.querySelectorAll('.gc-marker')].every(m => m.style.display === 'none')")
    assert frame.evaluate("performance.getEntriesByName('gradcause:zoom').length") >= 1
    over[3].dblclick(position={"x": box["width"] * 0.5, "y": 10})
    frame.wait_for_function("[...document.querySelectorAll('.gc-marker')].every(m => m.style.display === '')")


def test_runs_side_by_side(tb, page):
    frame = _open(page, tb, ["chain", "healthy"])
    assert sorted(p.get_attribute("data-run") for p in frame.query_selector_all(".gc-run")) == ["chain", "healthy"]
    assert "gc-side-by-side" in frame.query_selector(".gc-runs").get_attribute("class")
    healthy = _run_panel(frame, "healthy")
    assert healthy.query_selector(".gc-card") is None
    assert "No causes found" in healthy.query_selector(".gc-healthy").text_content()


def _rank(events: list[dict]) -> int:
    """3 error, 2 warning, 1 info, 0 none: the worst severity of a run's events."""
    return max((("info", "warning", "error").index(e["severity"]) + 1 for e in events), default=0)


def test_overview_lists_every_run_problem_first_in_tensorboards_run_colours(tb, page):
    frame = _open(page, tb, ["healthy"])
    rows = frame.query_selector_all(".gc-run-line")
    runs = [row.get_attribute("data-run") for row in rows]
    assert sorted(runs) == sorted(tb.get_json("/data/plugin/gradcause/runs")["runs"])
    events = {run: _events(tb, run) for run in runs}
    ranks = [_rank(events[run]) for run in runs]
    assert ranks == sorted(ranks, reverse=True) and ranks[0] == 3 and ranks[-1] == 0, list(zip(runs, ranks))
    for row, run in zip(rows, runs):
        cells = [cell.text_content() for cell in row.query_selector_all("td")]
        assert cells[2] == str(len(events[run]))
        if events[run]:
            worst = max(events[run], key=lambda e: (_rank([e]), -e["first_step"]))
            assert cells[1] == worst["severity"]
            assert cells[3].startswith(
                f"{worst['kind']} · {worst['layer'] or 'whole run'} · step {worst['first_step']}"
            )
    swatch = "s => getComputedStyle(s).backgroundColor"
    ours = {row.get_attribute("data-run"): row.query_selector(".gc-run-swatch").evaluate(swatch) for row in rows}
    assert _run_panel(frame, "healthy").query_selector(".gc-run-swatch").evaluate(swatch) == ours["healthy"]
    assert len(set(ours.values())) == 7  # TensorBoard's palette has 7 colours
    # The same colours as TensorBoard's own run selector (its Time Series dashboard).
    page.goto(tb.url + "/#timeseries")
    page.wait_for_function(
        f"document.querySelectorAll('tb-data-table-content-row .run-color-swatch').length >= {len(ours)}"
    )
    theirs = dict(
        page.evaluate(
            """() => [...document.querySelectorAll('tb-data-table-content-row')].map(row =>
                [row.textContent.trim(), getComputedStyle(row.querySelector('.run-color-swatch')).backgroundColor])"""
        )
    )
    assert {run: theirs.get(run) for run in ours} == ours


def test_selection_lives_in_the_url_and_unticking_the_last_run_ticks_none(tb, page, browser):
    frame = _open(page, tb, ["healthy", "chain"])
    assert _panels(frame) == ["chain", "healthy"]  # by name, whatever order they were ticked in
    for run in ("healthy", "chain"):
        frame.click(f".gc-picker input[value={json.dumps(run)}]")
    frame.wait_for_selector(".gc-no-selection")
    assert _panels(frame) == [] and not any(box.is_checked() for box in frame.query_selector_all(".gc-picker input"))
    assert json.loads(_url_view(page)["p.gradcause.runs"]) == []
    page.reload()
    frame = _tab(page)
    frame.wait_for_selector(".gc-no-selection")  # a reload re-ticks nothing either
    frame.fill(".gc-filter", "^(after|BLOW)")  # case-insensitive, as TensorBoard's run filter
    frame.wait_for_function("document.querySelectorAll('.gc-run-line').length === 2")
    frame.click(".gc-overview-tools >> text=Select all")
    for run in ("after_nan", "blowup"):
        frame.wait_for_selector(f".gc-run[data-run={json.dumps(run)}] .gc-chart")
    assert _panels(frame) == ["after_nan", "blowup"]
    view = _url_view(page)
    assert sorted(json.loads(view["p.gradcause.runs"])) == ["after_nan", "blowup"]
    assert view["p.gradcause.filter"] == "^(after|BLOW)"
    # The link opens on the same view in another browser (no shared storage).
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    shared = context.new_page()
    shared.goto(page.url)
    other = _tab(shared)
    other.wait_for_selector('.gc-run[data-run="blowup"] .gc-chart')
    assert _panels(other) == ["after_nan", "blowup"] and other.input_value(".gc-filter") == "^(after|BLOW)"
    context.close()
    frame.click(".gc-overview-tools >> text=Select none")
    frame.wait_for_selector(".gc-no-selection")


def test_many_ticked_runs_load_as_they_come_into_view(tb, page):
    runs = tb.get_json("/data/plugin/gradcause/runs")["runs"]
    page.goto(_view_url(tb, runs))
    frame = _tab(page)
    frame.wait_for_selector(".gc-run .gc-chart")
    assert _panels(frame) == sorted(runs)
    loaded = [p.get_attribute("data-run") for p in frame.query_selector_all(".gc-run:not(.gc-pending)")]
    waiting = frame.query_selector_all(".gc-run.gc-pending")
    assert loaded and waiting and len(loaded) + len(waiting) == len(runs)
    fetched = frame.evaluate(
        """() => performance.getEntriesByType('resource').map(r => new URL(r.name))
            .filter(u => u.pathname.endsWith('/timeline')).map(u => u.searchParams.get('run'))"""
    )
    assert set(fetched) == set(loaded)  # nothing fetched for the runs below the screen
    last = waiting[-1].get_attribute("data-run")
    waiting[-1].scroll_into_view_if_needed()
    frame.wait_for_selector(f".gc-run[data-run={json.dumps(last)}] .gc-chart")


def _overview(tb) -> dict:
    """The overview route's answer once every run and file is checked (it sends pending lines meanwhile)."""
    deadline = time.monotonic() + 60
    while (overview := tb.get_json("/data/plugin/gradcause/overview"))["pending"]:
        assert time.monotonic() < deadline, overview
    return overview


def test_a_damaged_run_has_a_banner_naming_the_file_and_the_missing_steps(tb, logdir, page):
    lines = {line["run"]: line for line in _overview(tb)["runs"]}
    (damage,) = lines[TRUNCATED]["damaged"]
    assert damage["problem"] == "truncated" and all(not lines[run]["damaged"] for run in lines if run != TRUNCATED)
    frame = _open(page, tb, ["chain", TRUNCATED])
    assert _run_panel(frame, "chain").query_selector(".gc-damage") is None
    banner = _run_panel(frame, TRUNCATED).query_selector(".gc-damage").text_content()
    (event_file,) = (logdir / TRUNCATED).iterdir()
    assert str(event_file) in banner and f"truncated at byte {damage['offset']:,}" in banner
    assert f"after step {damage['last_step']}" in banner and "may be missing" in banner
    assert frame.query_selector(f".gc-run-line[data-run={json.dumps(TRUNCATED)}] .gc-damage-flag")
    # Random bytes in a run's directory: not an event file, named under the overview.
    notes = frame.query_selector(".gc-overview-notes").text_content()
    assert f"{logdir / GARBAGE}" in notes and "not an event file" in notes
    page.wait_for_timeout(300)
    page.screenshot(path=str(SCREENSHOTS / "tab-overview.png"))


def test_copy_report_copies_the_cli_markdown(tb, page):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=tb.url)
    frame = _open(page, tb, ["chain"])
    frame.click(".gc-run-head .gc-copy")
    frame.wait_for_selector('.gc-copy[data-state="copied"]')
    copied = frame.evaluate("navigator.clipboard.readText()")
    status, _, body = tb.get("/data/plugin/gradcause/report?run=chain")
    assert status == 200 and copied == body.decode()
    assert copied.startswith("## tb-gradcause report:") and "### Run chain" in copied and "exploding_gradient" in copied


def test_deep_model_gets_summary_lines_and_a_clickable_heatmap(tb, page):
    frame = _open(page, tb, ["deep"])
    titles = [h.text_content() for h in frame.query_selector_all(".gc-chart h3")]
    assert sum("40 layers: max, median and min over layers" in t for t in titles) == 3, titles
    # Scrolled to the end, the heatmap shows the last 30 of the 40 layers, each labelled.
    _charts(frame)[2].query_selector(".gc-heat-scroll").evaluate("s => { s.scrollTop = s.scrollHeight; }")
    frame.wait_for_function(
        "JSON.parse(document.querySelector('.gc-heat-scroll .uplot').dataset.rowLabels).at(-1) === 'dense_39'"
    )
    labels = json.loads(frame.query_selector(".gc-heat-scroll .uplot").get_attribute("data-row-labels"))
    assert labels == [f"dense_{i}" for i in range(10, 40)]
    heat = _charts(frame)[2].query_selector(".u-over")
    box = heat.bounding_box()
    # Rows are layers in forward order, first at the top: the bottom row is the output layer.
    heat.click(position={"x": box["width"] * 0.5, "y": box["height"] - 1})
    assert frame.query_selector(".gc-focus").text_content() == "focused: dense_39"


VIRIDIS_TOP = [253, 231, 37]  # theme.ts viridis(1): the colour of the top of a heatmap's scale


def _heat_pixels_at_top(panel) -> int:
    """Pixels of the panel's heatmap plot in the colour of the top of its scale."""
    return panel.query_selector(".gc-heat-scroll .uplot canvas").evaluate(
        """(canvas, top) => {
            const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            let n = 0;
            for (let p = 0; p < data.length; p += 4)
                if (data[p] === top[0] && data[p + 1] === top[1] && data[p + 2] === top[2]) n++;
            return n;
        }""",
        VIRIDIS_TOP,
    )


def test_heatmap_has_a_fixed_scale_with_a_legend_and_every_layer_labelled(tb, page):
    frame = _open(page, tb, ["chain", "deep", "healthy"])
    legends = [_run_panel(frame, run).query_selector(".gc-heat-legend") for run in ("chain", "deep", "healthy")]
    # One absolute scale in every run, whatever its values.
    assert {legend.get_attribute("data-scale") for legend in legends} == {"log 1e-8 1e4"}
    ticks = [t.text_content() for t in legends[0].query_selector_all(".gc-heat-tick")]
    assert ticks == ["≤ 1e-8", "1e-6", "1e-4", "0.01", "1", "100", "≥ 1e4"]
    assert "NaN/Inf" in legends[0].text_content() and "no gradient" in legends[0].text_content()
    # dense_1's exploded gradients reach the top of the scale; a healthy run's norms (0.01-1) stay
    # mid-scale, where a scale relative to the run drew its largest value at the top.
    assert _heat_pixels_at_top(_run_panel(frame, "chain")) > 0
    assert _heat_pixels_at_top(_run_panel(frame, "healthy")) == 0
    # 40 layers: 30 rows at a time, each labelled and >= 14 px tall; the heatmap scrolls to the others
    # (test_deep_model_gets_summary_lines_and_a_clickable_heatmap).
    deep = _run_panel(frame, "deep").query_selector(".gc-heat-scroll .uplot")
    assert json.loads(deep.get_attribute("data-row-labels")) == [f"dense_{i}" for i in range(30)]
    assert deep.query_selector(".u-over").bounding_box()["height"] >= 30 * 14


def test_heatmap_holds_the_last_step_through_the_right_margin(tb, page):
    """The unzoomed view ends half a step or more past the last step: the heatmap paints the last
    step's cells there (a run dying on its last step shows its NaN cell), not an empty strip."""
    frame = _open(page, tb, ["chain"])
    frame.click(".gc-run-head .gc-button")  # all steps
    heat = _run_panel(frame, "chain").query_selector(".gc-heat-scroll .uplot")
    pixels = heat.evaluate(
        """(root, fractions) => {
            const canvas = root.querySelector("canvas"), over = root.querySelector(".u-over");
            const c = canvas.getBoundingClientRect(), o = over.getBoundingClientRect();
            const scale = canvas.width / c.width, y = Math.round((o.top - c.top + 3) * scale);
            const ctx = canvas.getContext("2d");
            return fractions.map((f) => {
                const x = Math.round((o.left - c.left + f * o.width) * scale);
                return Array.from(ctx.getImageData(x, y, 1, 1).data);
            });
        }""",
        [_unzoomed_fraction(NAN_STEP + 13.5, STEPS - 1), 0.999],  # off the grid lines at 10s
    )
    inside_nan, right_edge = pixels
    assert inside_nan[3] == 255 and right_edge == inside_nan, pixels


def test_heatmap_statistic_is_a_choice_kept_in_the_url(tb, page):
    frame = _open(page, tb, ["chain"])
    legend = ".gc-heat-legend"
    frame.select_option(".gc-heat-choice", "update_ratio")
    frame.wait_for_selector(f'{legend}[data-scale="log 1e-7 10"]')
    frame.select_option(".gc-heat-choice", "dead_frac")
    frame.wait_for_selector(f'{legend}[data-scale="linear 0 1"]')
    assert _url_view(page)["p.gradcause.heatmap"] == "dead_frac"
    assert [t.text_content() for t in frame.query_selector_all(".gc-heat-tick")] == ["0", "0.25", "0.5", "0.75", "1"]
    url = page.url
    page.goto("about:blank")
    page.goto(url)
    frame = _tab(page)
    frame.wait_for_selector(f'{legend}[data-scale="linear 0 1"]')
    assert frame.eval_on_selector(".gc-heat-choice", "s => s.value") == "dead_frac"


def _focused(chart) -> list[str]:
    return json.loads(chart.query_selector(".uplot").get_attribute("data-focused"))


def test_a_card_click_highlights_its_layer_in_every_chart(tb, page):
    event = next(e for e in _events(tb, "chain") if e["kind"] == "exploding_gradient")
    frame = _open(page, tb, ["chain"])
    frame.click(f'.gc-card[data-event-id="{event["id"]}"]')
    # Loss has no layers; gradient norm, heatmap, activation health and update ratio highlight dense_1.
    assert [_focused(chart) for chart in _charts(frame)[1:]] == [["dense_1"]] * 4


def _timeline_requests(page, preview: bool = False) -> list[str]:
    """The kinds of the `timeline` requests the page makes from now on: of every logged step, or with
    `preview` of a sample (`samples=N`)."""
    kinds: list[str] = []

    def seen(request) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query)
        if "/timeline?" in request.url and ("samples" in query) == preview:
            kinds.append(query["kind"][0])

    page.on("request", seen)
    return kinds


def _hold_full_data(page):
    """Holds the overview and the full timelines (not the previews) until the returned call releases them."""
    held, released = [], []

    def hold(route):
        full = "samples=" not in route.request.url
        route.continue_() if released or not full else held.append(route)

    page.route("**/data/plugin/gradcause/overview", hold)
    page.route("**/data/plugin/gradcause/timeline?*", hold)

    def release() -> None:
        released.append(True)
        for route in held:
            route.continue_()

    return release


def _preview(page, tb, run: str):
    """Opens the tab on `run` and returns its frame once the run's preview is drawn."""
    page.goto("about:blank")
    page.goto(_view_url(tb, [run]))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        page.wait_for_timeout(100)
        frame = next((f for f in page.frames if f.query_selector(".gc-run.gc-previewing .gc-chart")), None)
        if frame is not None:
            return frame
    raise AssertionError("no preview drawn")


def test_a_run_is_drawn_from_a_preview_until_its_full_view_replaces_it(tb, page):
    """While the server reads and diagnoses the run (held here: the overview and the full timelines),
    the run the URL ticks is drawn from a sample of its steps, saying so, without causes and without
    the opening zoom (a sample's first NaN is not the run's); then the full view replaces it."""
    release = _hold_full_data(page)
    previews = _timeline_requests(page, preview=True)
    frame = _preview(page, tb, "after_nan")
    panel = _run_panel(frame, "after_nan")
    assert frame.query_selector(".gc-root").get_attribute("data-state") == "loading"
    assert "loading every step and the causes" in panel.query_selector(".gc-preview-note").text_content()
    assert panel.query_selector(".gc-finding").text_content() == "Finding causes…"
    assert not panel.query_selector_all(".gc-card, .gc-events, .gc-lazy, .gc-copy")
    assert len(_charts(frame)) == 5 and sorted(previews) == ["activations", "gradients", "loss", "weights"]
    assert not panel.query_selector(".gc-opening").text_content()  # every step: no opening zoom
    left, _ = _marker_fraction(_charts(frame)[0])
    assert left == pytest.approx(_unzoomed_fraction(AFTER_NAN_STEP, AFTER_NAN_STEPS - 1), abs=0.02)
    page.screenshot(path=str(SCREENSHOTS / "preview.png"))

    release()
    frame = _tab(page)
    panel = _run_panel(frame, "after_nan")
    assert not frame.query_selector_all(".gc-previewing, .gc-preview-note, .gc-finding")
    assert len(panel.query_selector_all(".gc-card")) == len(_events(tb, "after_nan"))
    assert f"first NaN/Inf at step {AFTER_NAN_STEP}" in panel.query_selector(".gc-opening").text_content()
    assert len(_charts(frame)) == 5 and len(previews) == 4
    page.screenshot(path=str(SCREENSHOTS / "preview_replaced.png"))


def test_a_zoom_chosen_on_the_preview_is_kept_by_the_full_view(tb, page):
    release = _hold_full_data(page)
    frame = _preview(page, tb, "chain")
    box = _charts(frame)[0].query_selector(".u-over").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.1, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.4, y, steps=5)
    page.mouse.up()
    hidden = "[...document.querySelectorAll('.gc-marker')].every(m => m.style.display === 'none')"
    frame.wait_for_function(hidden)  # steps ~8-32: the NaN steps (60+) out of view
    release()
    frame = _tab(page)
    assert not frame.query_selector_all(".gc-previewing")
    assert frame.evaluate(hidden)  # not the opening zoom, which shows the first NaN
    assert not _run_panel(frame, "chain").query_selector(".gc-opening").text_content()


def test_the_run_to_show_is_fetched_while_the_overview_is_computed(tb, page):
    """A run the URL ticks is fetched at once rather than after the overview, which diagnoses every
    run (so the server draws its timelines meanwhile), and the panel uses what was fetched."""
    held, released = [], []

    def hold(route):  # the overview is answered only once the timelines are asked for
        route.continue_() if released else held.append(route)

    page.route("**/data/plugin/gradcause/overview", hold)
    kinds = _timeline_requests(page)
    page.goto("about:blank")
    page.goto(_view_url(tb, ["healthy"]))
    deadline = time.monotonic() + 30
    while len(kinds) < 4 and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert held and sorted(kinds) == ["activations", "gradients", "loss", "weights"]
    released.append(True)
    for route in held:
        route.continue_()
    frame = _tab(page)
    frame.wait_for_selector('.gc-run[data-run="healthy"] .gc-chart')
    assert len(kinds) == 4  # not fetched again


def test_evidence_charts_load_for_the_causes_that_cite_them_and_highlight_named_features(tb, page):
    kinds = _timeline_requests(page)
    frame = _open(page, tb, ["healthy"])
    assert not frame.query_selector_all(".gc-lazy[open]") and len(frame.query_selector_all(".gc-lazy")) == 3
    assert sorted(kinds) == ["activations", "gradients", "loss", "weights"]  # nothing a healthy run does not need

    events = {e["kind"]: e for e in _events(tb, "evidence")}
    assert {"input_scale", "vanishing_gradient"} <= set(events)
    kinds.clear()
    frame = _open(page, tb, ["evidence"])
    frame.wait_for_selector('.gc-lazy[data-kind="inputs"] .uplot')
    frame.wait_for_selector('.gc-lazy[data-kind="backward_time"] .uplot')
    assert frame.query_selector('.gc-lazy[data-kind="backward"]:not([open])')
    assert "backward" not in kinds and {"inputs", "backward_time"} <= set(kinds)
    # The input_scale card highlights the features it names in the inputs chart.
    frame.click(f'.gc-card[data-event-id="{events["input_scale"]["id"]}"]')
    inputs = frame.query_selector('.gc-lazy[data-kind="inputs"]')
    assert _focused(inputs) == [f"input/feature_{i}" for i in INPUT_FEATURES]
    over_time = frame.query_selector('.gc-lazy[data-kind="backward_time"]')
    over_time.scroll_into_view_if_needed()  # both evidence charts on screen, beside the sticky cards
    page.wait_for_timeout(300)
    page.screenshot(path=str(SCREENSHOTS / "tab-evidence.png"))
    # The vanishing-along-time card highlights its recurrent layer's time positions.
    frame.click(f'.gc-card[data-event-id="{events["vanishing_gradient"]["id"]}"]')
    assert _focused(over_time) == ["rnn"]
    # A chart no cause cites loads when opened, and joins the focus.
    frame.click('.gc-lazy[data-kind="backward"] > summary')
    backward = frame.wait_for_selector('.gc-lazy[data-kind="backward"] .uplot')
    assert "backward" in kinds and json.loads(backward.get_attribute("data-focused")) == ["rnn"]
    # Opened by the user, it stays open when the panel is drawn again (here: another heatmap).
    frame.select_option(".gc-heat-choice", "update_ratio")
    frame.wait_for_selector('.gc-heat-legend[data-scale="log 1e-7 10"]')
    frame.wait_for_selector('.gc-lazy[data-kind="backward"][open] .uplot')


def test_card_figures_are_written_as_in_the_title_and_the_cli(tb, page):
    """One figure per quantity: a card's table writes each evidence value as its title and the CLI do."""
    frame = _open(page, tb, ["evidence", "chain"])
    for run in ("evidence", "chain"):
        report = tb.get("/data/plugin/gradcause/report?" + urllib.parse.urlencode({"run": run}))[2].decode()
        for event in _events(tb, run):
            card = frame.query_selector(f'.gc-card[data-event-id="{event["id"]}"]')
            for item, row in zip(event["evidence"], card.query_selector_all(".gc-evidence tbody tr")):
                value = row.query_selector_all("td")[1].text_content()
                assert f"{item['label']} = {value} " in report, (value, item)
    card = _run_panel(frame, "evidence").query_selector('.gc-card[data-event-id^="input_scale"]')
    gap = card.query_selector('tr[data-metric="magnitude_gap"] td.gc-num').text_content()
    assert f"at least {gap}x larger" in card.query_selector(".gc-title").text_content()


def test_tab_follows_tensorboard_reload(tb, logdir, page):
    frame = _open(page, tb, ["healthy"])
    synthetic.write_run(str(logdir), "late", synthetic.healthy_run(synthetic.mlp(3), 20, seed=6))
    tb.wait_for_runs(["late"])
    page.click(".reload-button")  # TensorBoard's own reload button; the tab hears "DataReloaded"
    frame.wait_for_selector('.gc-picker input[value="late"]', timeout=20_000)


def test_empty_state_tells_how_to_log(browser, tmp_path):
    with tensorboard_server(tmp_path, load_fast="false") as server:
        page = browser.new_page()
        page.goto(server.url + "/data/plugin_entry.html?name=gradcause")
        page.wait_for_selector(".gc-root[data-state=ready]")
        empty = page.query_selector(".gc-empty")
        assert "No gradcause data yet" in empty.text_content()
        assert "GradCauseCallback" in empty.query_selector("pre").text_content()
        page.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots_follow_tensorboard_theme(tb, browser, scheme):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, color_scheme=scheme)
    page = context.new_page()
    frame = _open(page, tb, ["chain"])
    # TensorBoard's default theme follows the browser; the tab follows TensorBoard's body class.
    assert page.evaluate("document.body.classList.contains('dark-mode')") == (scheme == "dark")
    frame.wait_for_function(
        f"document.documentElement.classList.contains('gc-dark') === {json.dumps(scheme == 'dark')}"
    )
    explosion = next(e for e in _events(tb, "chain") if e["kind"] == "exploding_gradient")
    frame.click(f'.gc-card[data-event-id="{explosion["id"]}"]')
    _run_panel(frame, "chain").evaluate("panel => panel.scrollIntoView()")  # its charts down to the heatmap
    page.wait_for_timeout(300)
    path = SCREENSHOTS / f"tab-{scheme}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 20_000
    background = frame.evaluate("getComputedStyle(document.body).backgroundColor")
    assert (background == "rgb(255, 255, 255)") == (scheme == "light"), background
    context.close()


def _committed_bundle() -> bytes:
    """The bundle as committed (tests/setup.sh rebuilds it in place), or as on disk outside git."""
    shown = subprocess.run(
        ["git", "show", f"HEAD:{BUNDLE.relative_to(ROOT).as_posix()}"], cwd=ROOT, capture_output=True, timeout=60
    )
    return shown.stdout if shown.returncode == 0 else BUNDLE.read_bytes()


def test_demo_scenarios_in_the_tab(browser, tmp_path):
    """Real Keras runs logged by GradCauseCallback (two demo scenarios): their expected causes are
    cards, the NaN run has its NaN marked; the screenshots are the README's."""
    from tb_gradcause import demo

    names = ["sigmoid_bce_saturation", "exp_overflow_nan"]
    demo.write_all(str(tmp_path), names)
    with tensorboard_server(tmp_path, load_fast="true") as server:
        for scenario in (s for s in demo.SCENARIOS if s.NAME in names):
            run = _wait_for_run(server, lambda name, scenario=scenario: name.split("/")[0] == scenario.NAME)
            events = _events(server, run)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            frame = _open(page, server, [run])
            cards = frame.query_selector_all(".gc-card")
            assert sorted(c.get_attribute("data-event-id") for c in cards) == sorted(e["id"] for e in events)
            shown = [
                (c.query_selector(".gc-kind").text_content(), c.query_selector(".gc-layer").text_content())
                for c in cards
            ]
            for expected in scenario.EXPECTED:
                layer = expected["layer"] or "whole run"
                assert any(k == expected["kind"] and shown_layer.split("/")[-1] == layer for k, shown_layer in shown), (
                    shown
                )
            if scenario.NAME == "exp_overflow_nan":
                assert _charts(frame)[0].query_selector('.gc-marker[data-flag="NaN"]')
            page.screenshot(path=str(SCREENSHOTS / f"demo-{scenario.NAME}.png"))
            context.close()


def test_bundle_rebuilds_byte_for_byte(tmp_path):
    if not (FRONTEND / "node_modules").is_dir():
        pytest.fail("frontend/node_modules is missing: run `bash tests/setup.sh` first")
    rebuilt = tmp_path / "index.js"
    subprocess.run(["node", "build.mjs", str(rebuilt)], cwd=FRONTEND, check=True, timeout=120)
    assert rebuilt.read_bytes() == BUNDLE.read_bytes() == _committed_bundle(), (
        "tb_gradcause/plugin/static/index.js differs from a fresh build of frontend/: "
        "`cd frontend && npm run build` and commit it"
    )


def test_frontend_is_formatted_and_typechecks():
    result = subprocess.run(
        ["npm", "run", "--silent", "lint"], cwd=FRONTEND, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stdout + result.stderr
