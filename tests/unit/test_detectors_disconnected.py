"""disconnected_gradient: None/zero gradients and layers whose output ignores their input."""

from __future__ import annotations

from tb_gradcause.testing import synthetic
from tests.support import synth_runs as sr


def _constant_output(data, layer: str) -> None:
    data["activations"].stat("batch_std")[:, data["activations"].rows_of(layer)] = 0.0


def test_variables_that_never_get_a_gradient():
    data = sr.healthy()
    sr.no_gradient(data, "dense_2")
    [event] = sr.events(data, "disconnected_gradient")
    assert (event["layer"], event["severity"], event["first_step"]) == ("dense_2", "warning", 0)
    assert "None" in event["title"] and "dense_2/kernel" in event["advice"]


def test_only_exact_zero_gradients():
    data = sr.healthy()
    sr.no_gradient(data, "dense_1", missing=False)
    [event] = sr.events(data, "disconnected_gradient")
    assert event["layer"] == "dense_1" and "exact-zero" in event["title"]


def test_zero_gradients_behind_a_fully_dead_relu_layer_are_dead_relus_business():
    data = sr.healthy()
    data["activations"].stat("dead_frac")[:, data["activations"].rows_of("dense_2")] = 1.0
    data["activations"].stat("max_abs")[:, data["activations"].rows_of("dense_2")] = 0.0
    for layer in ("dense_0", "dense_1", "dense_2"):
        sr.no_gradient(data, layer, missing=False)
    kinds = [e["kind"] for e in sr.events(data)]
    assert "dead_relu" in kinds and "disconnected_gradient" not in kinds


def test_a_layer_ignoring_its_input_is_the_cut_upstream_variables_are_its_evidence():
    data = sr.healthy()
    _constant_output(data, "dense_1")
    _constant_output(data, "dense_2")  # everything after a constant is constant too
    sr.no_gradient(data, "dense_0")
    [event] = sr.events(data, "disconnected_gradient")
    assert event["layer"] == "dense_1" and "does not use `inputs`" in event["advice"]
    assert any("dense_0/kernel" in e["note"] for e in event["evidence"])


def test_an_input_independent_layer_in_a_model_that_learns_is_fine():
    data = sr.healthy()
    _constant_output(data, "dense_1")  # e.g. learned position embeddings added later
    assert sr.events(data, "disconnected_gradient") == []


def test_a_gradual_collapse_over_many_layers_is_not_a_cut():
    data = sr.healthy(sr.mlp(8, "sigmoid"))
    sr.flat_loss(data)
    kd = data["activations"]
    for depth in range(7):
        kd.stat("batch_std")[:, kd.rows_of(f"dense_{depth}")] *= 0.05**depth
    assert sr.events(data, "disconnected_gradient") == []


def test_zero_gradients_of_a_layer_that_died_early_in_training_are_dead_relus_business():
    data = sr.healthy()
    kd = data["activations"]
    kd.stat("dead_frac")[sr.at(kd, 10), kd.rows_of("dense_1")[0]] = 1.0
    for layer in ("dense_0", "dense_1", "dense_2"):
        sr.no_gradient(data, layer, missing=False)
    kinds = [e["kind"] for e in sr.events(data)]
    assert "dead_relu" in kinds and "disconnected_gradient" not in kinds


def _zero_backward(data, layer: str) -> None:
    for stat in ("l2", "mean", "std", "min", "max", "max_abs"):
        data["backward"].stat(stat)[:, data["backward"].rows_of(layer)] = 0


def test_the_layer_that_zeroes_the_gradient_is_named_not_the_layers_it_starves():
    """A custom op (or a one-unit softmax) whose input gets exactly 0 while its output's gradient flows."""
    data = sr.healthy(sr.mlp(5))
    for layer in ("dense_0", "dense_1", "dense_2"):
        sr.no_gradient(data, layer, missing=False)
        _zero_backward(data, layer)
    sr.no_gradient(data, "dense_3", missing=False)  # its own kernel too: its output's gradient stops inside it
    [event] = sr.events(data, "disconnected_gradient")
    assert event["layer"] == "dense_3" and "passes no gradient back" in event["title"]
    assert all(f"dense_{i}" in event["advice"] for i in range(3))


def test_an_unused_branch_before_a_used_layer_is_no_blocker():
    data = sr.healthy(sr.mlp(5))
    sr.no_gradient(data, "dense_1", missing=False)
    _zero_backward(data, "dense_1")  # dense_0 before it still gets a gradient: rows are no graph
    [event] = sr.events(data, "disconnected_gradient")
    assert event["layer"] == "dense_1"


def test_a_one_unit_softmax_output_is_constant_even_while_the_loss_falls():
    layers = [synthetic.Layer("hidden", 16, "relu"), synthetic.Layer("probs", 1, "softmax")]
    data = sr.healthy(layers)
    acts = data["activations"]
    for stat, value in (("batch_std", 0.0), ("std", 0.0), ("min", 1.0), ("max", 1.0), ("max_abs", 1.0)):
        acts.stat(stat)[:, acts.rows_of("probs")] = value
    acts.stat("saturated_frac")[:, acts.rows_of("probs")] = 1.0
    [event] = sr.events(data, "disconnected_gradient")
    assert event["layer"] == "probs" and "does not depend on its input" in event["title"]


def test_a_one_unit_softmax_is_the_cut_even_when_no_batch_varies():
    """Its output is 1 whatever its input: batches of one class each (no layer varies within a
    batch) or dead units before it do not explain it away."""
    layers = [synthetic.Layer("hidden", 16, "relu"), synthetic.Layer("probs", 1, "softmax")]
    data = sr.healthy(layers)
    acts = data["activations"]
    acts.stat("batch_std")[:] = 0.0
    data["inputs"].stat("std")[:] = 0.0
    for stat, value in (("std", 0.0), ("min", 1.0), ("max", 1.0), ("max_abs", 1.0)):
        acts.stat(stat)[:, acts.rows_of("probs")] = value
    acts.stat("saturated_frac")[:, acts.rows_of("probs")] = 1.0
    assert [e["layer"] for e in sr.events(data, "disconnected_gradient")] == ["probs"]


def test_a_layer_that_learns_is_no_blocker_even_after_a_starved_branch_in_forward_order():
    """`stop_gradient` on a side branch listed first: the used layer after it learns, so it passes
    its gradient on; the starved branch itself is named."""
    data = sr.healthy(sr.mlp(4))
    sr.no_gradient(data, "dense_0", missing=False)
    _zero_backward(data, "dense_0")
    [event] = sr.events(data, "disconnected_gradient")
    assert event["layer"] == "dense_0" and "gets only exact-zero gradients" in event["title"]


def _zero_bias(data, layer: str, missing: bool) -> None:
    kd = data["gradients"]
    rows = sr.layer_rows(kd, layer, "bias")
    for stat in ("l2", "mean", "std", "min", "max", "max_abs"):
        kd.stat(stat)[:, rows] = 0
    kd.stat("zero_frac")[:, rows] = 1
    if missing:
        kd.stat("missing")[:, rows] = 1


def test_an_exact_zero_bias_beside_a_kernel_that_learns_is_redundant_not_disconnected():
    """A WGAN critic's output bias: the loss mean(fake) - mean(real) does not change when every
    score shifts by one constant, so its gradient is exactly 0 while the kernel learns."""
    data = sr.healthy()
    _zero_bias(data, "dense_3", missing=False)
    assert sr.events(data, "disconnected_gradient") == []
    data = sr.healthy()
    _zero_bias(data, "dense_3", missing=True)  # None: a bias the layer's `call` never uses
    [event] = sr.events(data, "disconnected_gradient")
    assert event["layer"] == "dense_3" and "dense_3/bias" in event["advice"]
