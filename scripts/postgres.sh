#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests.
#   eval "$(scripts/postgres.sh start)"   sets PGDIR and PG_URL
#   scripts/postgres.sh stop "$PGDIR"
set -euo pipefail
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "${1:-}" in
  start)
    dir=$(mktemp -d /tmp/mediaspace-pg.XXXXXX)
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    port=${PGPORT_FOR_TESTS:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
    as_postgres "$PGBIN/initdb" -D "$dir/data" -A trust -U postgres >"$dir/initdb.log" 2>&1
    as_postgres "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null
    echo "PGDIR=$dir; PG_URL=postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    as_postgres "$PGBIN/pg_ctl" -D "$2/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$2"
    ;;
  *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
