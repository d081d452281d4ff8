"""`crc32c.masked_crc32c`: many messages at once, each equal to the stub's byte-by-byte masked CRC."""

from __future__ import annotations

import numpy as np
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

from tb_gradcause.analysis import crc32c


def test_every_message_gets_the_stubs_masked_crc():
    rng = np.random.default_rng(0)
    # Around the chunk size and its multiples, under 4 bytes (byte by byte), and a long one.
    lengths = [0, 1, 3, 4, 5, 8, 63, 64, 65, 127, 128, 129, 1000, 4097, 40_000] + list(rng.integers(4, 300, 40))
    messages = [rng.bytes(int(n)) for n in lengths]
    data = b"".join(messages)
    starts = np.cumsum([0, *lengths[:-1]]).tolist()
    spans = list(zip(starts, lengths))
    assert crc32c.masked_crc32c(data, spans).tolist() == [masked_crc32c(m) for m in messages]


def test_spans_may_skip_bytes_and_come_in_any_order():
    data = bytes(range(256)) * 4
    spans = [(700, 100), (3, 9), (0, 1024)]
    assert crc32c.masked_crc32c(data, spans).tolist() == [masked_crc32c(data[a : a + n]) for a, n in spans]
    assert crc32c.masked_crc32c(data, []).tolist() == []
