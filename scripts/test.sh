#!/usr/bin/env bash
# The whole test suite: once on SQLite (with the browser tests in headless Chromium), once on a real
# PostgreSQL server, started here unless TEST_POSTGRES_URL names one, then a chosen part of it (the end-to-end
# reliability tests, media storage and serving) on PostgreSQL + Redis + an S3 server, as a scaled portal
# runs: scripts/services.sh starts a throwaway Redis and moto_server. Extra arguments go to pytest.
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

run_pytest() {
  local status=0
  .venv/bin/python -m pytest -p no:cacheprovider "$@" || status=$?
  if [ "$status" = 5 ]; then echo "No test ran: that is a failure." >&2; return 1; fi
  return "$status"
}

echo "== Tests on SQLite (with the browser tests)"
sqlite=0
DATABASE_URL="sqlite:///$PWD/var/test.sqlite3" run_pytest "$@" || sqlite=$?

echo "== Tests on PostgreSQL (without the browser tests, which ran above)"
postgres=0
cleanup=()
trap 'for step in "${cleanup[@]}"; do eval "$step"; done' EXIT
if [ -n "${TEST_POSTGRES_URL:-}" ]; then
  PG_URL=$TEST_POSTGRES_URL
else
  eval "$(scripts/postgres.sh start)"
  cleanup+=('scripts/postgres.sh stop "$PGDIR"')
fi
DATABASE_URL="$PG_URL" run_pytest -m "not browser" "$@" || postgres=$?

# The end-to-end Teams reliability tests (kill -9 mid-download, two clusters with faults, secret expiry) and
# the OneDrive import in a browser, each on a database, a Redis queue and a bucket of its own, with the
# tests of media storage and serving (signed URLs off, so that the streaming path is the one served).
echo "== Tests on PostgreSQL + Redis + S3 (reliability, storage and serving)"
scaled=0
eval "$(scripts/services.sh start)"
cleanup+=('scripts/services.sh stop "$SERVICES_DIR"')
DATABASE_URL="$PG_URL" REDIS_URL="$REDIS_URL" AWS_S3_ENDPOINT_URL="$S3_URL" AWS_STORAGE_BUCKET_NAME=mediaspace-tests \
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_S3_REGION_NAME=us-east-1 MEDIASPACE_SIGNED_URL_SECONDS=0 \
  run_pytest tests/test_end_to_end_teams.py tests/test_end_to_end_onedrive.py tests/test_object_storage.py \
  tests/test_media_serving.py "$@" || scaled=$?

verdict() { [ "$1" = 0 ] && echo passed || echo FAILED; }
echo "== SQLite: $(verdict $sqlite); PostgreSQL: $(verdict $postgres); PostgreSQL + Redis + S3: $(verdict $scaled)"
[ "$sqlite" = 0 ] && [ "$postgres" = 0 ] && [ "$scaled" = 0 ]
