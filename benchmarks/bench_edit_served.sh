#!/usr/bin/env bash
# bench_edit_served.sh -- edit -> served latency through the whole pipeline (issue 13).
#
# One command, run by hand (not in CI):
#   HERALD_BUILD_DIR=build-rel bash benchmarks/bench_edit_served.sh
# Compare two builds in one run (each with its own publisher, signer and read server):
#   BENCH_BUILDS="before:/old/build-rel after:build-rel"
#
# For each size (BENCH_SIZES, default "100 1000 10000 100000" records of ~200 bytes): a
# private durable Redis, the publisher, the signer and the read server; the collection
# is imported, then BENCH_EDITS (default 50) edits one at a time (PUT of one of its
# records, picked at random, then HEAD polls of the read server until its ETag reaches
# the record's last_modified); then edits while a bulk import of 10,000 more records is
# published (the first edit after the import included); then a burst of 100 edits in
# one second, timed from the last acknowledgement to served. benchmarks/edit_served.js does the
# requests (keep-alive, Nagle off). Prints p50/p99/max per size as a table, then the
# signer's steps per version (from its log) and the read server's (herald_version_step_seconds
# from its /metrics, scraped around the one-at-a-time edits). BENCH_OUT: the report file
# (benchmarks/results/edit_served.md by default: set it elsewhere for a scratch run).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${HERALD_BUILD_DIR:-$SRC/build}
BUILDS=${BENCH_BUILDS:-"this:$BUILD"}
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
# The import during the edits adds 10,000 records to each size.
export HERALD_STORAGE_MAX_FETCH_SIZE=${HERALD_STORAGE_MAX_FETCH_SIZE:-1000000}
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
for s in $BUILDS; do
    label=${s%%:*} BUILD=${s#*:}
    server=$BUILD/server/herald-server
    for n in $SIZES; do
        rport=$(free_port)
        # A Redis of its own per build and size: with the shared $TMP as its directory,
        # each one loaded the previous one's append-only file (the collection kept
        # growing from one size to the next, and a large file still LOADING made the
        # next PUT fail: the likely cause of curl's exit 22 at 10k, not reproduced).
        mkdir -p "$TMP/redis-$label-$n"
        start_redis "$rport" "${REDIS_DURABLE[@]}" --dir "$TMP/redis-$label-$n"
        redis-cli -p "$rport" CONFIG SET latency-monitor-threshold 50 >/dev/null
        pport=$(free_port)
        start_publisher "$pport" "$rport"
        "$BUILD/signer/herald-signer" keygen --out "$TMP/key-$rport" >"$TMP/pub-$rport"
        HERALD_LOG_LEVEL=info "$BUILD/signer/herald-signer" --redis "redis://127.0.0.1:$rport/0" \
            --key "$TMP/key-$rport" 2>"$TMP/signer-$label-$n.log" &
        PIDS+=($!)
        sport=$(free_port)
        HERALD_LOG_LEVEL=${BENCH_SERVER_LOG_LEVEL:-warn} "$server" --listen "127.0.0.1:$sport" --redis "redis://127.0.0.1:$rport/0" \
            --public-key "$(cat "$TMP/pub-$rport")" 2>"$TMP/server-$label-$n.log" &
        PIDS+=($!)
        wait_port "$sport"
        P=http://127.0.0.1:$pport S=http://127.0.0.1:$sport
        curl -sf -o /dev/null -u "$AUTH" -X PUT -H 'Content-Type: application/json' \
            --data '{"data":{},"permissions":{"read":["system.Everyone"]}}' "$P/v1/buckets/bench"
        curl -sf -o /dev/null -u "$AUTH" -X PUT -H 'Content-Type: application/json' \
            --data '{"data":{}}' "$P/v1/buckets/bench/collections/c"
        node "$JS" "$P" "$S" "$AUTH" bench c import "$n"
        # The read server's steps per version (herald_version_step_seconds, metrics.h),
        # scraped around the one-at-a-time edits: their difference is that phase's.
        # (|| true: a build without the metric prints dashes; grep's status 1 would end the run)
        step_metrics() { curl -s "$S/metrics" | { grep -E '^herald_version_step_seconds_(sum|count)' || true; } | tr '\n' ' '; }
        m0=$(step_metrics)
        r1=$(node "$JS" "$P" "$S" "$AUTH" bench c edits "$EDITS" "$n")
        m1=$(step_metrics)
        ls_metrics() { curl -s "$S/metrics" | { grep -E '^herald_lockstep_(wait_seconds_(sum|count)|fallbacks_total|superseded_total)' || true; } | tr '\n' ' '; }
        echo "$label $n lock-step before the import phase: $(ls_metrics)" >>"$TMP/steps.txt"
        r2=$(node "$JS" "$P" "$S" "$AUTH" bench c during 10000 "$n")
        echo "$label $n lock-step after the import phase:  $(ls_metrics)" >>"$TMP/steps.txt"
        r3=$(node "$JS" "$P" "$S" "$AUTH" bench c burst 100)
        row "$label" "$n" "$r1" "$r2" "$r3" | tee -a "$OUT"
        # The signer's cost per version (median over the whole run of this size, import
        # included) per step, from its log lines: "... in T ms (kind read R, apply A,
        # hash H, sign S, deltas D, zstd Z, store W)"; older builds log "sign+zstd" as one.
        node -e '
            const l = require("fs").readFileSync(process.argv[1], "utf8").split("\n").map((x) => {
                const m = x.match(/signed .* in ([\d.]+) ms \(\w+ read ([\d.]+), apply ([\d.]+), hash ([\d.]+), (?:sign\+zstd ([\d.]+)|sign ([\d.]+), deltas ([\d.]+), zstd ([\d.]+)), store ([\d.]+)\)/);
                if (!m) return null;
                const v = m.slice(1).map((y) => (y === undefined ? NaN : Number(y)));
                if (isNaN(v[4])) v[4] = v[5] + v[6] + v[7]; // sign+deltas+zstd
                return v;
            }).filter(Boolean);
            const med = (i) => { const v = l.map((x) => x[i]).filter((y) => !isNaN(y)).sort((a, b) => a - b); return v.length ? v[v.length >> 1].toFixed(1) : "-"; };
            console.log(`| ${process.argv[2]} | ${process.argv[3]} | ${l.length} | ${med(0)} | ${med(1)} | ${med(2)} | ${med(3)} | ${med(5)} | ${med(6)} | ${med(7)} | ${med(4)} | ${med(8)} |`);
        ' "$TMP/signer-$label-$n.log" "$label" "$n" | tee -a "$TMP/signer-steps.txt"
        # Mean ms per version built during the edits (versions: builds; compress: the
        # background jobs' time divided by the versions built). Builds without the metric
        # (older ones) print dashes.
        node -e '
            const parse = (s) => { const m = {}; for (const x of s.matchAll(/herald_version_step_seconds_(sum|count)\{step="(\w+)"\} ([\d.]+)/g)) (m[x[2]] ||= {})[x[1]] = Number(x[3]); return m; };
            const a = parse(process.argv[1]), b = parse(process.argv[2]);
            const d = (s, k) => (b[s] && a[s] ? b[s][k] - a[s][k] : NaN);
            const v = d("build", "count");
            const per = (s) => (v > 0 && !isNaN(d(s, "sum")) ? ((d(s, "sum") * 1000) / v).toFixed(2) : "-");
            const tot = ["fetch", "decode", "apply", "verify", "build"].map((s) => (v > 0 ? (d(s, "sum") * 1000) / v : NaN)).reduce((x, y) => x + y, 0);
            console.log(`| ${process.argv[3]} | ${process.argv[4]} | ${v > 0 ? v : "-"} | ${d("apply", "count") || 0} | ${isNaN(tot) ? "-" : tot.toFixed(2)} | ${per("fetch")} | ${per("decode")} | ${per("apply")} | ${per("verify")} | ${per("build")} | ${per("compress")} |`);
        ' "$m0" "$m1" "$label" "$n" | tee -a "$TMP/server-steps.txt"
        echo "$label $n redis latency events >= 50 ms (event: latest ms, max ms): $(redis-cli -p "$rport" LATENCY LATEST |
            paste -sd' ' | awk '{for (i = 1; i + 3 <= NF; i += 4) printf "%s: %s, %s; ", $i, $(i + 2), $(i + 3)}')" |
            tee -a "$TMP/steps.txt"
        node -e '
            const r = process.argv.slice(3).map(JSON.parse).filter((e) => e.after_ack);
            for (const e of r) console.log(`${process.argv[1]} ${process.argv[2]} ${e.label}: acknowledged after p50/p99/max ${e.ack.join(" / ")} ms; served after the acknowledgement p50/p99/max ${e.after_ack.join(" / ")} ms`);
        ' "$label" "$n" "$r1" "$r2" | tee -a "$TMP/steps.txt"
        for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
        for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
        PIDS=()
        rm -rf "$TMP/redis-$label-$n"
    done
done
{
    echo
    echo "Signer, per version: median ms of each step over the whole run of that size (import"
    echo "included), from its log. read: the read script; apply: canonicalise the changes"
    echo "into the copy; hash: records_json and SHA-256; sign: Ed25519 heads; deltas: encode"
    echo "them; zstd: the full blob; store: the store script, which also announces."
    echo
    echo "| build | records | versions | total | read | apply | hash | sign | deltas | zstd | sign+deltas+zstd | store+announce |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
    cat "$TMP/signer-steps.txt" 2>/dev/null || true
    echo
    echo "Read server, per version built during the one-at-a-time edits: mean ms of each step"
    echo "(herald_version_step_seconds in /metrics, scraped before and after them). fetch: GET"
    echo "of the delta or blob, sent to reply; decode: full blob (decompress, parse, index);"
    echo "apply: parse the delta, merge it into the previous state; verify: SHA-256 over"
    echo "records_json and Ed25519; build: listing, bodies, cached deltas; compress: background"
    echo "compression per version built (off the serving path). total: fetch to build."
    echo
    echo "| build | records | versions | from deltas | total | fetch | decode | apply | verify | build | compress |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    cat "$TMP/server-steps.txt" 2>/dev/null || true
    echo
} >>"$OUT"
cat "$TMP/steps.txt" >>"$OUT" 2>/dev/null || true
echo >>"$OUT"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT"
cat "$OUT"
