#!/usr/bin/env bash
# A throwaway Redis (Debian's redis-server) and S3-compatible server (moto_server from PyPI, in .venv) for tests.
#   eval "$(scripts/services.sh start)"   sets SERVICES_DIR, REDIS_URL and S3_URL (with a bucket "mediaspace-tests")
#   scripts/services.sh stop "$SERVICES_DIR"
set -euo pipefail
cd "$(dirname "$0")/.."
free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

case "${1:-}" in
  start)
    dir=$(mktemp -d /tmp/mediaspace-services.XXXXXX)
    # A start that fails half-way stops what it started: nobody else knows the folder yet.
    trap 'for pid in "$dir"/*.pid; do [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null; done; rm -rf "$dir"' ERR
    redis_port=$(free_port)
    redis-server --port "$redis_port" --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
      --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
    s3_port=$(free_port)
    # moto keeps every object in memory: fine for tests of a few hundred MiB.
    nohup .venv/bin/moto_server -H 127.0.0.1 -p "$s3_port" >"$dir/moto.log" 2>&1 &
    echo $! >"$dir/moto.pid"
    for _ in $(seq 100); do
      redis-cli -p "$redis_port" ping >/dev/null 2>&1 && curl -s -o /dev/null "http://127.0.0.1:$s3_port/" && break
      sleep 0.1
    done
    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing .venv/bin/python -c "
import boto3, sys
boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1').create_bucket(Bucket='mediaspace-tests')
" "http://127.0.0.1:$s3_port" >&2
    echo "SERVICES_DIR=$dir; REDIS_URL=redis://127.0.0.1:$redis_port/0; S3_URL=http://127.0.0.1:$s3_port"
    ;;
  stop)
    [ -f "$2/redis.pid" ] && kill "$(cat "$2/redis.pid")" 2>/dev/null || true
    [ -f "$2/moto.pid" ] && kill "$(cat "$2/moto.pid")" 2>/dev/null || true
    rm -rf "$2"
    ;;
  *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
