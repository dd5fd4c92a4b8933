#!/usr/bin/env bash
# Run the portal and its background workers together on http://127.0.0.1:8000 (Ctrl-C stops them all): the
# cluster of downloads and sync rounds, and the media processing's cluster (renders never hold the first's workers).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py ensure_admin --url "http://127.0.0.1:${PORT:-8000}/"

# Each server runs in a process group of its own (set -m), and only this script signals it, however the script
# is stopped: a SIGTERM to the whole group (`timeout`, process managers) kills django-q2's sentinel and workers,
# which take SIGTERM's default action, and the cluster then waits for them for ever; runserver's reloader leaves
# its server child behind when only the reloader is signalled. The cluster's own process stops it cleanly.
# Neither reads the terminal, which belongs to the foreground group.
set -m
.venv/bin/python manage.py qcluster </dev/null &
cluster=$!
Q_QUEUE=processing .venv/bin/python manage.py qcluster </dev/null &
processing=$!
.venv/bin/python manage.py runserver "127.0.0.1:${PORT:-8000}" </dev/null &
server=$!
set +m

stop() {
  trap '' INT TERM HUP  # one stop at a time
  kill -TERM -- "-$server" 2>/dev/null || true
  kill -TERM "$cluster" "$processing" 2>/dev/null || true
  # A worker may finish its task for five seconds, then it is killed (its lease lets another take the work over).
  # The grace stays well under the ten seconds a process manager gives before its own SIGKILL.
  for _ in $(seq 50); do
    kill -0 -- "-$cluster" 2>/dev/null || kill -0 -- "-$processing" 2>/dev/null || kill -0 -- "-$server" 2>/dev/null \
      || break
    sleep 0.1
  done
  kill -KILL -- "-$cluster" "-$processing" "-$server" 2>/dev/null || true
}
# A second signal must not cut the stop short: GNU make sends a SIGTERM it gets on to this script, which a SIGTERM
# to the whole group has already reached. So each handler ignores further signals before anything else.
trap stop EXIT
trap 'trap "" INT TERM HUP; exit 130' INT
trap 'trap "" INT TERM HUP; exit 143' TERM
trap 'trap "" INT TERM HUP; exit 129' HUP
wait -n  # until a signal comes or any server stops
