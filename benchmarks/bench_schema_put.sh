#!/usr/bin/env bash
# The publisher's PUT latency with collection schema validation off and on, in the same
# run: starts a private Redis (append-only file, fsync on every write, as in
# production) and two publishers on it, one with HERALD_EXPERIMENTAL_COLLECTION_SCHEMA_
# VALIDATION=true, creates an editor account, and runs benchmarks/bench_schema_put.c,
# which alternates PUTs between them. Prints; asserts nothing. Nothing is left behind.
#
#   benchmarks/bench_schema_put.sh [BUILD_DIR] [bench_schema_put options...]
#
# BUILD_DIR defaults to ./build. Options go to bench_schema_put, e.g. --puts 4000.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
[ $# -gt 0 ] && shift
TMP=$(mktemp -d "${TMPDIR:-/tmp}/herald-bench.XXXXXX")
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

free_port() {
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "$p"; return 0; fi
    done
    return 1
}
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --dir "$TMP" --appendonly yes \
    --appendfsync always --save "" --daemonize no --logfile "$TMP/redis.log" &
PIDS+=($!)
until redis-cli -p "$rport" ping >/dev/null 2>&1; do sleep 0.05; done

export HERALD_ADMIN_PASSWORD=bench-admin
# start_publisher PORT VALIDATION(true|false)
start_publisher() {
    HERALD_LOG_LEVEL=warn HERALD_EXPERIMENTAL_COLLECTION_SCHEMA_VALIDATION=$2 \
        "$BUILD/publisher/herald-publisher" --listen "127.0.0.1:$1" \
        --redis "redis://127.0.0.1:$rport/0" 2>>"$TMP/publisher-$2.log" &
    PIDS+=($!)
    until (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null; do sleep 0.05; done
}
off_port=$(free_port)
start_publisher "$off_port" false
on_port=$(free_port)
start_publisher "$on_port" true

curl -sf -o /dev/null -u "admin:$HERALD_ADMIN_PASSWORD" -X PUT -H 'Content-Type: application/json' \
    --data '{"data":{"password":"bench-editor-pw"}}' "http://127.0.0.1:$off_port/v1/accounts/editor"

"$BUILD/benchmarks/bench_schema_put" --off "http://127.0.0.1:$off_port" \
    --on "http://127.0.0.1:$on_port" --user editor --password bench-editor-pw "$@"
