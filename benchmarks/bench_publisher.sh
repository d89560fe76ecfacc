#!/usr/bin/env bash
# Runs benchmarks/bench_publisher.c against a real herald-publisher: starts a private
# Redis (append-only file, fsync on every write, as in production) and a publisher on
# free loopback ports, creates an account (argon2id, like any editor's), runs the
# benchmark as that account, stops both. Nothing is left behind.
#
#   benchmarks/bench_publisher.sh [BUILD_DIR] [bench_publisher options...]
#
# BUILD_DIR defaults to ./build (it must hold publisher/herald-publisher and
# benchmarks/bench_publisher). Options go to bench_publisher, e.g. --puts 5000.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
[ $# -gt 0 ] && shift
BENCH_NAME=bench_publisher
source "$SRC/benchmarks/bench_lib.sh"

rport=$(free_port)
start_redis "$rport" "${REDIS_DURABLE[@]}"

pport=$(free_port)
export HERALD_ADMIN_PASSWORD=bench-admin
start_publisher "$pport" "$rport"

curl -sf -o /dev/null -u "admin:$HERALD_ADMIN_PASSWORD" -X PUT -H 'Content-Type: application/json' \
    --data '{"data":{"password":"bench-editor-pw"}}' "http://127.0.0.1:$pport/v1/accounts/editor"

"$BUILD/benchmarks/bench_publisher" --url "http://127.0.0.1:$pport" --user editor \
    --password bench-editor-pw "$@"
