"""The loss row of every step, written a chunk of steps per summary, and read back step by step."""

import glob
import os

import numpy as np
import pytest
import tensorflow as tf
from tensorboard import context
from tensorboard.backend.event_processing import event_file_loader

from tb_gradcause import metadata, summary
from tb_gradcause.analysis import reader
from tb_gradcause.capture import pending, writer
from tb_gradcause.capture.cadence import Mode
from tb_gradcause.capture.check import SpikeWatch, check_step
from tb_gradcause.capture.config import CaptureConfig
from tb_gradcause.capture.loss_chunks import CHUNK, LossChunks
from tb_gradcause.capture.step import StepCapture
from tb_gradcause.rows import RowInfo
from tb_gradcause.testing import synthetic
from tests.unit.test_reader import _rustboard

GRAD_ROWS = [RowInfo(name="dense/kernel", layer="dense", role="kernel", depth=0)]


class Steps:
    """Training steps as the callback checks, plans and writes them (`StepCapture._plan`,
    `pending.write` with its `LossChunks`), without a model: a gradient record stands for a capture."""

    def __init__(self, train_dir: str):
        # No flush of the writer's own: what is on disk is what the steps flushed.
        self.events = tf.summary.create_file_writer(train_dir, max_queue=10**6, flush_millis=10**9)
        self.losses = LossChunks()
        config = CaptureConfig.from_arguments(None, None, True, metadata.MAX_INPUT_FEATURES, metadata.SAMPLE_UNITS)
        capture = StepCapture(None, config, tf.Variable(0, dtype=tf.int64), SpikeWatch(), self.events, self.losses)

        @tf.function
        def run(steps: tf.Tensor, losses: tf.Tensor) -> None:
            for i in tf.range(tf.size(steps)):
                step, loss = steps[i], losses[i]
                check = check_step(loss, [tf.fill([2], loss)], scaled=False, spikes=capture.spikes)
                plan = capture._plan(step, config.cadence.in_graph(Mode.IN_GRAPH, step), check, tf.constant(0.5), None)
                grads = summary.Record(
                    "gradients", GRAD_ROWS, tf.fill([1, len(metadata.KIND_STATS["gradients"])], loss)
                )
                with summary.default_writer(self.events):
                    pending.write(plan, lambda plan=plan, grads=grads: [plan.pulse, grads], capture.chunks)

        self._run = run

    def run(self, steps, losses) -> None:
        self._run(tf.constant(list(steps), tf.int64), tf.constant(losses, tf.float32))

    def end(self) -> None:
        """As at the end of training (`callback.on_train_end`)."""
        writer.flush(self.events, self.losses)


def loss_events(train_dir: str) -> list[tuple[int, tuple[int, ...]]]:
    """(step, shape) of each loss summary on disk, in write order."""
    found = []
    for path in sorted(glob.glob(os.path.join(train_dir, "events*"))):
        for event in event_file_loader.EventFileLoader(path).Load():
            for value in event.summary.value:
                if value.tag.startswith(f"{metadata.TAG_PREFIX}/loss/"):
                    found.append((event.step, tuple(d.size for d in value.tensor.tensor_shape.dim)))
    return found


def test_the_loss_of_every_step_is_read_back_from_one_summary_per_100_steps(tmp_path):
    train_dir = str(tmp_path / "run" / "train")
    steps = Steps(train_dir)
    values = np.linspace(2.0, 1.0, 250, dtype=np.float32)
    steps.run(range(250), values)
    steps.end()
    assert loss_events(train_dir) == [(0, (CHUNK, 4)), (100, (CHUNK, 4)), (200, (50, 4))]
    run = reader.read_logdir(str(tmp_path))["run/train"]
    loss = run["loss"]
    np.testing.assert_array_equal(loss.steps, np.arange(250))
    np.testing.assert_array_equal(loss.stat("value")[:, 0], values)
    np.testing.assert_array_equal(loss.values[:, 0, 1:], np.tile([0.5, 1.0, 0.0], (250, 1)))
    assert loss.stat("value").flags.c_contiguous
    # The cadence's captures are unchanged, and hold no loss record of their own.
    np.testing.assert_array_equal(run["gradients"].steps, [*range(0, 100, 10), *range(100, 250, 25)])
    np.testing.assert_array_equal(run["gradients"].stat("l2")[:, 0], values[run["gradients"].steps])
    size = sum(os.path.getsize(f) for f in glob.glob(os.path.join(train_dir, "*")))
    assert size < 250 * 20 + 13 * 200 + 2000  # ~17 B per step's loss (100 B as one summary per step)


def test_a_non_finite_step_puts_the_loss_right_up_to_it_on_disk(tmp_path):
    """Training may die right after a NaN: its capture writes the loss rows held before its flush."""
    train_dir = str(tmp_path / "run" / "train")
    values = np.full(137, 0.5, np.float32)
    values[136] = np.nan
    Steps(train_dir).run(range(137), values)  # no end of training
    loss = reader.read_logdir(str(tmp_path))["run/train"]["loss"]
    np.testing.assert_array_equal(loss.steps, np.arange(137))
    assert np.isnan(loss.stat("value")[-1, 0]) and np.isfinite(loss.stat("value")[:-1]).all()


def test_spikes_and_non_finite_steps_late_in_a_long_run_are_captured_in_full(tmp_path):
    """Past step 1,000,000 the cadence captures every 10,000 steps; a loss spike and a NaN between
    two captures are captured where they strike, and the loss of every step up to the NaN is on disk."""
    train_dir = str(tmp_path / "run" / "train")
    start = 1_234_500
    values = np.full(200, 0.5, np.float32)
    values[67] = 50.0  # 10x every loss before it
    values[150] = np.inf
    Steps(train_dir).run(range(start, start + 200), values)
    run = reader.read_logdir(str(tmp_path))["run/train"]
    np.testing.assert_array_equal(run["gradients"].steps, [start + 67, start + 150])
    np.testing.assert_array_equal(run["loss"].steps, np.arange(start, start + 151))
    np.testing.assert_array_equal(run["loss"].stat("value")[:, 0], values[:151])


def test_steps_that_do_not_follow_the_last_one_start_a_new_summary(tmp_path):
    """A custom loop may skip steps or go back: rows are never assigned to steps they were not logged at."""
    train_dir = str(tmp_path / "run" / "train")
    steps = Steps(train_dir)
    order = [*range(0, 10), *range(50, 55), *range(20, 25)]
    steps.run(order, np.arange(len(order), dtype=np.float32))
    steps.end()
    assert loss_events(train_dir) == [(0, (10, 4)), (50, (5, 4)), (20, (5, 4))]
    loss = reader.read_logdir(str(tmp_path))["run/train"]["loss"]
    # A write at step 20 replaces the earlier ones at steps >= 20 (a restart), as TensorBoard does.
    np.testing.assert_array_equal(loss.steps, [*range(10), *range(20, 25)])
    np.testing.assert_array_equal(loss.stat("value")[:, 0], [*range(10), *range(15, 20)])


def _write_chunks(path: str) -> None:
    rows = synthetic.layer_rows("loss", [])
    with synthetic.RunWriter(path) as events:
        events.write("loss", 0, rows, np.arange(400, dtype=np.float32).reshape(100, 4), wall_time=10.0)
        events.write("loss", 100, rows, np.full((1, 4), -1.0), wall_time=11.0)  # one step per summary
        events.write("loss", 101, rows, np.zeros((3, 3)), wall_time=12.0)  # not loss rows: dropped
        events.write("loss", 50, rows, np.full((10, 4), 7.0), wall_time=13.0)  # a restart at step 50


def test_both_loaders_spread_chunks_and_restarts_alike(tmp_path):
    _write_chunks(str(tmp_path / "run"))
    python = reader.logdir_provider(str(tmp_path))
    ctx = context.RequestContext()
    ingester = _rustboard(str(tmp_path), python)
    try:
        for provider in (python, ingester.data_provider):
            loss = reader.read_run(provider, ctx, "", "run")["loss"]
            np.testing.assert_array_equal(loss.steps, np.arange(60))
            np.testing.assert_array_equal(loss.stat("value")[:, 0], [*range(0, 200, 4), *[7.0] * 10])
            np.testing.assert_array_equal(loss.wall_times, [10.0] * 50 + [13.0] * 10)
    finally:
        ingester._stdin_handle.close()  # the data server exits when its stdin closes


@pytest.mark.parametrize("shape", [(2, 4, 1), (0, 4)])
def test_odd_loss_samples_are_dropped_or_empty(tmp_path, shape):
    rows = synthetic.layer_rows("loss", [])
    with synthetic.RunWriter(str(tmp_path / "run")) as events:
        events.write("loss", 0, rows, np.zeros((2, 4)))
        events.write("loss", 2, rows, np.zeros(shape))
    np.testing.assert_array_equal(reader.read_logdir(str(tmp_path))["run"]["loss"].steps, [0, 1])
