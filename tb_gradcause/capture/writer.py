"""The callback's event file: written by the chief only, queued, and on disk when it matters.

Steps write without flushing: a flush syncs the file to disk, a cost on every step. The queue
goes to disk every few seconds (at the next step that writes), at once on a non-finite step (an
in-graph flush, `pending.write`), and at the end of each epoch, of training and of the process
(Ctrl-C, an uncaught exception: Keras' `fit` has no `finally`), each time after the loss rows
not yet written (`loss_chunks`).
"""

from __future__ import annotations

import atexit
import logging
import tempfile
import weakref
from typing import Any

import keras
import tensorflow as tf

from tb_gradcause import summary
from tb_gradcause.capture.loss_chunks import LossChunks

log = logging.getLogger("tb_gradcause")

# Events a writer queues before it writes them; after this long it writes them at the next step.
MAX_QUEUE = 1000
FLUSH_MILLIS = 5000


def create(model: keras.Model, train_dir: str, losses: LossChunks) -> tuple[tf.summary.SummaryWriter, str | None]:
    """The run's writer, flushed at exit (with `losses`' rows), and the scratch directory it
    writes to (to remove at the end of training) on a non-chief worker: those trace the same
    graph (collectives must match) into a writer nothing reaches."""
    scratch_dir = None if is_chief(model) else tempfile.mkdtemp(prefix="gradcause_worker_")
    writer = tf.summary.create_file_writer(scratch_dir or train_dir, max_queue=MAX_QUEUE, flush_millis=FLUSH_MILLIS)
    atexit.register(_flush_at_exit, weakref.ref(writer), weakref.ref(losses))
    return writer, scratch_dir


def flush(writer: tf.summary.SummaryWriter, losses: LossChunks) -> None:
    """Write the loss rows `losses` holds, then put the writer's queue on disk."""
    with summary.default_writer(writer):
        losses.flush()
    writer.flush()


def is_chief(model: keras.Model) -> bool:
    """True unless this process is a non-chief worker of a multi-worker strategy."""
    resolver = getattr(model.distribute_strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None)
    if resolver is None or task_type in (None, "chief"):
        return True
    has_chief = bool(resolver.cluster_spec().as_dict().get("chief"))
    return task_type == "worker" and resolver.task_id == 0 and not has_chief


def _flush_at_exit(writer_ref: weakref.ref[Any], losses_ref: weakref.ref[Any]) -> None:
    writer, losses = writer_ref(), losses_ref()
    if writer is not None and losses is not None:
        try:
            flush(writer, losses)
        except Exception:  # the writer may be closed, or TensorFlow shutting down
            log.debug("tb_gradcause: no flush at exit", exc_info=True)
