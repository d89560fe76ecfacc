#!/usr/bin/env bash
# The cost of the history (issue 11): the same write benchmark (bench_publisher: single
# PUT latency, batch throughput) against the same Redis (append-only file, fsync on every
# write) with history off, on, and on with retention trimming at work (a bucket already
# at history_max_entries, so every write also trims). Entries per second sustained =
# the batch throughput with history on (one entry per record write), checked against the
# entries Redis holds afterwards. Same run, same machine, one after the other.
#
#   benchmarks/bench_history.sh [BUILD_DIR] [bench_publisher options...]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
[ $# -gt 0 ] && shift
BENCH_NAME=bench_history
source "$SRC/benchmarks/bench_lib.sh"
ARGS=("$@")
[ ${#ARGS[@]} -gt 0 ] || ARGS=(--puts 2000 --batches 100 --batch-size 25)

rport=$(free_port)
start_redis "$rport" "${REDIS_DURABLE[@]}"
export HERALD_ADMIN_PASSWORD=bench-admin

run() { # NAME BUCKET [publisher environment...]
    local name=$1 bucket=$2 pport
    shift 2
    pport=$(free_port)
    env "$@" bash -c "source '$SRC/benchmarks/bench_lib.sh'; BUILD='$BUILD'; TMP='$TMP'
        trap - EXIT; start_publisher $pport $rport; echo \$PUB_PID >'$TMP/pub.pid'; wait \$PUB_PID" &
    wait_port "$pport"
    curl -sf -o /dev/null -u "admin:$HERALD_ADMIN_PASSWORD" -X PUT -H 'Content-Type: application/json' \
        --data '{"data":{"password":"bench-editor-pw"}}' "http://127.0.0.1:$pport/v1/accounts/editor" || true
    echo "== $name"
    "$BUILD/benchmarks/bench_publisher" --url "http://127.0.0.1:$pport" --user editor \
        --password bench-editor-pw --bucket "$bucket" "${ARGS[@]}"
    echo "   history entries in bucket $bucket: $(redis-cli -p "$rport" ZCARD "herald:hist:$bucket")"
    kill "$(cat "$TMP/pub.pid")"
    sleep 0.3
}
run "history off" b-off HERALD_HISTORY_ENABLED=false
run "history on" b-on HERALD_HISTORY_ENABLED=true
run "history on, every write trims (history_max_entries=1000)" b-trim HERALD_HISTORY_ENABLED=true \
    HERALD_HISTORY_MAX_ENTRIES=1000
