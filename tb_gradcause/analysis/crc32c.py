"""The masked CRC-32C of many byte strings at once, in numpy, for reading event files without TensorFlow.

TensorBoard's stub reader checks each record's CRC byte by byte in Python (about a minute for 100 MB);
TensorFlow's is C++ but costs seconds to import. Here every message is cut into 64-byte chunks whose
CRCs are computed side by side (16 steps of 4 bytes, each a few whole-array operations with 16-bit
tables), then folded per message. The CRC without its initial value and final inversion is linear
over GF(2), which makes both steps exact: leading zero bytes leave it 0 (messages are left-padded to
whole chunks), the initial value is XORed into a message's first 4 bytes, and the CRC of A then B is
that of A carried through len(B) zero bytes, XOR that of B.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

POLY = 0x82F63B78  # Castagnoli, reflected
CHUNK = 64  # bytes per chunk: a multiple of 4
MASK_DELTA = 0xA282EAD8  # TFRecord's masking constant


def _byte_table() -> np.ndarray:
    """T[b]: the CRC register after byte b from a zero register."""
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(POLY), table >> 1).astype(np.uint32)
    return table


def _advance_tables(n_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """(low, high): a register r carried through `n_bytes` zero bytes is low[r & 0xFFFF] ^ high[r >> 16]
    (linearity: the two halves of r advance independently)."""
    byte = _BYTE
    registers = np.arange(1 << 16, dtype=np.uint32)
    low, high = registers.copy(), registers << np.uint32(16)
    for _ in range(n_bytes):
        low = byte[low & 0xFF] ^ (low >> 8)
        high = byte[high & 0xFF] ^ (high >> 8)
    return low, high


_BYTE = _byte_table()
_WORD = _advance_tables(4)  # one 4-byte step of a chunk
_FOLD = _advance_tables(CHUNK)  # carry a message's CRC so far over one more chunk


def _advance(register: np.ndarray, tables: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    low, high = tables
    return low[register & 0xFFFF] ^ high[register >> 16]


def masked_crc32c(data: bytes | memoryview, spans: Sequence[tuple[int, int]]) -> np.ndarray:
    """uint32 [n]: the TFRecord masked CRC-32C of each `data[start:start + length]` in `spans`, as
    TensorBoard's stub `masked_crc32c` gives it for one message."""
    source = np.frombuffer(data, dtype=np.uint8)
    result = np.zeros(len(spans), dtype=np.uint32)
    short = [i for i, (_, length) in enumerate(spans) if length < 4]  # too short to carry the initial register
    for i in short:
        start, length = spans[i]
        result[i] = _masked_bytewise(bytes(source[start : start + length]))
    if len(short) < len(spans):
        long = np.ones(len(spans), dtype=bool)
        long[short] = False
        result[long] = _masked(source, [span for span in spans if span[1] >= 4])
    return result


def _masked(source: np.ndarray, spans: Sequence[tuple[int, int]]) -> np.ndarray:
    """`masked_crc32c` of messages of >= 4 bytes, side by side."""
    lengths = np.array([length for _, length in spans], dtype=np.int64)
    chunks = -(-lengths // CHUNK)
    ends = np.cumsum(chunks) * CHUNK  # each message ends at the end of its last chunk
    padded = np.zeros(int(ends[-1]), dtype=np.uint8)
    for (start, length), end in zip(spans, ends.tolist()):
        padded[end - length : end] = source[start : start + length]
    # The initial register 0xFFFFFFFF, XORed into each message's first 4 bytes.
    firsts = ends - lengths
    for k in range(4):
        padded[firsts + k] ^= 0xFF
    words = np.ascontiguousarray(padded.view("<u4").reshape(-1, CHUNK // 4).T)  # word j of every chunk: a row
    register = np.zeros(words.shape[1], dtype=np.uint32)
    for word in words:
        register = _advance(register ^ word, _WORD)
    crc = ~_fold(register, chunks)
    return ((crc >> 15) | (crc << 17)) + np.uint32(MASK_DELTA)


def _masked_bytewise(message: bytes) -> int:
    """The plain algorithm, for the odd message too short for `_masked`."""
    crc = 0xFFFFFFFF
    for byte in message:
        crc = int(_BYTE[(crc ^ byte) & 0xFF]) ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + MASK_DELTA) & 0xFFFFFFFF


def _fold(crcs: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """One CRC per message from its `counts[m]` consecutive chunk CRCs, by pairs: each round
    left-pads odd counts with a zero chunk (which adds nothing), joins neighbours (the left one
    carried over the right one's bytes) and doubles the bytes a chunk stands for."""
    tables = _FOLD
    while counts.max() > 1:
        padded = counts + (counts & 1)
        joined = np.zeros(int(padded.sum()), dtype=np.uint32)
        shift = np.cumsum(padded) - np.cumsum(counts)  # where each message's chunks move to
        joined[np.arange(len(crcs)) + np.repeat(shift, counts)] = crcs
        pairs = joined.reshape(-1, 2)
        crcs = _advance(pairs[:, 0], tables) ^ pairs[:, 1]
        counts = padded // 2
        tables = (_advance(tables[0], tables), _advance(tables[1], tables))
    return crcs
