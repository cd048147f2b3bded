#!/usr/bin/env bash
# Install what the tests need and run the whole suite (extra pytest arguments pass through).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv requirements-dev.txt
exec .venv/bin/python -m pytest "$@"
