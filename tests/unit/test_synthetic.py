"""The synthetic run writer used by tests and benchmarks."""

import subprocess
import sys

import numpy as np

from tb_gradcause import metadata
from tb_gradcause.testing import synthetic


def test_healthy_run_has_every_kind_with_the_callbacks_rows_and_finite_values():
    layers = synthetic.mlp(3, units=5) + [synthetic.Layer("lstm", 4, "tanh", "LSTM", recurrent=True, bias=False)]
    data = synthetic.healthy_run(layers, 25, every=5, n_features=6)
    assert set(data) == set(metadata.SUMMARY_KINDS) - {"nan_origin"}  # only a non-finite step's replay writes it
    for kind, kd in data.items():
        assert kd.values.shape == (len(kd.steps), len(kd.rows), len(metadata.KIND_STATS[kind]))
        assert np.isfinite(kd.values).all()
    assert len(data["loss"].steps) == 25 and data["gradients"].steps.tolist() == [0, 5, 10, 15, 20]
    assert [row.name for row in data["gradients"].rows][-2:] == ["lstm/kernel", "lstm/recurrent_kernel"]
    assert len(data["inputs"].rows) == 6 and [row.name for row in data["backward_time"].rows] == ["lstm"]
    assert data["weights"].rows_of("dense_1") == [2, 3]
    ratio = data["weights"].stat("update_ratio")
    assert (1e-5 < ratio).all() and (ratio < 1e-2).all()
    relu = data["activations"].stat("zero_frac")[:, 0]
    assert (relu > 0.3).all() and (data["activations"].stat("dead_frac") < 0.1).all()


def test_stat_is_a_writable_view_for_injecting_problems():
    data = synthetic.healthy_run(synthetic.mlp(2), 4, kinds=["gradients"])
    data["gradients"].stat("nan")[2, data["gradients"].rows_of("dense_0")] = 3
    assert data["gradients"].values[2, 0, data["gradients"].stats.index("nan")] == 3


def test_writing_does_not_import_tensorflow(tmp_path):
    code = (
        "import sys; from tb_gradcause.testing import synthetic; "
        f"synthetic.write_run({str(tmp_path)!r}, 'r', synthetic.healthy_run(synthetic.mlp(2), 3)); "
        "sys.exit('tensorflow' in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert len(list((tmp_path / "r").glob("events.out.tfevents.*"))) == 1
