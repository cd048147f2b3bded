#!/usr/bin/env bash
# Install what the tests need and run the whole suite (extra pytest arguments pass through).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
source scripts/ensure-chromium.sh
ensure_venv requirements-dev.txt
ensure_chromium
exec .venv/bin/python -m pytest "$@"
