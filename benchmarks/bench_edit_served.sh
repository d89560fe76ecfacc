#!/usr/bin/env bash
# bench_edit_served.sh -- edit -> served latency through the whole pipeline (issue 13).
#
# One command, run by hand (not in CI):
#   HERALD_BUILD_DIR=build-rel bash benchmarks/bench_edit_served.sh
# Compare read servers of two builds in one run (same publisher and signer):
#   BENCH_SERVERS="before:/old/herald-server after:build-rel/server/herald-server"
#
# For each size (BENCH_SIZES, default "100 1000 10000 100000" records of ~200 bytes): a
# private durable Redis, the publisher, the signer and the read server; the collection
# is imported, then BENCH_EDITS (default 50) edits one at a time (PUT of one record,
# then HEAD polls of the read server until its ETag reaches the record's
# last_modified); then edits while a bulk import of 10,000 more records is published
# (the first edit after the import included); then a burst of 100 edits in one second,
# timed from the last acknowledgement to served. benchmarks/edit_served.js does the
# requests (keep-alive, Nagle off). Prints p50/p99/max per size as a table.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${HERALD_BUILD_DIR:-$SRC/build}
SERVERS=${BENCH_SERVERS:-"this:$BUILD/server/herald-server"}
SIZES=${BENCH_SIZES:-"100 1000 10000 100000"}
EDITS=${BENCH_EDITS:-50}
OUT=${BENCH_OUT:-$SRC/benchmarks/results/edit_served.md}
for c in redis-server redis-cli curl node; do
    command -v "$c" >/dev/null || { echo "bench_edit_served: $c is missing" >&2; exit 1; }
done
BENCH_NAME=bench_edit_served
source "$SRC/benchmarks/bench_lib.sh"
JS=$SRC/benchmarks/edit_served.js
export HERALD_ADMIN_PASSWORD=bench-admin
AUTH=admin:$HERALD_ADMIN_PASSWORD

row() { # LABEL SIZE JSON-LINES...: one table row
    local label=$1 size=$2
    shift 2
    node -e '
        const r = process.argv.slice(3).map(JSON.parse);
        const f = (l) => { const x = r.find((e) => e.label === l); return x ? `${x.p50} / ${x.p99} / ${x.max}` : "-"; };
        const b = r.find((e) => e.label === "burst");
        console.log(`| ${process.argv[1]} | ${process.argv[2]} | ${f("edits")} | ${f("during import")} | ${b ? b.served_after_last_ms : "-"} |`);
    ' "$label" "$size" "$@"
}

{
    echo "# Edit -> served (bench_edit_served.sh, $(date -u +%FT%TZ))"
    echo
    echo "$(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg). Milliseconds."
    echo
    echo "| build | records | one at a time p50 / p99 / max | during a 10k import p50 / p99 / max | burst of 100: last served after |"
    echo "|---|---|---|---|---|"
} >"$OUT"
for s in $SERVERS; do
    label=${s%%:*} server=${s#*:}
    for n in $SIZES; do
        rport=$(free_port)
        start_redis "$rport" "${REDIS_DURABLE[@]}"
        pport=$(free_port)
        start_publisher "$pport" "$rport"
        "$BUILD/signer/herald-signer" keygen --out "$TMP/key-$rport" >"$TMP/pub-$rport"
        HERALD_LOG_LEVEL=warn "$BUILD/signer/herald-signer" --redis "redis://127.0.0.1:$rport/0" \
            --key "$TMP/key-$rport" 2>>"$TMP/signer.log" &
        PIDS+=($!)
        sport=$(free_port)
        HERALD_LOG_LEVEL=warn "$server" --listen "127.0.0.1:$sport" --redis "redis://127.0.0.1:$rport/0" \
            --public-key "$(cat "$TMP/pub-$rport")" 2>>"$TMP/server.log" &
        PIDS+=($!)
        wait_port "$sport"
        P=http://127.0.0.1:$pport S=http://127.0.0.1:$sport
        curl -sf -o /dev/null -u "$AUTH" -X PUT -H 'Content-Type: application/json' \
            --data '{"data":{},"permissions":{"read":["system.Everyone"]}}' "$P/v1/buckets/bench"
        curl -sf -o /dev/null -u "$AUTH" -X PUT -H 'Content-Type: application/json' \
            --data '{"data":{}}' "$P/v1/buckets/bench/collections/c"
        node "$JS" "$P" "$S" "$AUTH" bench c import "$n"
        r1=$(node "$JS" "$P" "$S" "$AUTH" bench c edits "$EDITS")
        r2=$(node "$JS" "$P" "$S" "$AUTH" bench c during 10000)
        r3=$(node "$JS" "$P" "$S" "$AUTH" bench c burst 100)
        row "$label" "$n" "$r1" "$r2" "$r3" | tee -a "$OUT"
        for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
        for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
        PIDS=()
    done
done
echo >>"$OUT"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT"
cat "$OUT"
