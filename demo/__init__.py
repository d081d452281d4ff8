"""Demo scenarios: small training programs with a known bug (or none), each writing one run.

Each scenario module has `NAME` (its run under the logdir), `EXPECTED` (the causes tb_gradcause should
report, `[]` for a healthy control) and `run(logdir)`; `python demo/<name>.py LOGDIR` runs one.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType

from tb_gradcause.demo import (
    custom_gradient_zero,
    custom_layer_ignores_inputs,
    dead_relu_bias,
    exp_overflow_nan,
    exploding_deep_init,
    healthy_cnn_batchnorm,
    healthy_confident_classifier,
    healthy_deep_relu_sgd,
    healthy_dense_batchnorm_sgd,
    healthy_embedding_text,
    healthy_gru_two_inputs,
    healthy_lstm_short,
    healthy_mlp_adam,
    inf_input,
    input_scale_mixed,
    log_zero_loss,
    loss_broadcast_subclass,
    lr_too_high,
    rnn_long_sequence,
    saturated_tanh_init,
    sentinel_outliers,
    sigmoid_bce_saturation,
    unscaled_target_sgd,
    unused_branch,
    vanishing_sigmoid_stack,
)

SCENARIOS: tuple[ModuleType, ...] = (
    sigmoid_bce_saturation,
    input_scale_mixed,
    sentinel_outliers,
    custom_layer_ignores_inputs,
    unused_branch,
    exp_overflow_nan,
    inf_input,
    log_zero_loss,
    exploding_deep_init,
    vanishing_sigmoid_stack,
    rnn_long_sequence,
    dead_relu_bias,
    saturated_tanh_init,
    lr_too_high,
    unscaled_target_sgd,
    loss_broadcast_subclass,
    custom_gradient_zero,
    healthy_mlp_adam,
    healthy_cnn_batchnorm,
    healthy_lstm_short,
    healthy_confident_classifier,
    healthy_dense_batchnorm_sgd,
    healthy_deep_relu_sgd,
    healthy_embedding_text,
    healthy_gru_two_inputs,
)


def write_all(logdir: str, names: Iterable[str] | None = None) -> list[str]:
    """Run the named scenarios (all by default) in order, each writing its run under `logdir`.

    Returns the names run; raises ValueError for an unknown name before training anything.
    """
    by_name = {scenario.NAME: scenario for scenario in SCENARIOS}
    wanted = list(by_name) if names is None else list(names)
    unknown = [name for name in wanted if name not in by_name]
    if unknown:
        raise ValueError(f"unknown demo scenario(s) {unknown}; known: {sorted(by_name)}")
    for name in wanted:
        by_name[name].run(logdir)
    return wanted
