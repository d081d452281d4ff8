"""`tb-gradcause report`: text and JSON output, `--run`, `--fail-on` and exit statuses."""

import argparse
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tb_gradcause import metadata
from tb_gradcause.analysis import causes, engine
from tb_gradcause.analysis.causes import RunDiagnosis
from tb_gradcause.analysis.signals import wording
from tb_gradcause.cli import report
from tb_gradcause.testing import synthetic

LAYERS = synthetic.mlp(3, units=4)


def _event(kind, severity, layer, first, last, caused_by=(), value=12.5):
    return {
        "id": f"{kind}:{layer or 'run'}:{first}",
        "kind": kind,
        "severity": severity,
        "layer": layer,
        "first_step": first,
        "last_step": last,
        "title": f"{kind} title",
        "evidence": [
            {
                "metric": "loss_rise",
                "label": "smoothed loss over its best so far",
                "value": value,
                "threshold": 10.0,
                "op": ">",
                "step": first,
                "note": "why",
            }
        ],
        "advice": f"{kind} advice",
        "caused_by": list(caused_by),
    }


CHAIN = [
    _event("learning_rate_too_high", "warning", None, 3, 40),
    _event("exploding_gradient", "warning", "dense_1", 5, 9, ["learning_rate_too_high:run:3"]),
    _event(
        "nan_inf", "error", "dense_1", 9, 40, ["exploding_gradient:dense_1:5", "learning_rate_too_high:run:3"], "NaN"
    ),
]


NOT_EVENTS = {"checked": ["nan_inf", "dead_relu"], "skipped": {"input_scale": "inputs not logged"}}


def stand_in_diagnose(run):
    """Events chosen by the run's name, so the CLI is tested apart from the detectors' judgement."""
    found = {"chain": CHAIN, "warn": [_event("dead_relu", "warning", "dense_0", 2, 30)]}.get(run.run, [])
    assert run.get("loss") is not None  # the CLI hands the engine what the reader read
    return RunDiagnosis.from_json({"events": found, **NOT_EVENTS})


def _report(argv, capsys):
    parser = argparse.ArgumentParser()
    report.add_arguments(parser)
    args = parser.parse_args(argv)
    status = args.func(args)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def logdir(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "diagnose", stand_in_diagnose)
    for run in ("chain", "warn", "quiet"):
        synthetic.write_run(str(tmp_path), run, synthetic.healthy_run(LAYERS, 12, every=3, n_features=2))
    return str(tmp_path)


def test_text_report_shows_events_in_order_with_evidence_chain_and_advice(logdir, capsys):
    status, out, err = _report([logdir, "--run", "chain"], capsys)
    assert status == 0 and err == ""
    summary = "3 events: 1 error, 2 warnings; first error NaN/Inf values (nan_inf) in dense_1 at step 9"
    assert out.startswith(f"== chain: {summary}\n")
    assert "== warn" not in out
    cause = out.index("WARNING learning rate too high (learning_rate_too_high) in the run, steps 3-40")
    assert cause < out.index("ERROR   NaN/Inf values (nan_inf) in dense_1, steps 9-40")
    assert "evidence: smoothed loss over its best so far = NaN > 10 at step 9 (why)" in out
    assert (
        "cause chain: learning rate too high (run, step 3) -> exploding gradients (dense_1, step 5)"
        " -> NaN/Inf values (dense_1, step 9)" in " ".join(out.split())  # wrapped at 100 columns
    )
    *lines, logdir_line = out.splitlines()  # the logdir's line holds its path whole (long under pytest-xdist)
    assert max(len(line) for line in lines) <= report.WIDTH and logdir_line.startswith(f"== {logdir}: ")
    assert "also caused by: learning rate too high (run, step 3)" in out
    assert "advice: nan_inf advice" in out
    assert "not checked: input_scale: inputs not logged" in out


def test_json_is_exactly_the_engine_result_per_run_with_nan_as_a_string(logdir, capsys):
    status, out, _ = _report([logdir, "--json"], capsys)
    assert status == 0
    parsed = json.loads(out)
    assert sorted(parsed["runs"]) == ["chain", "quiet", "warn"]
    assert {k: v for k, v in parsed.items() if k != "runs"} == {"unreadable": {}, "skipped_runs": [], "damaged": []}
    assert parsed["runs"]["quiet"] == {"events": [], **NOT_EVENTS}
    assert parsed["runs"]["chain"]["events"][:2] == CHAIN[:2]
    assert parsed["runs"]["chain"]["events"][2]["evidence"][0]["value"] == "NaN"


@pytest.mark.parametrize(
    "argv, expected",
    [
        ([], 0),
        (["--fail-on", "error"], 1),
        (["--fail-on", "warning"], 1),
        (["--fail-on", "error", "--run", "warn"], 0),
        (["--fail-on", "warning", "--run", "warn"], 1),
        (["--fail-on", "warning", "--run", "quiet"], 0),
    ],
)
def test_fail_on_exits_1_for_an_event_that_severe_or_worse(logdir, capsys, argv, expected):
    assert _report([logdir, *argv], capsys)[0] == expected


def test_fail_on_accepts_only_warning_or_error(logdir, capsys):
    with pytest.raises(SystemExit):
        _report([logdir, "--fail-on", "info"], capsys)


def test_unusable_input_exits_2_with_a_clear_message(tmp_path, logdir, capsys):
    status, out, err = _report([str(tmp_path / "missing")], capsys)
    assert (status, out) == (2, "") and "does not exist" in err
    (tmp_path / "file").write_text("x")
    assert "not a directory" in _report([str(tmp_path / "file")], capsys)[2]
    (tmp_path / "empty").mkdir()
    status, _, err = _report([str(tmp_path / "empty")], capsys)
    assert status == 2 and "no gradcause data" in err
    status, out, err = _report([logdir, "--run", "nope"], capsys)
    assert (status, out) == (2, "") and "'nope'" in err and "chain, quiet, warn" in err


def test_a_run_in_a_newer_format_is_named_and_the_others_still_reported(logdir, capsys):
    data = synthetic.healthy_run(LAYERS, 5, n_features=2)
    synthetic.write_run(logdir, "future", data, format_version=metadata.PROTO_VERSION + 1)
    status, out, err = _report([logdir, "--json"], capsys)
    assert status == 2
    assert sorted(json.loads(out)["runs"]) == ["chain", "quiet", "warn"]
    assert "run 'future' not reported" in err and "upgrade tb_gradcause" in err


def test_the_real_engine_finds_an_injected_nan_and_stays_quiet_on_a_healthy_run(tmp_path, capsys):
    synthetic.write_run(str(tmp_path), "healthy", synthetic.healthy_run(LAYERS, 300, every=10, n_features=4))
    broken = synthetic.healthy_run(LAYERS, 300, every=10, n_features=4, seed=1)
    grads = broken["gradients"]
    first = int(np.searchsorted(grads.steps, 200))
    grads.stat("nan")[first:, grads.rows_of("dense_1")] = 3
    grads.stat("l2")[first:, grads.rows_of("dense_1")] = np.nan
    broken["loss"].stat("value")[201:] = np.nan
    synthetic.write_run(str(tmp_path), "broken", broken)

    status, out, _ = _report([str(tmp_path), "--json", "--fail-on", "warning"], capsys)
    runs = json.loads(out)["runs"]
    assert status == 1
    assert [e for e in runs["healthy"]["events"] if e["severity"] != "info"] == []
    nan = [e for e in runs["broken"]["events"] if e["kind"] == "nan_inf"]
    assert [(e["layer"], e["first_step"], e["severity"]) for e in nan] == [("dense_1", 200, "error")]
    assert _report([str(tmp_path), "--run", "healthy", "--fail-on", "warning"], capsys)[0] == 0


def test_the_console_command_dispatches_to_report(tmp_path):
    synthetic.write_run(str(tmp_path), "run", synthetic.healthy_run(LAYERS, 12, every=3, n_features=2))
    command = [sys.executable, "-m", "tb_gradcause.cli", "report"]
    done = subprocess.run([*command, str(tmp_path), "--json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)["runs"]["run"]) == {"events", "checked", "skipped"}
    done = subprocess.run([*command, str(tmp_path / "missing")], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (2, "") and "does not exist" in done.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any directory")
def test_an_unreadable_logdir_exits_2(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0)
    try:
        status, _, err = _report([str(locked)], capsys)
    finally:
        locked.chmod(0o700)
    assert status == 2 and "not readable" in err


def test_diagnose_gives_what_the_cli_prints(tmp_path, capsys):
    import tb_gradcause

    broken = synthetic.healthy_run(LAYERS, 300, every=10, n_features=4, seed=1)
    broken["loss"].stat("value")[201:] = np.nan
    synthetic.write_run(str(tmp_path), "broken", broken)
    status, out, _ = _report([str(tmp_path), "--json"], capsys)
    found = tb_gradcause.diagnose(str(tmp_path))
    assert status == 0 and {run: result.to_json() for run, result in found.items()} == json.loads(out)["runs"]
    [nan] = [c for c in tb_gradcause.diagnose(str(tmp_path), "broken")["broken"].causes if c.kind == "nan_inf"]
    assert isinstance(nan, tb_gradcause.Cause) and isinstance(nan.evidence[0], tb_gradcause.Evidence)
    assert (nan.layer, nan.first_step, nan.evidence[0].label) == (None, 201, "NaN/Inf values in the loss")


def test_a_damaged_file_is_named_in_every_format_and_exits_2(logdir, capsys):
    (event_file,) = (p for p in os.scandir(os.path.join(logdir, "warn")))
    with open(event_file.path, "r+b") as f:
        f.truncate(os.path.getsize(event_file.path) - 37)
    status, out, err = _report([logdir], capsys)
    assert status == 2
    assert f"damaged event file {event_file.path}: truncated at byte" in err
    warn = out[out.index("== warn") :]
    assert warn.splitlines()[1].startswith("  DAMAGED: ") and "1 damaged event file" in out.splitlines()[-1]
    status, out, _ = _report([logdir, "--json"], capsys)
    (damage,) = json.loads(out)["damaged"]
    assert status == 2 and (damage["run"], damage["problem"], damage["path"]) == ("warn", "truncated", event_file.path)
    status, out, _ = _report([logdir, "--format", "markdown"], capsys)
    assert status == 2 and "> **Damaged event file**" in out
    assert _report([logdir, "--run", "quiet"], capsys)[0] == 0  # another run is whole


def test_a_logdir_of_random_bytes_says_not_an_event_file(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "events.out.tfevents.1.host").write_bytes(np.random.default_rng(0).bytes(500))
    status, out, err = _report([str(tmp_path)], capsys)
    assert (status, out) == (2, "") and "not an event file" in err and "GradCauseCallback" not in err


def test_runs_without_gradcause_data_are_named_as_skipped(logdir, capsys):
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(os.path.join(logdir, "scalars_only"))
    writer.close()
    status, out, _ = _report([logdir, "--json"], capsys)
    assert status == 0 and json.loads(out)["skipped_runs"] == ["scalars_only"]
    out = _report([logdir], capsys)[1]
    assert out.splitlines()[-1] == (
        f"== {logdir}: 3 runs reported (1 with errors, 1 with warnings, 1 without problems); "
        "skipped without gradcause data: scalars_only"
    )


def test_fail_on_says_which_events_tripped_it(logdir, capsys):
    status, _, err = _report([logdir, "--fail-on", "error"], capsys)
    assert status == 1
    assert err == "tb-gradcause report: --fail-on error: error nan_inf in dense_1 of run 'chain' at step 9\n"


def test_markdown_is_a_table_per_run_with_names_escaped(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(engine, "diagnose", stand_in_diagnose)
    synthetic.write_run(str(tmp_path), "chain", synthetic.healthy_run(LAYERS, 12, every=3, n_features=2))
    synthetic.write_run(str(tmp_path), "a|b_<i>", synthetic.healthy_run(LAYERS, 12, every=3, n_features=2))
    status, out, _ = _report([str(tmp_path), "--format", "markdown"], capsys)
    assert status == 0
    assert "### Run a\\|b\\_\\<i\\>: no problems found" in out and "<i>" not in out
    table = out[out.index("| severity |") :].splitlines()
    assert table[2] == (
        "| warning | learning rate too high (learning_rate_too_high) | (run) | steps 3-40 | "
        "learning\\_rate\\_too\\_high title |"
    )
    assert "**NaN/Inf values** (nan_inf) in dense\\_1, steps 9-40" in out
    assert all(line.count("|") - line.count("\\|") == 6 for line in table[:5])
    assert "- advice: nan\\_inf advice" in out


def test_the_command_keeps_tensorflow_start_up_lines_off_stderr(tmp_path):
    synthetic.write_run(str(tmp_path), "run", synthetic.healthy_run(LAYERS, 12, every=3, n_features=2))
    done = subprocess.run(
        [sys.executable, "-m", "tb_gradcause.cli", "report", str(tmp_path)], capture_output=True, text=True
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("== run: ")


def test_every_cause_kind_has_words_for_the_headers():
    assert set(wording.CAUSE_WORDS) == set(causes.CAUSE_KINDS)
