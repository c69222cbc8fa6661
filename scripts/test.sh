#!/usr/bin/env bash
# Set up (first run) and run the whole test suite. Tests that need PostgreSQL, Chromium or ../shared/data
# skip on a laptop that lacks them and fail in CI (CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
exec .venv/bin/python -m pytest "$@"
