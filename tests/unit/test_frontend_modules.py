"""The frontend's pure modules (frontend/src/*.test.ts) under node's test runner, via `npm test`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"


def test_frontend_unit_tests_pass():
    if not (FRONTEND / "node_modules" / "esbuild").is_dir():
        pytest.fail("frontend/node_modules is missing: run `bash tests/setup.sh` (or `cd frontend && npm ci`) first")
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not on PATH: install node 20 and run `bash tests/setup.sh`")
    result = subprocess.run(
        [npm, "test", "--silent"], cwd=FRONTEND, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"`npm test` in frontend/ failed:\n{result.stdout}\n{result.stderr}"
