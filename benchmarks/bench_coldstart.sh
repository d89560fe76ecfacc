#!/usr/bin/env bash
# bench_coldstart.sh -- a read server cold start at Remote Settings' scale (issue 19).
#
# One command, run by hand (not in CI):
#   HERALD_BUILD_DIR=build-rel bash benchmarks/bench_coldstart.sh
# Compare two builds in one run (same machine, back to back):
#   BENCH_SERVERS="before:/path/to/old/herald-server after:build-rel/server/herald-server"
#
# Data sets (benchmarks/bulk_fixture writes them into a private Redis, signed and stored
# exactly as the signer stores them):
#   random  N collections x 80 records of ~1.2 KB of random letters (compress poorly);
#           issue 19's data set at N = 350 (33 MB of canonical JSON)
#   onecrl  N collections x 80 OneCRL records (compress well), same shape
#   crl100  100 collections x 1,643 OneCRL records (OneCRL x 100)
# For each server build, data set and size: start the server cold, measure the time
# from exec to the first __heartbeat__ 200 (every collection loaded and verified), the
# CPU time the server used until then (all threads: steadier than the wall time on a
# loaded machine), RSS then, and once background compression is done; then BENCH_CHURN
# edits (default 10,000) spread round-robin over the collections, published as fast as
# the fixture signs them, wait until the server serves every final version, and RSS
# after. Body bytes are what /metrics counts as served bodies (herald_served_body_bytes
# when the build exports it, else the sum of herald_snapshot_body_bytes).
#
# Settings: BENCH_SIZES ("35 350 3500"), BENCH_KINDS ("random onecrl crl100"),
# BENCH_CHURN (10000), BENCH_OUT (benchmarks/results/coldstart.md), BENCH_SETTLE (1; 0: do
# not wait for the background compression, "RSS settled" is then "-": at 3,500
# collections the best-level pass takes many minutes on 2 cores).
# The machine's other load shows in the figures: the load average is printed.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${HERALD_BUILD_DIR:-$SRC/build}
FIX=$BUILD/benchmarks/bulk_fixture
SFIX=$BUILD/benchmarks/server_fixture
SERVERS=${BENCH_SERVERS:-"this:$BUILD/server/herald-server"}
SIZES=${BENCH_SIZES:-"35 350 3500"}
KINDS=${BENCH_KINDS:-"random onecrl crl100"}
CHURN=${BENCH_CHURN:-10000}
OUT=${BENCH_OUT:-$SRC/benchmarks/results/coldstart.md}
DATA=${BENCH_DATA:-}
for d in "$DATA" "$SRC/../shared/data/onecrl.json" /work/shared/data/onecrl.json /tmp/shared/data/onecrl.json; do
    [ -n "$d" ] && [ -f "$d" ] && { DATA=$d; break; }
done
for c in redis-server redis-cli curl jq; do
    command -v "$c" >/dev/null || { echo "bench_coldstart: $c is missing" >&2; exit 1; }
done
[ -x "$FIX" ] || { echo "bench_coldstart: build bulk_fixture in $BUILD first" >&2; exit 1; }

BENCH_NAME=bench_coldstart
source "$SRC/benchmarks/bench_lib.sh"
log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
now_ns() { date +%s%N; }
rss_mb() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
# cpu_ms PID: user + system CPU time of every thread of PID so far (/proc/PID/stat fields
# 14 and 15, in clock ticks): on a loaded machine a steadier figure than the wall time.
cpu_ms() {
    local hz
    hz=$(getconf CLK_TCK)
    sed 's/^.*) //' "/proc/$1/stat" | awk -v hz="$hz" '{printf "%.0f", ($12 + $13) * 1000 / hz}'
}

RPORT=$(free_port)
start_redis "$RPORT"
REDIS=redis://127.0.0.1:$RPORT/0
PUB=$("$SFIX" keygen --out "$TMP/key")

metric_sum() { # PORT NAME-REGEX: sum of the matching samples
    curl -s "http://127.0.0.1:$1/metrics" | awk -v re="^($2)[{ ]" '$0 ~ re {s += $NF} END {printf "%.0f", s}'
}
served_bytes() {
    local b
    b=$(metric_sum "$1" herald_served_body_bytes)
    [ "$b" != 0 ] || b=$(metric_sum "$1" herald_snapshot_body_bytes)
    echo "$b"
}
# wait_settled PORT: until no background compression is pending (at most 10 min), then
# the second after which the compressor hands its memory back (server/encode.c LINGER_MS).
wait_settled() {
    for _ in $(seq 1 6000); do
        if [ "$(metric_sum "$1" herald_encode_pending)" = 0 ]; then
            sleep 1.5
            return 0
        fi
        sleep 0.1
    done
}
# wait_versions PORT FILE: until the monitor lists exactly the "bid/cid V" lines of FILE.
wait_versions() {
    sort "$2" >"$TMP/want"
    for _ in $(seq 1 18000); do
        curl -s "http://127.0.0.1:$1/v1/buckets/monitor/collections/changes/changeset" |
            jq -r '.changes[] | "\(.bucket)/\(.collection) \(.last_modified)"' | sort >"$TMP/got" || true
        cmp -s "$TMP/want" "$TMP/got" && return 0
        sleep 0.1
    done
    echo "bench_coldstart: versions not all served" >&2
    return 1
}

# run_case LABEL SERVER KIND N RECORDS: one row of the table.
run_case() {
    local label=$1 server=$2 kind=$3 n=$4 records=$5 fk=random
    [ "$kind" = random ] || fk=onecrl
    redis-cli -p "$RPORT" flushall >/dev/null
    local t0 t1
    t0=$(now_ns)
    "$FIX" load --redis "$REDIS" --key "$TMP/key" --collections "$n" --records "$records" \
        --kind "$fk" --onecrl "$DATA"
    t1=$(now_ns)
    local canon
    canon=$(redis-cli -p "$RPORT" --no-raw memory usage "herald:snap:bench/c00000" | tr -dc 0-9)
    log "$label $kind $n: loaded in $(((t1 - t0) / 1000000)) ms"
    local port
    port=$(free_port)
    t0=$(now_ns)
    HERALD_LOG_LEVEL=warn "$server" --listen "127.0.0.1:$port" --redis "$REDIS" \
        --public-key "$PUB" 2>>"$TMP/server-$label.log" &
    local pid=$!
    PIDS+=("$pid")
    local ready=""
    for _ in $(seq 1 60000); do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v1/__heartbeat__" 2>/dev/null)" = 200 ]; then
            ready=$(now_ns)
            break
        fi
        sleep 0.01
    done
    [ -n "$ready" ] || { echo "bench_coldstart: $label never ready" >&2; return 1; }
    local ms=$(((ready - t0) / 1000000)) cpu rss_ready rss_settled bytes rss_churn bytes_churn
    cpu=$(cpu_ms "$pid")
    rss_ready=$(rss_mb "$pid")
    rss_settled="-"
    if [ "${BENCH_SETTLE:-1}" != 0 ]; then
        wait_settled "$port"
        rss_settled=$(rss_mb "$pid")
    fi
    bytes=$(served_bytes "$port")
    local churn_s="-"
    rss_churn="-"
    bytes_churn="-"
    if [ "$CHURN" -gt 0 ]; then
        t0=$(now_ns)
        "$FIX" churn --redis "$REDIS" --key "$TMP/key" --collections "$n" --records "$records" \
            --kind "$fk" --onecrl "$DATA" --edits "$CHURN" >"$TMP/final"
        wait_versions "$port" "$TMP/final"
        [ "${BENCH_SETTLE:-1}" = 0 ] || wait_settled "$port"
        t1=$(now_ns)
        churn_s=$(awk -v d=$((t1 - t0)) 'BEGIN {printf "%.1f", d / 1e9}')
        rss_churn=$(rss_mb "$pid")
        bytes_churn=$(served_bytes "$port")
    fi
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local bmb bcmb
    bmb=$(awk -v b="$bytes" 'BEGIN {printf "%.1f", b / 1048576}')
    bcmb=$(awk -v b="$bytes_churn" 'BEGIN {if (b == "-") print "-"; else printf "%.1f", b / 1048576}')
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$kind" "$n" \
        "$ms" "$cpu" "$rss_ready" "$rss_settled" "$bmb" "$churn_s" "$rss_churn" "$bcmb" | tee -a "$OUT"
}

mkdir -p "$(dirname "$OUT")"
{
    echo "# Read server cold start (bench_coldstart.sh, $(date -u +%FT%TZ))"
    echo
    echo "$(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg); churn: $CHURN edits."
    echo
    echo "| build | data | collections | ready ms | CPU ms to ready | RSS ready MB | RSS settled MB | bodies MB | churn s | RSS after churn MB | bodies after churn MB |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
} >"$OUT"
for kind in $KINDS; do
    sizes=$SIZES records=80
    [ "$kind" = crl100 ] && sizes=100 records=1643
    for n in $sizes; do
        for s in $SERVERS; do
            run_case "${s%%:*}" "${s#*:}" "$kind" "$n" "$records"
        done
    done
done
echo >>"$OUT"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT"
cat "$OUT"
