"""The suite's tiers are its folders, by what a test needs (each test gets its folder's marker):

- unit: no training, no server, no browser; the fast tier (`python -m pytest tests/unit`)
- training: real Keras training
- server: a real TensorBoard server (or the demo, which starts one)
- browser: the tab in Debian's chromium, driven by Playwright

Shared helpers live in `tests/support/` and are imported as `tests.support.<module>`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
TIERS = ("unit", "training", "server", "browser")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = item.path.resolve().relative_to(TESTS).parts[0]
        if tier in TIERS:
            item.add_marker(tier)
