"""Real Keras training with a huge but finite kernel (max |w| = 1e20, whose float32 sum of squares
overflows): its recorded norm is finite and right, its NaN/Inf counts 0, and no cause says NaN."""

from __future__ import annotations

import os

import keras
import numpy as np

from tb_gradcause import GradCauseCallback
from tb_gradcause.analysis import engine, reader


def test_a_kernel_of_1e20_has_a_finite_norm_and_no_nan_cause(tmp_path):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(320, 8)).astype("float32")
    x[:, 7] = 0.0  # the huge weight multiplies a feature that is always 0: training stays finite
    y = (x[:, :3].sum(axis=1) > 0).astype("float32")[:, None]
    kernel = rng.normal(scale=0.3, size=(8, 16)).astype("float32")
    kernel[7, 0] = 1e20
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, "relu", name="hidden", kernel_initializer=keras.initializers.Constant(kernel)),
            keras.layers.Dense(1, "sigmoid", name="out"),
        ]
    )
    model.compile("adam", "binary_crossentropy")
    model.fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[GradCauseCallback(str(tmp_path), every_n_steps=5)])
    [run] = reader.read_logdir(os.fspath(tmp_path)).values()
    weights = run["weights"]
    [row] = [i for i, r in enumerate(weights.rows) if r.name == "hidden/kernel"]
    norm = weights.stat("norm")[:, row]
    np.testing.assert_allclose(norm, 1e20, rtol=1e-4)
    assert (weights.stat("nan") == 0).all() and (weights.stat("inf") == 0).all()
    updates = weights.stat("update_norm")[:, row]
    assert np.isfinite(updates).all() and (updates > 0).all()
    causes = engine.analyze(run)["events"]
    assert "nan_inf" not in [c["kind"] for c in causes]
