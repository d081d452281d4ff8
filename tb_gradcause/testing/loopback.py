"""A MultiWorkerMirroredStrategy cluster on loopback, for tests and benchmarks that start its workers."""

from __future__ import annotations

import json
import socket


def worker_configs(n: int) -> list[str]:
    """`TF_CONFIG` of each of `n` workers on free loopback ports (worker 0 is the chief). A port
    freed here could be taken before its worker binds it: rare enough on a test machine."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    workers = [f"127.0.0.1:{s.getsockname()[1]}" for s in socks]
    for s in socks:
        s.close()
    return [json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}}) for i in range(n)]
