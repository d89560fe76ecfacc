#!/usr/bin/env bash
# bench_signer_coldstart.sh -- the longest Redis stall while a signer starts cold on a
# large collection (issue 13: "a cold start of the signer on a 100k-record collection no
# longer blocks Redis for the length of one Lua script").
#
# One command, run by hand (not in CI):
#   HERALD_BUILD_DIR=build-rel bash benchmarks/bench_signer_coldstart.sh
# Compare builds in one run, on the same data:
#   BENCH_BUILDS="before:/work/main/build-rel after:build-rel"
#
# BENCH_RECORDS (default 100000) records of ~200 bytes are written once through the
# publisher (POST /v1/batch, 25 per batch, 4 in flight; benchmarks/edit_served.js load)
# into one collection of a private Redis (append-only file, fsync on every write once
# loaded). Then, for each build, a signer with a new key (so it must sign the collection
# anew, from a full read: its copy lives in memory only) starts, and until it has stored
# the snapshot (its log line "signed bench/c"):
#   - `redis-cli --latency --raw -i 1` runs back to back: the longest a PING waited;
#   - Redis's own latency monitor (latency-monitor-threshold 10 ms) records every command
#     or script that ran longer: LATENCY LATEST after the start, per event.
# Prints one table row per build: time to the first signed snapshot, the longest PING, and
# the longest command Redis logged.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${HERALD_BUILD_DIR:-$SRC/build}
BUILDS=${BENCH_BUILDS:-"this:$BUILD"}
N=${BENCH_RECORDS:-100000}
OUT=${BENCH_OUT:-$SRC/benchmarks/results/signer_coldstart.md}
for c in redis-server redis-cli curl node; do
    command -v "$c" >/dev/null || { echo "bench_signer_coldstart: $c is missing" >&2; exit 1; }
done
BENCH_NAME=bench_signer_coldstart
source "$SRC/benchmarks/bench_lib.sh"
export HERALD_ADMIN_PASSWORD=bench-admin
export HERALD_STORAGE_MAX_FETCH_SIZE=${HERALD_STORAGE_MAX_FETCH_SIZE:-1000000}
AUTH=admin:$HERALD_ADMIN_PASSWORD
first=${BUILDS%% *}
BUILD=${first#*:} # the publisher that writes the data

rport=$(free_port)
start_redis "$rport" --appendonly yes --appendfsync no
pport=$(free_port)
start_publisher "$pport" "$rport"
P=http://127.0.0.1:$pport
curl -sf -o /dev/null -u "$AUTH" -X PUT -H 'Content-Type: application/json' \
    --data '{"data":{},"permissions":{"read":["system.Everyone"]}}' "$P/v1/buckets/bench"
curl -sf -o /dev/null -u "$AUTH" -X PUT -H 'Content-Type: application/json' \
    --data '{"data":{}}' "$P/v1/buckets/bench/collections/c"
t0=$(date +%s)
node "$SRC/benchmarks/edit_served.js" "$P" http://127.0.0.1:1 "$AUTH" bench c load "$N"
echo "bench_signer_coldstart: $N records written in $(($(date +%s) - t0)) s" >&2
redis-cli -p "$rport" CONFIG SET appendfsync always >/dev/null
redis-cli -p "$rport" CONFIG SET latency-monitor-threshold 10 >/dev/null

{
    echo "# Signer cold start on $N records (bench_signer_coldstart.sh, $(date -u +%FT%TZ))"
    echo
    echo "$(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg). Redis: append-only file, fsync always."
    echo
    echo "| build | first snapshot signed after (s) | longest PING wait (ms) | longest command in Redis (ms, LATENCY LATEST) |"
    echo "|---|---|---|---|"
} >"$OUT"
for s in $BUILDS; do
    label=${s%%:*} B=${s#*:}
    "$B/signer/herald-signer" keygen --out "$TMP/key-$label" >/dev/null
    redis-cli -p "$rport" LATENCY RESET >/dev/null
    : >"$TMP/ping-$label"
    (while :; do redis-cli -p "$rport" --latency --raw -i 1 >>"$TMP/ping-$label" 2>/dev/null || true; done) &
    pinger=$!
    sleep 1.2
    start=$(date +%s%N)
    HERALD_LOG_LEVEL=info "$B/signer/herald-signer" --redis "redis://127.0.0.1:$rport/0" \
        --key "$TMP/key-$label" --consumer "cold-$label" 2>"$TMP/signer-$label.log" &
    spid=$!
    for _ in $(seq 1 6000); do
        grep -q "signed bench/c" "$TMP/signer-$label.log" && break
        sleep 0.05
    done
    took=$((($(date +%s%N) - start) / 1000000))
    sleep 1.2 # one more PING window after the store
    kill "$pinger" 2>/dev/null || true
    wait "$pinger" 2>/dev/null || true
    kill -TERM "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
    grep -q "signed bench/c" "$TMP/signer-$label.log" || { echo "$label: no snapshot signed" >&2; exit 1; }
    ping_max=$(awk 'BEGIN {m = 0} {if ($2 > m) m = $2} END {print m}' "$TMP/ping-$label")
    events=$(redis-cli -p "$rport" LATENCY LATEST | paste -sd' ' |
        awk '{for (i = 1; i + 3 <= NF; i += 4) printf "%s %s; ", $i, $(i + 3)}')
    echo "| $label | $(awk -v t="$took" 'BEGIN {printf "%.2f", t / 1000}') | $ping_max | ${events:-none above 10 ms} |" | tee -a "$OUT"
    grep "signed bench/c" "$TMP/signer-$label.log" | sed 's/^.*INFO /    /' >>"$TMP/notes"
done
{
    echo
    echo "The signer's log line per build (its own step times):"
    echo
    cat "$TMP/notes"
    echo
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} >>"$OUT"
cat "$OUT"
