#!/usr/bin/env bash
# Start the ITA web chat (Chainlit) on http://127.0.0.1:${PORT:-8000}.
#   scripts/chat_web.sh               # opens a browser tab
#   PORT=8765 scripts/chat_web.sh -h  # headless (no browser tab); extra arguments go to `chainlit run`
# Chainlit reads .chainlit/config.toml and chainlit.md from the working directory: run from the repo root.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/chainlit run ita/agent/chainlit_app.py --host 127.0.0.1 --port "${PORT:-8000}" "$@"
