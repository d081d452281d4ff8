"""Every demo scenario through the real callback, reader and engine.

Buggy scenarios must have each expected cause found at the expected layer; healthy controls must
raise no warning or error. A precision/recall table is printed for the whole set.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from tb_gradcause import demo
from tb_gradcause.analysis import engine, reader
from tb_gradcause.analysis.causes import CAUSE_KINDS

# Training every scenario takes ~3-4 minutes on 2 busy cores; the first test to use the fixture pays it.
pytestmark = pytest.mark.timeout(1800)

SEVERE = ("warning", "error")
SCENARIO_IDS = [scenario.NAME for scenario in demo.SCENARIOS]


def layer_matches(expected: str | None, actual: str | None) -> bool:
    """`None` expects no particular layer; otherwise the layer path must end with the expected name."""
    if expected is None:
        return True
    return actual is not None and (actual == expected or actual.endswith("/" + expected))


@dataclasses.dataclass
class Outcome:
    """What the engine said about one scenario, judged against its `EXPECTED`."""

    scenario: ModuleType
    seconds: float
    events: list[dict]
    error: str | None = None  # the scenario itself failed to train or to write its run

    @property
    def severe(self) -> list[dict]:
        return [event for event in self.events if event["severity"] in SEVERE]

    def found(self, expected: dict) -> bool:
        """An event of the expected kind at the expected layer, at any severity (info is still reported)."""
        return any(
            event["kind"] == expected["kind"] and layer_matches(expected["layer"], event["layer"])
            for event in self.events
        )

    def layers_of(self, kind: str) -> list[str | None]:
        return [event["layer"] for event in self.events if event["kind"] == kind]

    def problems(self) -> list[str]:
        """Why this scenario fails: its own crash, missed causes, wrong layers, alarms on a healthy control."""
        if self.error:
            return [self.error]
        if not self.scenario.EXPECTED:
            return [f"false alarm {e['kind']} at {e['layer']}: {e['title']}" for e in self.severe]
        problems = []
        for expected in self.scenario.EXPECTED:
            if self.found(expected):
                continue
            layers = self.layers_of(expected["kind"])
            what = f"wrong layer {layers}" if layers else "missed"
            problems.append(f"{expected['kind']} at {expected['layer']}: {what}")
        return problems

    def true_positives(self) -> int:
        """Warning/error events whose kind the scenario expects (secondary symptoms count as false)."""
        kinds = {expected["kind"] for expected in self.scenario.EXPECTED}
        return sum(event["kind"] in kinds for event in self.severe)

    def unlinked(self) -> int:
        """Secondary warning/error events on no cause chain (`caused_by`, either way) with an event
        of an expected kind: neither a cause nor a consequence the engine could name."""
        kinds = {expected["kind"] for expected in self.scenario.EXPECTED}
        edges = {(event["id"], cause) for event in self.events for cause in event["caused_by"]}
        linked = {event["id"] for event in self.events if event["kind"] in kinds}
        while True:
            grown = linked | {a for a, b in edges if b in linked} | {b for a, b in edges if a in linked}
            if grown == linked:
                break
            linked = grown
        return sum(event["id"] not in linked for event in self.severe)


def describe(event: dict) -> str:
    return f"{event['kind']}@{event['layer']}[{event['first_step']}-{event['last_step']}]/{event['severity'][0]}"


def table(outcomes: list[Outcome]) -> str:
    """Per scenario: expected causes, found events, verdict; then overall precision and recall."""
    lines = [f"{'scenario':30} {'sec':>5}  {'expected':42} {'verdict':8} found: kind@layer[steps]/severity"]
    for outcome in outcomes:
        expected = ", ".join(f"{e['kind']}@{e['layer']}" for e in outcome.scenario.EXPECTED) or "(healthy)"
        verdict = "FAIL" if outcome.problems() else "ok"
        found = ", ".join(describe(event) for event in outcome.events) or "-"
        lines.append(f"{outcome.scenario.NAME:30} {outcome.seconds:5.1f}  {expected:42} {verdict:8} {found}")
    wanted = [(o, e) for o in outcomes for e in o.scenario.EXPECTED]
    recall = sum(o.found(e) for o, e in wanted) / len(wanted) if wanted else 1.0
    reported = sum(len(o.severe) for o in outcomes)
    precision = sum(o.true_positives() for o in outcomes) / reported if reported else 1.0
    alarms = sum(len(o.severe) for o in outcomes if not o.scenario.EXPECTED)
    unlinked = sum(o.unlinked() for o in outcomes if o.scenario.EXPECTED)
    lines.append(
        f"recall {recall:.2f} ({len(wanted)} expected causes), precision {precision:.2f} "
        f"({reported} warning/error events; {unlinked} of them on no cause chain with an expected cause), "
        f"false alarms on healthy controls: {alarms}"
    )
    return "\n".join(lines)


def runs_of(runs: dict[str, reader.RunData], name: str) -> list[reader.RunData]:
    """The scenario's runs (the callback may write into a subdirectory such as `NAME/train`)."""
    return [run for key, run in runs.items() if key == name or key.startswith(name + "/")]


def diagnose(runs: dict[str, reader.RunData], scenario: ModuleType, seconds: float, error: str | None) -> Outcome:
    mine = runs_of(runs, scenario.NAME)
    if error is None and not mine:
        error = f"wrote no gradcause run; runs: {sorted(runs)}"
    return Outcome(scenario, seconds, [event for run in mine for event in engine.analyze(run)["events"]], error)


@pytest.fixture(scope="module")
def logdir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("demo_logs"))


@pytest.fixture(scope="module")
def outcomes(logdir: str) -> dict[str, Outcome]:
    """Every scenario written once; one that crashes fails only its own test."""
    seconds, errors = {}, {}
    for name in SCENARIO_IDS:
        start = time.perf_counter()
        try:
            demo.write_all(logdir, [name])
        except Exception as error:  # reported by test_scenario_diagnosis[name]
            errors[name] = f"scenario crashed: {type(error).__name__}: {error}"
        seconds[name] = time.perf_counter() - start
    runs = reader.read_logdir(logdir)
    return {s.NAME: diagnose(runs, s, seconds[s.NAME], errors.get(s.NAME)) for s in demo.SCENARIOS}


def test_precision_recall_table(outcomes: dict[str, Outcome], capsys: pytest.CaptureFixture) -> None:
    with capsys.disabled():
        print("\n" + table(list(outcomes.values())))


@pytest.mark.parametrize("name", SCENARIO_IDS)
def test_scenario_diagnosis(outcomes: dict[str, Outcome], name: str) -> None:
    outcome = outcomes[name]
    assert not outcome.problems(), f"{name}: {outcome.problems()}\n{table([outcome])}"


def causes_of_nan(scenario: ModuleType) -> set[str]:
    """The kinds a scenario expects besides `nan_inf`, if it expects a NaN at all."""
    kinds = {expected["kind"] for expected in scenario.EXPECTED}
    return kinds - {"nan_inf"} if "nan_inf" in kinds else set()


@pytest.mark.parametrize("name", [s.NAME for s in demo.SCENARIOS if causes_of_nan(s)])
def test_nan_is_linked_to_its_expected_cause(outcomes: dict[str, Outcome], name: str) -> None:
    """Where a scenario expects a cause besides its NaN, the NaN event names it in `caused_by`."""
    outcome = outcomes[name]
    causes = causes_of_nan(outcome.scenario)
    ids = {event["id"] for event in outcome.events if event["kind"] in causes}
    nans = [event for event in outcome.events if event["kind"] == "nan_inf"]
    assert nans and all(ids & set(event["caused_by"]) for event in nans), [describe(e) for e in outcome.events]


def test_nan_scenarios_name_the_op_and_line_of_the_first_nan(outcomes: dict[str, Outcome]) -> None:
    """The eager replay of the first non-finite step (`nan_origin`) names its first NaN/Inf op: the
    overflowing exp of the `exponential` activation (Keras' line), the log(0) of the hand-written loss."""

    def titles(name: str) -> list[str]:
        return [event["title"] for event in outcomes[name].events if event["kind"] == "nan_inf"]

    assert any("`Exp` in rate (Dense), Keras' activations.py:" in title for title in titles("exp_overflow_nan"))
    assert any("`Log` in the loss, log_zero_loss.py:" in title for title in titles("log_zero_loss"))


def test_every_kind_has_a_scenario_and_there_are_healthy_controls() -> None:
    for scenario in demo.SCENARIOS:
        assert {tuple(expected) for expected in scenario.EXPECTED} <= {("kind", "layer")}, scenario.NAME
        assert {expected["kind"] for expected in scenario.EXPECTED} <= set(CAUSE_KINDS), scenario.NAME
    covered = {expected["kind"] for scenario in demo.SCENARIOS for expected in scenario.EXPECTED}
    assert covered == set(CAUSE_KINDS)
    assert sum(not scenario.EXPECTED for scenario in demo.SCENARIOS) >= 3
    assert len(set(SCENARIO_IDS)) == len(SCENARIO_IDS)


def test_the_judge_can_fail() -> None:
    """Outcome flags a missed cause, a wrong layer and a false alarm; info on a healthy control is fine."""
    buggy = next(s for s in demo.SCENARIOS if any(e["layer"] for e in s.EXPECTED))
    healthy = next(s for s in demo.SCENARIOS if not s.EXPECTED)
    expected = next(e for e in buggy.EXPECTED if e["layer"])

    def event(kind: str, layer: str | None, severity: str = "warning") -> dict:
        return {
            "id": f"{kind}:{layer}:0",
            "kind": kind,
            "layer": layer,
            "severity": severity,
            "first_step": 0,
            "last_step": 9,
            "title": "t",
            "caused_by": [],
        }

    assert Outcome(buggy, 0.0, []).problems()
    assert "wrong layer" in Outcome(buggy, 0.0, [event(expected["kind"], "elsewhere")]).problems()[0]
    right = [event(e["kind"], f"model/{e['layer']}" if e["layer"] else None, "info") for e in buggy.EXPECTED]
    assert not Outcome(buggy, 0.0, right).problems()
    assert Outcome(healthy, 0.0, [event("dead_relu", "dense")]).problems()
    assert not Outcome(healthy, 0.0, [event("dead_relu", "dense", "info")]).problems()
    assert Outcome(healthy, 0.0, [], "scenario crashed: boom").problems() == ["scenario crashed: boom"]
    # Secondary events: one a cause of an expected event's cause (chained), one on no chain.
    root, effect, stray = event("learning_rate_too_high", None), event(expected["kind"], None), event("dead_relu", "x")
    middle = {**event("input_scale", "input"), "caused_by": [root["id"]]}
    effect["caused_by"] = [middle["id"]]
    kinds = {e["kind"] for e in buggy.EXPECTED}
    secondary = [e for e in (root, middle, stray) if e["kind"] not in kinds]
    assert Outcome(buggy, 0.0, [root, middle, effect, stray]).unlinked() == (stray in secondary)


def test_write_all_rejects_unknown_names_before_training(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no_such_scenario"):
        demo.write_all(str(tmp_path), ["healthy_mlp_adam", "no_such_scenario"])
    assert not any(tmp_path.iterdir())


def loss_curve(logdir: str, name: str) -> list[float]:
    (run,) = runs_of(reader.read_logdir(logdir), name)
    return run.get("loss").stat("value")[:, 0].tolist()


def test_scenarios_are_deterministic(outcomes: dict[str, Outcome], logdir: str, tmp_path: Path) -> None:
    name = "sigmoid_bce_saturation"  # the fastest; every scenario seeds the same way through _common.start
    demo.write_all(str(tmp_path), [name])
    assert loss_curve(str(tmp_path), name) == loss_curve(logdir, name)


def test_scenario_runs_as_a_script(tmp_path: Path) -> None:
    script = Path(demo.__file__).parent / "dead_relu_bias.py"
    subprocess.run([sys.executable, str(script), str(tmp_path)], check=True, capture_output=True, timeout=300)
    runs = reader.read_logdir(str(tmp_path))
    assert len(runs_of(runs, "dead_relu_bias")) == len(runs) == 1, sorted(runs)
