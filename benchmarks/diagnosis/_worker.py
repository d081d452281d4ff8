"""Run one diagnosis-benchmark case in this (fresh) process; used by `run.py`, one subprocess per case.

    python benchmarks/diagnosis/_worker.py CASE RUN_DIR RECORD_JSON [--threads N]

Trains the case with `[tb_gradcause.GradCauseCallback(RUN_DIR), StepRecorder()]` and writes
RECORD_JSON: status, wall and CPU seconds (from before the imports), the number of training batches, the loss after every batch
(Keras' running mean over the epoch, as `fit` reports it), the epoch losses, and the first step
whose loss was NaN/Inf (None if it stayed finite). A case that raises is recorded with its
traceback (status "crashed"); the record is written before the exception ends the process.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))


def _float(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def make_recorder():
    import keras

    class StepRecorder(keras.callbacks.Callback):
        """The loss after every training batch and the global step, counted like tb_gradcause:
        every training batch from 0, across epochs."""

        def __init__(self) -> None:
            super().__init__()
            self.step = 0
            self.batch_losses: list[float | None] = []
            self.epoch_losses: list[float | None] = []
            self.first_nonfinite_step: int | None = None

        def on_train_batch_end(self, batch, logs=None):
            loss = _float((logs or {}).get("loss"))
            self.batch_losses.append(loss)
            if self.first_nonfinite_step is None and loss is not None and not math.isfinite(loss):
                self.first_nonfinite_step = self.step
            self.step += 1

        def on_epoch_end(self, epoch, logs=None):
            self.epoch_losses.append(_float((logs or {}).get("loss")))

    return StepRecorder()


def _json_number(value):
    if value is None or math.isfinite(value):
        return value
    return str(value)  # "nan", "inf", "-inf": JSON has no literal for them


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case")
    parser.add_argument("run_dir")
    parser.add_argument("record")
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow intra-op threads (0: default)")
    args = parser.parse_args(argv)

    record: dict = {"case": args.case, "status": "crashed", "error": None}
    started, cpu_started = time.perf_counter(), time.process_time()
    recorder = None
    try:
        # the case is imported as `cases.<name>`: `from . import _common` and `from cases import
        # _common` work; the repository root goes last (for `from benchmarks.diagnosis.cases import
        # ...`), so that it cannot shadow the tb_gradcause the environment provides
        sys.path.insert(0, HERE)
        sys.path.append(os.path.dirname(os.path.dirname(HERE)))
        # the case first: a case may set TensorFlow environment options before TensorFlow loads
        module = importlib.import_module(f"cases.{args.case}")
        import tensorflow as tf

        if args.threads > 0:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(args.threads)
                tf.config.threading.set_inter_op_parallelism_threads(args.threads)
            except RuntimeError:  # the runtime was already initialized by the case's import
                pass
        import tb_gradcause

        recorder = make_recorder()
        module.run(args.run_dir, [tb_gradcause.GradCauseCallback(args.run_dir), recorder])
        record["status"] = "ok"
    except BaseException:  # noqa: BLE001 - anything the case raises is part of the result
        record["error"] = traceback.format_exc()
    finally:
        record["seconds"] = round(time.perf_counter() - started, 2)
        record["cpu_seconds"] = round(time.process_time() - cpu_started, 2)  # all threads
        if recorder is not None:
            record["steps"] = recorder.step
            record["first_nonfinite_step"] = recorder.first_nonfinite_step
            record["batch_losses"] = [_json_number(v) for v in recorder.batch_losses]
            record["epoch_losses"] = [_json_number(v) for v in recorder.epoch_losses]
        with open(args.record, "w") as f:
            json.dump(record, f)
    return 0 if record["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
