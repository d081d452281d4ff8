"""The `timeline` route's binary form read back as docs/design.md lays it out, independently of the tab."""

from __future__ import annotations

import json
import struct

import numpy as np


def decode(body: bytes) -> dict:
    """The binary form read as docs/design.md lays it out, into the JSON form's shape (values as arrays)."""
    (length,) = struct.unpack_from("<I", body)
    assert (4 + length) % 8 == 0
    header = json.loads(body[4 : 4 + length])
    n = header.pop("n_steps")
    zero_rows = header.pop("zero_rows")
    at = 4 + length
    steps = np.frombuffer(body, "<f8", n, at)
    sent = np.frombuffer(body, "<f4", offset=at + 8 * n)
    values = np.zeros((len(header["stats"]), len(header["rows"]), n), "<f4")
    present = np.ones(values.shape[:2], bool)
    for k, rows in enumerate(zero_rows):
        present[k, rows] = False
    values[present] = sent.reshape(int(present.sum()), n)
    return {**header, "steps": steps.tolist(), "values": dict(zip(header["stats"], values))}
