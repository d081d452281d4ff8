"""Read local logdirs with TensorBoard's own loader but without importing TensorFlow (seconds saved).

TensorBoard falls back to its TensorFlow stub when `tensorboard.compat.notf` can be imported (its
`no_tensorflow` build switch). The stub's record reader checks CRCs byte by byte in Python, so its
reader is replaced here by one that reads up to 32 MB of a file at once, checks every record's
CRCs in one numpy pass (`crc32c`) and then hands the records out one by one with the stub reader's
behaviour: a record whose checksum fails raises `DataLossError` (on every later call too), as does
a record cut short at the end of the file, which is read again once the file has grown.

The switch holds for the whole process and must come before anything resolves
`tensorboard.compat.tf`; TensorFlow's file systems (gs://, hdfs://) are then out of reach, so
`use_stub` is for commands reading local paths only.
"""

from __future__ import annotations

import collections
import struct
import sys
import types

import numpy as np
from tensorboard.compat import tf
from tensorboard.compat.tensorflow_stub import pywrap_tensorflow

from tb_gradcause.analysis import crc32c

NOTF = "tensorboard.compat.notf"
HEADER = struct.Struct("<QI")  # a TFRecord's data length and the masked CRC of those 8 bytes
FOOTER = struct.Struct("<I")  # the masked CRC of the data
READ_BYTES = 1 << 25  # read and checked at a time: bounds the copies a check makes (~3x this)


def use_stub() -> bool:
    """Make TensorBoard's loader use its stub with the fast record reader, unless TensorFlow is
    loaded already (then TensorBoard uses it); return whether the stub is in use."""
    if "tensorflow" in sys.modules:
        return False
    sys.modules[NOTF] = types.ModuleType(NOTF)
    pywrap_tensorflow.PyRecordReader_New = BatchRecordReader
    return True


class BatchRecordReader(pywrap_tensorflow.PyRecordReader_New):
    """The stub's record reader, checking a whole read's CRCs at once instead of byte by byte (its
    errors are those of the `tf` TensorBoard picked, as its loader catches them)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._records: collections.deque[bytes] = collections.deque()
        self._unread = b""  # from the first record not handed out: cut short, corrupt or not yet read
        self._broken: str | None = None  # why the record at the start of `_unread` cannot be read

    def GetNext(self) -> None:
        self.curr_event = None
        if not self._records:
            self._read_more()
        if self._records:
            self.curr_event = self._records.popleft()
            return
        if self._broken is not None:
            raise tf.errors.DataLossError(None, None, f"{self.filename!r} {self._broken}")
        raise tf.errors.OutOfRangeError(None, None, "No more events to read")

    def _read_more(self) -> None:
        while True:
            more = self.file_handle.read(READ_BYTES) or b""
            data = self._unread + more
            records, stop, corrupt = verified_records(data)
            self._records.extend(data[start : start + length] for start, length in records)
            self._unread = data[stop:]
            at_end = len(more) < READ_BYTES
            if records or corrupt or at_end:  # else a record longer than one read: read on
                self._broken = corrupt or ("has truncated record" if at_end and self._unread else None)
                return


def verified_records(data: bytes) -> tuple[list[tuple[int, int]], int, str | None]:
    """The whole records at the start of `data` whose checksums hold, as (start, length) of their
    data; the offset after the last of them; and why reading cannot go on there if a record's
    checksum fails ("failed header crc32 check" or "failed event crc32 check"), else None."""
    frames, end = _frames(data)
    spans = [span for start, length, _, _ in frames for span in ((start, 8), (start + HEADER.size, length))]
    stored = np.array([crc for _, _, *crcs in frames for crc in crcs], dtype=np.uint32)
    failed = np.flatnonzero(crc32c.masked_crc32c(data, spans) != stored)
    good = int(failed[0]) // 2 if failed.size else len(frames)
    records = [(start + HEADER.size, length) for start, length, _, _ in frames[:good]]
    if not failed.size:
        return records, end, None
    return records, frames[good][0], "failed header crc32 check" if failed[0] % 2 == 0 else "failed event crc32 check"


def _frames(data: bytes) -> tuple[list[tuple[int, int, int, int]], int]:
    """The whole records at the start of `data`: (start, data length, header CRC, data CRC) each,
    and the offset after the last one. Lengths are trusted before their CRC is checked: records
    after a corrupt header are dropped with it."""
    frames = []
    offset = 0
    while offset + HEADER.size <= len(data):
        length, header_crc = HEADER.unpack_from(data, offset)
        end = offset + HEADER.size + length + FOOTER.size
        if end > len(data):
            break
        (data_crc,) = FOOTER.unpack_from(data, end - FOOTER.size)
        frames.append((offset, length, header_crc, data_crc))
        offset = end
    return frames, offset
