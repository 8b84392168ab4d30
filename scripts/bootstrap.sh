#!/usr/bin/env bash
# Create .venv and install the locked stack. Idempotent: a second run only checks.
# Why uv: it installs the 900 MB Airflow stack from the hashed lock in seconds, and
# `uv pip sync` makes the venv exactly the lock, so CI and a newcomer get the same versions.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! command -v uv >/dev/null 2>&1; then
  "$PY" -m pip install --quiet "uv==0.13.9"
fi
UV=$(command -v uv || echo "$PY -m uv")
if [ ! -x .venv/bin/python ]; then
  $UV venv --quiet --python "$PY" .venv
fi
# --compile-bytecode: some environments set PYTHONDONTWRITEBYTECODE, and then every process
# (each Airflow task!) would recompile the stack from source; compiling once at install fixes it.
$UV pip sync --quiet --compile-bytecode --python .venv/bin/python requirements.lock
$UV pip install --quiet --python .venv/bin/python --no-deps -e .
.venv/bin/python -m compileall -q transforms plugins dags >/dev/null || true
echo "bootstrap: .venv ready ($(.venv/bin/python --version))"
