"""Which event files under a logdir TensorBoard's loader cannot read to their end, and where they break.

TensorBoard's loader stops at the first unreadable record of a file without a word (a file being
written ends mid-record until the writer catches up), so a truncated or corrupt file would read as
a shorter run. This check walks each file with that same loader, counts the bytes it accepts and
compares them with the file's size, so a report can say which file breaks, where, and after which
step its data may be missing. Local files are walked with `no_tensorflow.verified_records` (the
framing and checksums the loader checks, tested against TensorFlow's reader) unless TensorFlow is
loaded already: importing it would cost the tab's first request seconds. Remote ones (gs://,
s3://) are read with TensorBoard's loader and `tf.io.gfile`.
"""

from __future__ import annotations

import dataclasses
import os
import struct
import sys
from collections.abc import Iterator

from tensorboard.backend.event_processing import event_file_loader, io_wrapper
from tensorboard.compat import tf
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

from tb_gradcause.analysis import no_tensorflow

# A TFRecord: uint64 length, uint32 masked CRC of the length, the data, uint32 masked CRC of the data.
HEADER_BYTES = 12
FRAMING_BYTES = 16


@dataclasses.dataclass(frozen=True)
class Damage:
    """An event file that TensorBoard reads only up to `offset` of its `size` bytes."""

    run: str  # as TensorBoard names it: the file's directory relative to the logdir ("." for the logdir)
    path: str
    offset: int  # bytes read before the break
    size: int
    problem: str  # "truncated", "corrupt" or "not an event file"
    last_step: int | None  # the step of the last event read before the break (None: nothing read)

    def describe(self) -> str:
        """One sentence for people: the file, where it breaks and what may be missing."""
        if self.problem == "not an event file":
            return f"{self.path}: not an event file ({self.size:,} bytes); nothing in it was read"
        where = f"{self.path}: {self.problem} at byte {self.offset:,} of {self.size:,}"
        after = "its first event" if self.last_step is None else f"step {self.last_step}"
        lost = self.size - self.offset
        return f"{where}; {lost:,} bytes after {after} were not read, so later steps of run {self.run!r} may be missing"

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def check_logdir(logdir: str) -> list[Damage]:
    """Every event file under `logdir` that TensorBoard's loader cannot read to its end."""
    found = []
    for run, path in event_files(logdir):
        damage = check_file(path, run)
        if damage is not None:
            found.append(damage)
    return found


def event_files(logdir: str) -> Iterator[tuple[str, str]]:
    """(run, path) of every event file under `logdir` in run and path order, the run named as
    TensorBoard names it (the file's directory relative to the logdir, "." for the logdir)."""
    if _local(logdir):
        for directory, _, names in sorted(os.walk(logdir)):
            for name in sorted(names):
                if "tfevents" in name:
                    yield os.path.relpath(directory, logdir), os.path.join(directory, name)
        return
    for directory in sorted(io_wrapper.GetLogdirSubdirectories(logdir)):
        for path in sorted(io_wrapper.ListDirectoryAbsolute(directory)):
            if io_wrapper.IsTensorFlowEventsFile(path) and not tf.io.gfile.isdir(path):
                yield os.path.relpath(directory, logdir), path


def check_file(path: str, run: str) -> Damage | None:
    """The damage of one event file, or None if the loader reads it to its last byte."""
    # TensorFlow's reader if it is loaded (C++ checksums, ~10x faster); a local file never imports it.
    scan = _scan_local if _local(path) and "tensorflow" not in sys.modules else _scan_with_loader
    offset, first, last = scan(path)
    size = os.stat(path).st_size if _local(path) else tf.io.gfile.stat(path).length
    if size == 0:  # a writer that has not flushed yet
        return None
    problem = _problem(path, offset, size) if offset < size else None
    if not _is_event_file(first) and not (first is None and problem == "truncated"):
        return Damage(run, path, 0, size, "not an event file", None)
    if problem is None:
        return None
    return Damage(run, path, offset, size, problem, _step(last))


def _is_event_file(first: bytes | None) -> bool:
    """Whether a file's first record is the `file_version` event every event writer starts with."""
    if first is None:
        return False
    try:
        return event_pb2.Event.FromString(first).file_version.startswith("brain.Event:")
    except Exception:  # noqa: BLE001 - protobuf raises DecodeError or RuntimeWarning-like errors alike
        return False


def _local(path: str) -> bool:
    return "://" not in path


def _scan_local(path: str) -> tuple[int, bytes | None, bytes | None]:
    """(bytes read, first record, last record) of a local event file, read as the loader reads it."""
    offset, first, last, unread = 0, None, None, b""
    with open(path, "rb") as f:
        while True:
            more = f.read(no_tensorflow.READ_BYTES)
            data = unread + more
            records, stop, corrupt = no_tensorflow.verified_records(data)
            if records:
                (a, m), (b, n) = records[0], records[-1]
                first = data[a : a + m] if first is None else first
                last = data[b : b + n]
            offset += stop
            unread = data[stop:]
            if corrupt or len(more) < no_tensorflow.READ_BYTES:
                return offset, first, last


def _scan_with_loader(path: str) -> tuple[int, bytes | None, bytes | None]:
    """(bytes read, first record, last record) of an event file, read by TensorBoard's loader."""
    offset, first, last = 0, None, None
    for record in event_file_loader.RawEventFileLoader(path).Load():
        offset += len(record) + FRAMING_BYTES
        first = record if first is None else first
        last = record
    return offset, first, last


def _problem(path: str, offset: int, size: int) -> str:
    """'truncated' if the record at `offset` has an intact header and runs past the end of the
    file, else 'corrupt' (garbage bytes, or a record whose checksum fails)."""
    with open(path, "rb") if _local(path) else tf.io.gfile.GFile(path, "rb") as f:
        header = f.read(offset + HEADER_BYTES)[offset:]  # TensorBoard's stub GFile cannot seek
    if len(header) < HEADER_BYTES:
        return "truncated"
    (length,) = struct.unpack("<Q", header[:8])
    if struct.unpack("<I", header[8:])[0] != masked_crc32c(header[:8]):
        return "corrupt"
    return "truncated" if offset + length + FRAMING_BYTES > size else "corrupt"


def _step(record: bytes | None) -> int | None:
    return None if record is None else int(event_pb2.Event.FromString(record).step)
