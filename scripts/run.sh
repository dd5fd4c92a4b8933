#!/usr/bin/env bash
# Run the portal and its background worker together on http://127.0.0.1:8000 (Ctrl-C stops both).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py ensure_admin --url "http://127.0.0.1:${PORT:-8000}/"

.venv/bin/python manage.py qcluster &
cluster=$!
trap 'kill "$cluster" 2>/dev/null || true; wait "$cluster" 2>/dev/null || true' EXIT INT TERM
.venv/bin/python manage.py runserver "127.0.0.1:${PORT:-8000}"
