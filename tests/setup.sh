#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine (as root): Debian's chromium for
# the browser tests, the Python package with TensorFlow (CPU) and the test tools, and the
# frontend's npm packages (the bundle is rebuilt and checked against the shipped one).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
python -m pip install -q --upgrade "pip" "setuptools>=75" wheel
python -m pip install -q -e ".[tensorflow-cpu,test]"
(cd frontend && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)
