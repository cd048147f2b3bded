#!/usr/bin/env bash
# Set up and run Hindsight: virtualenv, dependencies, embedded PostgreSQL,
# migrations, the demo knowledge base, a worker with beat, and the web server.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv requirements.txt
exec .venv/bin/python manage.py serve "$@"
