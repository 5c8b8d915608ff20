#!/usr/bin/env bash
# Set up ITA on a fresh Debian/Ubuntu machine with Python 3.11: a virtualenv in .venv with the pinned
# dependencies (requirements/dev.lock, compiled by uv from pyproject.toml) and Chromium for PNG export.
# Idempotent: a second run only checks. Usage: bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "[setup] installing Debian chromium (PNG export via kaleido) …"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
      || echo "[setup] WARNING: chromium could not be installed; PNG charts will be skipped with a warning."
  else
    echo "[setup] WARNING: no chromium and no root apt-get; install it (apt-get install chromium) for PNG charts."
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $($PY --version)"
  $PY -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check uv
.venv/bin/python -m uv pip install -q --python .venv/bin/python -r requirements/dev.lock
.venv/bin/python -m uv pip install -q --python .venv/bin/python --no-deps -e .
# Bytecode once: with PYTHONDONTWRITEBYTECODE=1 (set on some machines) every process would otherwise recompile
# the ~800 modules it imports (import ita.tools: 1.6 s → 0.5 s). Stale files are recompiled in memory, never wrong.
# (ccxt ships template files under static_dependencies/ that are not valid Python: skipped, they are never imported.)
.venv/bin/python -m compileall -q -j 0 -x '/ccxt/static_dependencies/' .venv/lib ita >/dev/null 2>&1 \
  || echo "[setup] note: some files could not be compiled to bytecode (they compile on import instead)"
echo "[setup] ready: $(.venv/bin/ita --help >/dev/null && echo 'ita CLI OK') — activate with: source .venv/bin/activate"
