#!/usr/bin/env bash
# `herald watch` (herald_client_watch, long-poll; and its JS twin, herald_cli.mjs watch,
# through the same scenarios) and `herald verify` (herald-signer's
# verifier, linked into the client CLI), against a real publisher, signer and read server:
#   - a watcher holding a long-poll on the monitor (seen in the server's
#     herald_long_poll_held) is told of an edit made through the publisher, prints the
#     verified change, and what it stored re-verifies (herald show) and matches the
#     server's changeset (herald verify);
#   - through a proxy that does not hold requests and tampers with changesets: the
#     watcher polls instead, refuses the tampered edit (nothing printed, nothing stored),
#     and delivers it once the proxy is honest again;
#   - a read server restarted during the watch: the watcher reports the network failures,
#     retries with a jittered backoff, and delivers the next edit once the server is back;
#   - the watch stops by itself (--timeout) with exit status 1 when no change came, and
#     on SIGTERM;
#   - `herald verify` prints exactly what `herald-signer verify` prints, with the same exit
#     status, for a good changeset, a wrong key and bad usage, with and without --state.
# The watchers' stderr goes to *.log files, which h_finish searches for sanitizer reports.
source "$(dirname "$0")/../support/harness.sh"

h_start_pipeline
MON="$H_SRV/buckets/monitor/collections/changes/changeset"
CS="$H_SRV/buckets/main/collections/certs/changeset"
HERALD=$H_BUILD/client/herald
held() { curl -s "http://127.0.0.1:$H_SRV_PORT/metrics" | sed -n 's/^herald_long_poll_held //p'; }
holding() { [ "$(held)" -ge 1 ] 2>/dev/null; }
in_monitor() { [ "$(curl -s "$MON" | h_json "(d.changes.find(c=>c.collection==='certs')||{}).last_modified")" = "$1" ] && curl -s "$MON" | h_json 'd.metadata.signatures.length' | grep -qx 1; }
has_line() { grep -q "$2" "$1" 2>/dev/null; }
gone() { ! kill -0 "$1" 2>/dev/null; }

# watch_suite LABEL CLI...: the scenarios above with one CLI (C: herald; JS: herald_cli.mjs),
# on a fresh state directory; N0 records are in the collection before it starts.
watch_suite() {
    L=$1
    shift
    CLI=("$@")
    N0=$(curl -s "$CS" | h_json 'd.changes.length')
    V1=$(h_pub PUT /buckets/main/collections/certs/records/$L-a '{"data":{"n":1}}' | h_json d.data.last_modified)
    h_check "$L: v1 in the signed monitor" h_wait_for 20 in_monitor "$V1"

    A=$H_TMP/$L
    out=$("${CLI[@]}" sync "$H_SRV" --public-key "$H_PUBKEY" --state "$A" main/certs) || true
    h_check "$L: first sync: ok at v1" h_eq "$(sed -n 's/^main\/certs version=\([0-9]*\) .*status=\([a-z_]*\).*/\1 \2/p' <<<"$out")" "$V1 ok"

    # 1. A change delivered through the held request.
    "${CLI[@]}" watch "$H_SRV" --public-key "$H_PUBKEY" --state "$A" --wait 5 --count 1 --timeout 45 \
        --print main/certs >"$H_TMP/$L-w1.out" 2>"$H_TMP/$L-w1.log" &
    W=$!
    H_PIDS+=("$W")
    h_check "$L: watch: first answer synced (nothing new)" h_wait_for 20 has_line "$H_TMP/$L-w1.out" '^sync status=ok '
    h_check "$L: watch: a long-poll is held by the server" h_wait_for 20 holding
    h_check "$L:   no change printed yet" bash -c "! grep -q '^change' '$H_TMP/$L-w1.out'"
    V2=$(h_pub PUT /buckets/main/collections/certs/records/$L-b '{"data":{"n":2}}' | h_json d.data.last_modified)
    h_check "$L: watch ends after --count 1 change" h_wait_for 40 gone "$W"
    rc=0; wait "$W" || rc=$?
    h_check "$L:   exit status 0" h_eq "$rc" 0
    h_check "$L:   printed the verified change to v2 (2 records)" has_line "$H_TMP/$L-w1.out" "^change main/certs version=$V2 records=$((N0 + 2))\$"
    h_check "$L:   then its records (a and b)" bash -c "grep -A1 '^change main/certs' '$H_TMP/$L-w1.out' | tail -1 | grep -q '\"id\":\"$L-a\".*\"id\":\"$L-b\"'"
    h_check "$L:   summary: v2, ok, committed by the signed monitor" bash -c "grep -q '^main/certs version=$V2 records=$((N0 + 2)) status=ok\$' '$H_TMP/$L-w1.out' && grep '^sync ' '$H_TMP/$L-w1.out' | tail -1 | grep -q '^sync status=ok monitor=[0-9]* committed=1'"
    out=$("$HERALD" show --state "$A" --public-key "$H_PUBKEY" main/certs) || true
    h_check "$L: the stored state re-verifies (herald show): v2" h_eq "$(sed -n 's/^main\/certs version=\([0-9]*\) records=\([0-9]*\).*/\1 \2/p' <<<"$out")" "$V2 $((N0 + 2))"
    srv_ids=$(curl -s "$CS" | h_json "d.changes.map(r=>r.id).sort().join(',')")
    held_ids=$(sed -n 2p <<<"$out" | h_json "d.map(r=>r.id).join(',')")
    h_check "$L:   same records as the server's changeset" h_eq "$held_ids" "$srv_ids"
    out=$("$HERALD" verify --url "$CS" --public-key "$H_PUBKEY") || true
    h_check "$L: herald verify of the server's changeset: OK at v2" bash -c "grep -q '^OK bucket=main collection=certs timestamp=$V2 records=$((N0 + 2)) ' <<<'$out'"

    # 1b. Through a proxy that does not hold requests (it forwards neither Prefer nor
    # If-None-Match: every answer is an immediate 200 with the same ETag, so the watcher
    # falls back to polling every --poll-ms) and tampers with collection changesets.
    echo tamper >"$MODE"
    "${CLI[@]}" watch "$PROXY" --public-key "$H_PUBKEY" --state "$A" --wait 5 --poll-ms 300 \
        --count 1 --timeout 40 main/certs >"$H_TMP/$L-wp.out" 2>"$H_TMP/$L-wp.log" &
    W=$!
    H_PIDS+=("$W")
    h_check "$L: via a non-holding proxy: first answer synced" h_wait_for 20 has_line "$H_TMP/$L-wp.out" '^sync status=ok '
    V2b=$(h_pub PUT /buckets/main/collections/certs/records/$L-b2 '{"data":{"n":22}}' | h_json d.data.last_modified)
    h_check "$L:   the edit, tampered by the proxy, is refused (invalid)" h_wait_for 30 has_line "$H_TMP/$L-wp.out" '^sync status=invalid '
    h_check "$L:   no change printed, still watching" bash -c "! grep -q '^change' '$H_TMP/$L-wp.out' && kill -0 $W"
    out=$("$HERALD" show --state "$A" --public-key "$H_PUBKEY" main/certs) || true
    h_check "$L:   the stored state is still the verified v2" h_eq "$(sed -n 's/^main\/certs version=\([0-9]*\) .*/\1/p' <<<"$out")" "$V2"
    echo pass >"$MODE"
    h_check "$L:   honest proxy again: the change is delivered" h_wait_for 30 gone "$W"
    rc=0; wait "$W" || rc=$?
    h_check "$L:   exit status 0, change to the untampered edit" bash -c "[ $rc = 0 ] && grep -q '^change main/certs version=$V2b records=$((N0 + 3))\$' '$H_TMP/$L-wp.out'"
    h_check "$L:   polled (no held request through the proxy), never tampered data" bash -c "! grep -q tampered '$H_TMP/$L/main/certs.json'"

    # 2. The read server restarts during the watch.
    "${CLI[@]}" watch "$H_SRV" --public-key "$H_PUBKEY" --state "$A" --wait 5 --count 1 --timeout 60 \
        --retries 1 --timeout-ms 2000 main/certs >"$H_TMP/$L-w2.out" 2>"$H_TMP/$L-w2.log" &
    W=$!
    H_PIDS+=("$W")
    h_check "$L: watch 2: first answer synced" h_wait_for 20 has_line "$H_TMP/$L-w2.out" '^sync status=ok '
    h_check "$L: watch 2: held" h_wait_for 20 holding
    kill -TERM "$H_SRV_PID"
    wait "$H_SRV_PID" 2>/dev/null || true
    h_check "$L: server down: the watcher reports a network failure" h_wait_for 30 has_line "$H_TMP/$L-w2.out" '^sync status=network '
    h_check "$L:   and keeps watching" kill -0 "$W"
    V3=$(h_pub PUT /buckets/main/collections/certs/records/$L-c '{"data":{"n":3}}' | h_json d.data.last_modified)
    h_start_server
    h_check "$L: server back: the watcher delivers v3 and ends" h_wait_for 50 gone "$W"
    rc=0; wait "$W" || rc=$?
    h_check "$L:   exit status 0" h_eq "$rc" 0
    h_check "$L:   printed the verified change to v3" has_line "$H_TMP/$L-w2.out" "^change main/certs version=$V3 records=$((N0 + 4))\$"
    h_check "$L:   no change printed that is not v3" h_eq "$(grep -c '^change' "$H_TMP/$L-w2.out")" 1
    out=$("$HERALD" show --state "$A" --public-key "$H_PUBKEY" main/certs) || true
    h_check "$L: the stored state re-verifies: v3" h_eq "$(sed -n 's/^main\/certs version=\([0-9]*\) .*/\1/p' <<<"$out")" "$V3"

    # 3. Ending by itself: --timeout with no change (exit 1), and SIGTERM (exit 0).
    rc=0
    "${CLI[@]}" watch "$H_SRV" --public-key "$H_PUBKEY" --state "$A" --wait 1 --count 1 --timeout 3 \
        main/certs >"$H_TMP/$L-w3.out" 2>"$H_TMP/$L-w3.log" || rc=$?
    h_check "$L: --timeout with no change: exit status 1" h_eq "$rc" 1
    h_check "$L:   nothing changed" bash -c "! grep -q '^change' '$H_TMP/$L-w3.out' && grep -q '^main/certs version=$V3 .*status=ok' '$H_TMP/$L-w3.out'"
    "${CLI[@]}" watch "$H_SRV" --public-key "$H_PUBKEY" --state "$A" --wait 30 main/certs \
        >"$H_TMP/$L-w4.out" 2>"$H_TMP/$L-w4.log" &
    W=$!
    H_PIDS+=("$W")
    h_check "$L: watch 4: held" h_wait_for 20 has_line "$H_TMP/$L-w4.out" '^sync status=ok '
    kill -TERM "$W"
    h_check "$L: SIGTERM ends the watch (the held request is aborted)" h_wait_for 10 gone "$W"
    rc=0; wait "$W" || rc=$?
    h_check "$L:   exit status 0, summary printed" bash -c "[ $rc = 0 ] && grep -q '^stats requests=' '$H_TMP/$L-w4.out'"
}

P_PORT=$(h_free_port)
MODE=$H_TMP/proxy.mode
echo pass >"$MODE"
node "$H_SRC/tests/node/client_proxy.mjs" "$P_PORT" "http://127.0.0.1:$H_SRV_PORT/v1" "$MODE" \
    "$H_TMP/proxy.reqs" 2>>"$H_TMP/proxy.log" &
H_PIDS+=("$!")
h_wait_port "$P_PORT" 20 "$!" "$H_TMP/proxy.log"
PROXY="http://127.0.0.1:$P_PORT/v1"

h_public_collection main certs >/dev/null
# The suites count the records served before they start: the new collection must be
# signed and served first (a 404's error body has no "changes").
h_check "the new collection is served" h_wait_for 20 curl -sf -o /dev/null "$CS"
watch_suite c "$HERALD"
watch_suite js node "$H_SRC/tests/node/herald_cli.mjs"

# 4. herald verify is herald-signer verify: same output and status.
OTHER_KEY=$("$H_BUILD/signer/herald-signer" keygen --out "$H_TMP/other.key")
same() {
    local a b ra=0 rb=0
    a=$("$HERALD" verify "$@" 2>&1) || ra=$?
    b=$("$H_BUILD/signer/herald-signer" verify "$@" 2>&1) || rb=$?
    h_eq "$ra $a" "$rb $b"
}
h_check "verify alias: a good changeset" same --url "$CS" --public-key "$H_PUBKEY"
h_check "verify alias: a wrong key (FAIL, status 1)" same --url "$CS" --public-key "$OTHER_KEY"
h_check "verify alias: bad usage (status 2)" same --url "$CS"
h_check "verify alias: an unknown collection" same --url "$H_SRV/buckets/main/collections/nope/changeset" --public-key "$H_PUBKEY"
"$HERALD" verify --url "$CS" --public-key "$H_PUBKEY" --state "$H_TMP/v.state" >/dev/null
h_check "verify alias --state: the state file it writes is the signer's" \
    bash -c "'$H_BUILD/signer/herald-signer' verify --url '$CS' --public-key '$H_PUBKEY' --state '$H_TMP/v.state' | grep -q '^OK .*timestamp=$V3 '"
rc=0; "$HERALD" verify --url "$CS" --public-key "$H_PUBKEY" >/dev/null 2>&1 || rc=$?
h_check "verify alias: exit status 0" h_eq "$rc" 0

h_finish
