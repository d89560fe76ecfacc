#!/usr/bin/env bash
# A read server's cold start at Remote Settings' scale (issue 19), over real sockets,
# with 350 collections written by benchmarks/bulk_fixture exactly as the signer stores
# them (small records, so the test stays short under the sanitizers; the benchmark
# bench_coldstart.sh measures the full-size data set):
#  - one of the 350 snapshots is tampered with (a byte of a record changed after
#    signing): the 349 others are served and verify as a client would, the bad one is
#    not served, __heartbeat__ answers 503 and names it, /metrics counts it and reports
#    the resync's duration; a good version of it then brings the heartbeat back to 200;
#  - a cold start while the "signer" publishes new versions (bulk_fixture churn, one
#    notification per version) ends with every collection at its newest version, and
#    those versions verify.
source "$(dirname "$0")/../support/harness.sh"

FIX=$H_BUILD/benchmarks/server_fixture
BULK=$H_BUILD/benchmarks/bulk_fixture
N=350
BAD=c00123
SHAPE=(--collections "$N" --records 12 --record-bytes 200)

h_start_redis
H_PUBKEY=$("$FIX" keygen --out "$H_TMP/k1")
"$BULK" load --redis "$H_REDIS_URL" --key "$H_TMP/k1" "${SHAPE[@]}" --tamper 123
h_check "350 snapshots stored" h_eq "$(h_redis zcard herald:monitor)" "$N"

h_start_server --threads 2
S=$H_SRV
MON=$S/buckets/monitor/collections/changes/changeset
loaded() { local m; m=$(curl -s "http://127.0.0.1:$H_SRV_PORT/metrics"); grep -qx 'herald_snapshots_loaded 1' <<<"$m"; }
h_check "the resync completes" h_wait_for 60 loaded
h_check "__heartbeat__ 503 names the tampered collection" \
    h_eq "$(curl -s -w ' %{http_code}' "$S/__heartbeat__")" \
    "{\"collections\":$((N - 1)),\"expired\":[],\"invalid\":[\"bench/$BAD\"],\"redis\":true,\"snapshots\":false} 503"
h_check "the monitor lists the 349 others" \
    h_eq "$(curl -s "$MON" | jq -r '([.changes[] | select(.collection == "'$BAD'")] | length), (.changes | length)' | tr '\n' ' ')" "0 $((N - 1)) "
h_check "the tampered one is not served" \
    h_eq "$(curl -s -o /dev/null -w '%{http_code}' "$S/buckets/bench/collections/$BAD/changeset")" 404
h_check "its failure is logged" grep -q "bench/$BAD version [0-9]* does not verify" "$H_TMP/server.log"
for c in c00000 c00122 c00124 c00349; do
    curl -s "$S/buckets/bench/collections/$c/changeset" >"$H_TMP/$c.json"
    h_check "$c verifies as a client would" "$FIX" verify -q --public-key "$H_PUBKEY" \
        --bucket bench --collection "$c" "$H_TMP/$c.json"
done
metrics=$(curl -s "http://127.0.0.1:$H_SRV_PORT/metrics")
h_check "/metrics counts the invalid snapshot" grep -qx 'herald_snapshots_invalid 1' <<<"$metrics"
h_check "/metrics has the resync's duration" grep -qE '^herald_resync_duration_seconds [0-9.]+$' <<<"$metrics"
h_check "/metrics has the served body bytes" grep -qE '^herald_served_body_bytes\{encoding="identity"\} [1-9][0-9]*$' <<<"$metrics"

V=$(h_redis zscore herald:monitor "bench/$BAD")
"$FIX" publish --redis "$H_REDIS_URL" --key "$H_TMP/k1" --bucket bench --collection "$BAD" \
    --version "$((V + 1))" --generate 3
h_check "a good version of it is served" h_wait_for 20 h_served_at "$S/buckets/bench/collections/$BAD/changeset" "$((V + 1))"
h_check "... and __heartbeat__ is 200 again" \
    h_eq "$(curl -s -w ' %{http_code}' "$S/__heartbeat__")" \
    "{\"collections\":$N,\"expired\":[],\"invalid\":[],\"redis\":true,\"snapshots\":true} 200"
kill -TERM "$H_SRV_PID"
wait "$H_SRV_PID" 2>/dev/null || true

# ---- cold start while new versions are published ------------------------------------
h_redis flushall >/dev/null
"$BULK" load --redis "$H_REDIS_URL" --key "$H_TMP/k1" "${SHAPE[@]}"
"$BULK" churn --redis "$H_REDIS_URL" --key "$H_TMP/k1" "${SHAPE[@]}" --edits 1400 \
    >"$H_TMP/final" &
CHURN=$!
H_SRV_PORT=
h_start_server --threads 2
S=$H_SRV
MON=$S/buckets/monitor/collections/changes/changeset
h_check "the publisher finished" wait "$CHURN"
sort "$H_TMP/final" >"$H_TMP/want"
newest() {
    curl -s "$MON" | jq -r '.changes[] | "\(.bucket)/\(.collection) \(.last_modified)"' | sort >"$H_TMP/got"
    cmp -s "$H_TMP/want" "$H_TMP/got"
}
h_check "every collection ends at its newest version" h_wait_for 60 newest
h_check "__heartbeat__ 200" h_eq "$(curl -s -o /dev/null -w '%{http_code}' "$S/__heartbeat__")" 200
for c in c00000 c00200 c00349; do
    curl -s -D "$H_TMP/h" "$S/buckets/bench/collections/$c/changeset" >"$H_TMP/$c.json"
    want=$(sed -n "s|^bench/$c ||p" "$H_TMP/final")
    h_check "$c is served at $want" grep -qi "^ETag: \"$want\"" "$H_TMP/h"
    h_check "... and verifies as a client would" "$FIX" verify -q --public-key "$H_PUBKEY" \
        --bucket bench --collection "$c" "$H_TMP/$c.json"
done
h_finish
