#!/usr/bin/env bash
# The whole test suite twice: on the embedded default (SQLite, media on disk, the database as broker; with
# the browser tests in headless Chromium), then as a scaled portal runs, configured from the environment:
# PostgreSQL (started here unless TEST_POSTGRES_URL names one), Redis as the broker and media in an S3 bucket
# (scripts/services.sh starts a throwaway Redis and moto_server). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

# System packages the tests need: Debian's Chromium (Playwright cannot download browsers here),
# PostgreSQL and Redis. Installed when missing.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v redis-server >/dev/null || missing+=(redis-server)
if [ -z "${TEST_POSTGRES_URL:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing ${missing[*]} from Debian's packages..."
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# axe-core, which the accessibility tests run in Chromium (package.json, pinned by package-lock.json).
[ -f node_modules/axe-core/axe.min.js ] || npm ci --no-audit --no-fund

run_pytest() {
  local status=0
  .venv/bin/python -m pytest -p no:cacheprovider "$@" || status=$?
  if [ "$status" = 5 ]; then echo "No test ran: that is a failure." >&2; return 1; fi
  return "$status"
}

echo "== Tests on SQLite (with the browser tests)"
sqlite=0
DATABASE_URL="sqlite:///$PWD/var/test.sqlite3" run_pytest "$@" || sqlite=$?

# Every test again, each on an emptied bucket and queue (tests/conftest.py), except the pages in a browser
# (tests/test_browser.py, which ran above): the end-to-end reliability tests (kill -9 mid-download, two
# clusters with faults, secret expiry; each stack on a database, a Redis queue and a bucket of its own) and
# the OneDrive import in Chromium included. Signed URLs off, so that the streaming path is the one served.
echo "== Tests on PostgreSQL + Redis + S3 (all but the pages in a browser)"
scaled=0
cleanup=()
trap 'for step in "${cleanup[@]}"; do eval "$step"; done' EXIT
if [ -n "${TEST_POSTGRES_URL:-}" ]; then
  PG_URL=$TEST_POSTGRES_URL
else
  started=$(scripts/postgres.sh start)  # an assignment, so that a failure stops the script (set -e)
  eval "$started"
  cleanup+=('scripts/postgres.sh stop "$PGDIR"')
fi
started=$(scripts/services.sh start)
eval "$started"
cleanup+=('scripts/services.sh stop "$SERVICES_DIR"')
started=$SECONDS
DATABASE_URL="$PG_URL" REDIS_URL="$REDIS_URL" AWS_S3_ENDPOINT_URL="$S3_URL" AWS_STORAGE_BUCKET_NAME=mediaspace-tests \
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_S3_REGION_NAME=us-east-1 MEDIASPACE_SIGNED_URL_SECONDS=0 \
  run_pytest --ignore=tests/test_browser.py "$@" || scaled=$?
echo "(PostgreSQL + Redis + S3: $((SECONDS - started)) s)"

verdict() { [ "$1" = 0 ] && echo passed || echo FAILED; }
echo "== SQLite: $(verdict $sqlite); PostgreSQL + Redis + S3: $(verdict $scaled)"
[ "$sqlite" = 0 ] && [ "$scaled" = 0 ]
