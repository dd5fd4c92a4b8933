#!/usr/bin/env bash
# The whole test suite: once on SQLite (with the browser tests in headless Chromium) and once on a real
# PostgreSQL server, started here unless TEST_POSTGRES_URL names one. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

# System packages the tests need: Debian's Chromium (Playwright cannot download browsers here) and
# PostgreSQL. Installed when missing.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
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
if [ -n "${TEST_POSTGRES_URL:-}" ]; then
  DATABASE_URL="$TEST_POSTGRES_URL" run_pytest -m "not browser" "$@" || postgres=$?
else
  eval "$(scripts/postgres.sh start)"
  trap 'scripts/postgres.sh stop "$PGDIR"' EXIT
  DATABASE_URL="$PG_URL" run_pytest -m "not browser" "$@" || postgres=$?
fi

echo "== SQLite: $([ $sqlite = 0 ] && echo passed || echo FAILED); PostgreSQL: $([ $postgres = 0 ] && echo passed || echo FAILED)"
[ "$sqlite" = 0 ] && [ "$postgres" = 0 ]
