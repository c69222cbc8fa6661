#!/usr/bin/env bash
# Set up (first run) and start the operations center with its demo street on embedded SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
exec .venv/bin/chengyun demo --serve "$@"
