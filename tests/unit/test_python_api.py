"""`tb_gradcause.diagnose`: the causes as objects, whose JSON is the CLI's, and the README's example."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np

import tb_gradcause
from tb_gradcause.analysis import engine
from tb_gradcause.analysis.causes import Cause, Evidence, RunDiagnosis
from tb_gradcause.testing import synthetic
from tests.support import synth_runs as sr

README = Path(__file__).resolve().parents[2] / "README.md"
LAYERS = synthetic.mlp(3, units=4)


def _broken_run() -> dict:
    """Gradients of dense_1 NaN from step 200 on, and the loss from step 201."""
    data = synthetic.healthy_run(LAYERS, 300, every=10, n_features=4, seed=1)
    grads = data["gradients"]
    grads.stat("nan")[np.ix_(grads.steps >= 200, grads.rows_of("dense_1"))] = 3
    data["loss"].stat("value")[201:] = np.nan
    return data


def test_diagnose_returns_objects_whose_json_is_the_engines(tmp_path):
    data = _broken_run()
    synthetic.write_run(str(tmp_path), "run", data)
    [found] = tb_gradcause.diagnose(str(tmp_path)).values()
    assert isinstance(found, RunDiagnosis) and found.worst == "error"
    assert all(isinstance(c, Cause) and all(isinstance(e, Evidence) for e in c.evidence) for c in found.causes)
    assert found.to_json() == engine.analyze(sr.to_run(data))


def test_the_json_reads_back_into_the_same_objects_nan_included():
    found = engine.diagnose(sr.to_run(_broken_run()))
    found.causes[0].evidence[0] = Evidence("loss_rise", "smoothed loss over its best so far", math.nan, 2.0, ">=")
    text = json.dumps(found.to_json(), allow_nan=False)
    again = RunDiagnosis.from_json(json.loads(text))
    assert math.isnan(again.causes[0].evidence[0].value)
    assert json.dumps(again.to_json(), allow_nan=False) == text


def test_the_public_names_are_the_analysis_records():
    assert (tb_gradcause.RunDiagnosis, tb_gradcause.Cause, tb_gradcause.Evidence) == (RunDiagnosis, Cause, Evidence)
    assert set(tb_gradcause.__all__) >= {"diagnose", "RunDiagnosis", "Cause", "Evidence"}


def test_the_readme_python_api_example_runs(tmp_path, monkeypatch, capsys):
    text = README.read_text()
    section = text[text.index("From Python, `tb_gradcause.diagnose(") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None
    synthetic.write_run(str(tmp_path / "logs"), "broken", _broken_run())
    monkeypatch.chdir(tmp_path)
    exec(compile(match.group(1), str(README), "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert out.startswith("broken: worst error; checked nan_inf, ")
    assert "  error nan_inf in dense_1 at step 200: NaN/Inf first appears in the gradients of dense_1" in out
    assert "    NaN/Inf values in the gradients: 6 > 0 (gradients.nan+inf)" in out
