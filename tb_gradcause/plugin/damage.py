"""Damaged event files under TensorBoard's `--logdir`, for the tab's banners and its copied report.

TensorBoard's data provider stops at a truncated or corrupt record without a word, so a damaged
run would look like a shorter one. The plugin learns about damage from the files themselves, with
`analysis.integrity.check_file` (the CLI's check): it walks each file's record framing (lengths and
checksums) as TensorBoard's loader does, without importing TensorFlow, and decodes only the first
and last events' headers, never the summaries' values. Only a local `--logdir` is checked; a
remote one (gs://, s3://) or a `--logdir_spec` gets no check and so no banner.

Each file is checked once per (size, modification time), so a reload re-reads only files that
changed (a first check of a big logdir can stop at a deadline and go on at the next call), and only
once it has rested for `SETTLE_SECONDS`: a file still being written may end
mid-record until its writer flushes (tf.summary's writers flush every 120 s by default), and a live
run must not be called truncated.
"""

from __future__ import annotations

import math
import os
import threading
import time

from tb_gradcause.analysis import integrity

SETTLE_SECONDS = 120.0


class DamageCheck:
    """The damaged event files of a local logdir, checked file by file and cached."""

    def __init__(self, logdir: str | None) -> None:
        self.logdir = logdir if logdir and "://" not in logdir and os.path.isdir(logdir) else None
        self._checked: dict[str, tuple[tuple[int, int], integrity.Damage | None]] = {}
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        """Whether event files are checked at all (a local logdir)."""
        return self.logdir is not None

    def damaged(self, run: str | None = None, deadline: float = math.inf) -> tuple[list[integrity.Damage], int]:
        """Every damaged event file (of `run`, or all) that has rested for `SETTLE_SECONDS`, in run and
        path order, and how many files were left unchecked because `deadline` (`time.monotonic()`) passed."""
        if self.logdir is None:
            return [], 0
        found, unchecked = [], 0
        now = time.time()
        for name, path in integrity.event_files(self.logdir):
            if run is not None and name != run:
                continue
            try:
                stat = os.stat(path)
            except OSError:  # removed since the listing
                continue
            if not os.path.isfile(path) or now - stat.st_mtime < SETTLE_SECONDS:
                continue
            key = (stat.st_size, stat.st_mtime_ns)
            with self._lock:
                hit = self._checked.get(path)
            if hit is not None and hit[0] == key:
                damage = hit[1]
            elif time.monotonic() > deadline:
                unchecked += 1
                continue
            else:
                damage = self._check(path, name)
                with self._lock:
                    self._checked[path] = (key, damage)
            if damage is not None:
                found.append(damage)
        return found, unchecked

    @staticmethod
    def _check(path: str, run: str) -> integrity.Damage | None:
        try:
            return integrity.check_file(path, run)
        except OSError:  # unreadable or removed meanwhile: nothing to say about it
            return None
