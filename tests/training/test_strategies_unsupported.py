"""GradCauseCallback under a strategy it does not support: one warning, no logging, training unchanged.

ParameterServerStrategy is real, over in-process servers, in a subprocess (connecting to a cluster
changes the process' eager context). TPUStrategy cannot be built without a TPU: its detection is
tested on the class (tests/unit/test_strategy_support.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

WORKER = """
import json, socket, sys, warnings
import numpy as np
import tensorflow as tf
import keras
from tb_gradcause import GradCauseCallback

def port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

spec = tf.train.ClusterSpec({job: [f"localhost:{port()}"] for job in ("chief", "worker", "ps")})
servers = [tf.distribute.Server(spec, job_name=job, task_index=0, start=True) for job in ("worker", "ps")]
resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(spec, rpc_layer="grpc", task_type="chief", task_id=0)
strategy = tf.distribute.experimental.ParameterServerStrategy(resolver)
with strategy.scope():
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.05), "mse")
x = np.random.default_rng(0).normal(size=(64, 6)).astype("float32")

def fit(callbacks):
    try:
        model.fit(x, x[:, :1], batch_size=16, epochs=1, verbose=0, callbacks=callbacks)
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return "ok"

log_dir = sys.argv[1]
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    plain = fit([])
    with_callback = fit([GradCauseCallback(log_dir)])
    # Keras' fit stops before any callback runs: drive the callback as fit would.
    hooks = keras.callbacks.CallbackList([GradCauseCallback(log_dir)], model=model)
    for _ in range(2):
        hooks.on_train_begin()
        hooks.on_train_batch_begin(0)
        hooks.on_epoch_end(0)
    hooks.on_train_end()
print(json.dumps({
    "plain": plain,
    "with_callback": with_callback,
    "warnings": [str(w.message) for w in caught if "tb_gradcause" in str(w.message)],
    "train_function": repr(model.train_function),
}))
"""


def test_parameter_server_strategy_disables_logging_with_one_warning(tmp_path):
    root = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": root}
    proc = subprocess.run(
        [sys.executable, "-c", WORKER, str(tmp_path)], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # Keras 3's own fit does not run under ParameterServerStrategy; the callback changes nothing to that.
    assert result["with_callback"] == result["plain"]
    assert result["plain"].startswith("ValueError: To use this dataset, you need to pass this dataset to Cluster")
    assert result["warnings"] == [
        "tb_gradcause: logging disabled, training continues unchanged: ParameterServerStrategyV2 is not supported "
        "(supported: no strategy, OneDeviceStrategy, MirroredStrategy, MultiWorkerMirroredStrategy)"
    ]
    assert result["train_function"] == "None"  # no train function of ours
    assert not os.listdir(tmp_path)  # nothing written
