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
BENCH_NAME=bench_schema_put
source "$SRC/benchmarks/bench_lib.sh"

rport=$(free_port)
start_redis "$rport" "${REDIS_DURABLE[@]}"

export HERALD_ADMIN_PASSWORD=bench-admin
off_port=$(free_port)
HERALD_EXPERIMENTAL_COLLECTION_SCHEMA_VALIDATION=false \
    start_publisher "$off_port" "$rport" "$TMP/publisher-false.log"
on_port=$(free_port)
HERALD_EXPERIMENTAL_COLLECTION_SCHEMA_VALIDATION=true \
    start_publisher "$on_port" "$rport" "$TMP/publisher-true.log"

curl -sf -o /dev/null -u "admin:$HERALD_ADMIN_PASSWORD" -X PUT -H 'Content-Type: application/json' \
    --data '{"data":{"password":"bench-editor-pw"}}' "http://127.0.0.1:$off_port/v1/accounts/editor"

"$BUILD/benchmarks/bench_schema_put" --off "http://127.0.0.1:$off_port" \
    --on "http://127.0.0.1:$on_port" --user editor --password bench-editor-pw "$@"
