"""`tb-gradcause demo` with a stand-in quick scenario (never the real, training ones)."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time
import types
import urllib.error
import urllib.request

import pytest

from tb_gradcause import cli, demo
from tb_gradcause.cli import demo_command
from tb_gradcause.cli import tensorboard_process as tb_process
from tb_gradcause.testing import synthetic

STAND_IN = textwrap.dedent(
    """
    import sys, types
    from tb_gradcause import cli, demo
    from tb_gradcause.testing import synthetic

    def run(logdir):
        synthetic.write_run(logdir, "quick", synthetic.healthy_run(synthetic.mlp(2), 12))

    demo.SCENARIOS = (types.SimpleNamespace(NAME="quick", EXPECTED=[], run=run),)
    sys.exit(cli.main(sys.argv[1:]))
    """
)


@pytest.fixture
def quick_scenario(monkeypatch):
    """Replace the demo scenarios by one that writes a tiny synthetic run; count its runs."""
    calls = []

    def run(logdir: str) -> None:
        calls.append(logdir)
        synthetic.write_run(logdir, "quick", synthetic.healthy_run(synthetic.mlp(2), 12))

    monkeypatch.setattr(demo, "SCENARIOS", (types.SimpleNamespace(NAME="quick", EXPECTED=[], run=run),))
    return calls


def test_runs_are_written_once_and_an_interrupted_one_again(tmp_path, quick_scenario):
    logdir = str(tmp_path)
    assert demo_command.write_missing_runs(logdir, ["quick"]) == ["quick"]
    assert demo_command.write_missing_runs(logdir, ["quick"]) == []
    assert len(quick_scenario) == 1

    os.remove(tmp_path / "quick" / demo_command.COMPLETE_MARKER)  # as if Ctrl-C hit during training
    assert demo_command.write_missing_runs(logdir, ["quick"]) == ["quick"]
    assert len(list((tmp_path / "quick").glob("events.out.tfevents.*"))) == 1


def test_the_demo_says_what_it_trains_and_that_its_warnings_are_expected(tmp_path, quick_scenario, capsys):
    demo_command.write_missing_runs(str(tmp_path), ["quick"])
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("training 1 demo scenario(s), about 1 minute(s) on 2 CPU cores; 1 of them are broken")
    demo_command.write_missing_runs(str(tmp_path), ["quick"])
    assert capsys.readouterr().out == ""  # nothing to train, nothing announced


def test_demo_help_describes_the_demo():
    done = subprocess.run([sys.executable, "-m", "tb_gradcause.cli", "demo", "--help"], capture_output=True, text=True)
    text = " ".join(done.stdout.split())  # as wrapped to any terminal's width
    assert done.returncode == 0 and "broken on purpose" in text and "Gradient Causes tab" in text


def test_tensorflow_start_up_lines_stay_off_stderr():
    quiet = "from tb_gradcause.cli.quiet import import_tensorflow_quietly as q; q(); import keras; print('ok')"
    done = subprocess.run([sys.executable, "-c", quiet], capture_output=True, text=True)
    assert (done.stdout, done.stderr) == ("ok\n", "")


def test_unknown_scenario_is_refused_before_training(tmp_path, quick_scenario, capsys):
    code = cli.main(["demo", "--logdir", str(tmp_path / "d"), "--scenarios", "quick,nope", "--no-browser"])
    assert code == 2
    assert "nope" in capsys.readouterr().err
    assert quick_scenario == [] and not (tmp_path / "d").exists()


@pytest.mark.parametrize("stop_signal, exit_code", [(signal.SIGINT, 0), (signal.SIGTERM, 128 + signal.SIGTERM)])
def test_demo_serves_the_tab_until_stopped(tmp_path, stop_signal, exit_code):
    script = tmp_path / "stand_in_demo.py"
    script.write_text(STAND_IN)
    logdir = tmp_path / "logs"
    process = subprocess.Popen(
        [sys.executable, str(script), "demo", "--logdir", str(logdir), "--scenarios", "quick", "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # As started from a terminal: a suite started with `&` from a script ignores SIGINT, and
        # its children inherit that, so Ctrl-C would never reach the demo.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        output = []
        while not any(line.startswith("Gradient Causes tab:") for line in output):
            line = process.stdout.readline()
            assert line, "demo exited early:\n" + "".join(output)
            output.append(line)
        tab_url = output[-1].split(": ", 1)[1].strip()
        assert tab_url.startswith("http://127.0.0.1:") and tab_url.endswith("/#gradcause")
        base = tab_url.removesuffix("/#gradcause")
        deadline = time.monotonic() + 60
        while "quick" not in json.load(urllib.request.urlopen(base + "/data/plugin/gradcause/runs"))["runs"]:
            assert time.monotonic() < deadline, "the demo run never appeared"
            time.sleep(0.25)
        assert (logdir / "quick" / demo_command.COMPLETE_MARKER).exists()

        process.send_signal(stop_signal)
        assert process.wait(timeout=30) == exit_code
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(base + "/data/plugins_listing", timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_stopping_does_not_wait_for_a_tensorboard_that_ignores_sigterm():
    """A TensorBoard stuck in its exit (threads still serving) is killed with its group after the grace time."""
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"],
        start_new_session=True,
    )
    time.sleep(0.5)  # the handler is installed
    server = tb_process.TensorBoardProcess(stubborn, 0, pathlib.Path(os.devnull))
    started = time.monotonic()
    server.stop()  # the default grace time
    assert stubborn.poll() == -signal.SIGKILL and time.monotonic() - started < 10


def test_ctrl_c_while_tensorboard_starts_stops_the_demo_without_a_traceback(
    tmp_path, quick_scenario, monkeypatch, capsys
):
    def interrupted_start(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(tb_process, "start_tensorboard", interrupted_start)
    status = cli.main(["demo", "--logdir", str(tmp_path / "d"), "--scenarios", "quick", "--no-browser"])
    assert status == demo_command.EXIT_INTERRUPTED and "interrupted" in capsys.readouterr().err
