#!/usr/bin/env bash
# `herald watch` (herald_client_watch, long-poll) and `herald verify` (herald-signer's
# verifier, linked into the client CLI), against a real publisher, signer and read server:
#   - a watcher holding a long-poll on the monitor (seen in the server's
#     herald_long_poll_held) is told of an edit made through the publisher, prints the
#     verified change, and what it stored re-verifies (herald show) and matches the
#     server's changeset (herald verify);
#   - a read server restarted during the watch: the watcher reports the network failures,
#     retries with a jittered backoff, and delivers the next edit once the server is back;
#   - the watch stops by itself (--timeout) with exit status 1 when no change came, and
#     on SIGTERM;
#   - `herald verify` prints exactly what `herald-signer verify` prints, with the same exit
#     status, for a good changeset, a wrong key and bad usage, with and without --state.
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

h_public_collection main certs >/dev/null
V1=$(h_pub PUT /buckets/main/collections/certs/records/a '{"data":{"n":1}}' | h_json d.data.last_modified)
h_check "v1 in the signed monitor" h_wait_for 20 in_monitor "$V1"

A=$H_TMP/a
out=$("$HERALD" sync "$H_SRV" --public-key "$H_PUBKEY" --state "$A" main/certs) || true
h_check "first sync: ok at v1" h_eq "$(sed -n 's/^main\/certs version=\([0-9]*\) .*status=\([a-z_]*\).*/\1 \2/p' <<<"$out")" "$V1 ok"

# 1. A change delivered through the held request.
"$HERALD" watch "$H_SRV" --public-key "$H_PUBKEY" --state "$A" --wait 5 --count 1 --timeout 45 \
    --print main/certs >"$H_TMP/w1.out" 2>"$H_TMP/w1.err" &
W=$!
H_PIDS+=("$W")
h_check "watch: first answer synced (nothing new)" h_wait_for 20 has_line "$H_TMP/w1.out" '^sync status=ok '
h_check "watch: a long-poll is held by the server" h_wait_for 20 holding
h_check "  no change printed yet" bash -c "! grep -q '^change' '$H_TMP/w1.out'"
V2=$(h_pub PUT /buckets/main/collections/certs/records/b '{"data":{"n":2}}' | h_json d.data.last_modified)
h_check "watch ends after --count 1 change" h_wait_for 40 gone "$W"
rc=0; wait "$W" || rc=$?
h_check "  exit status 0" h_eq "$rc" 0
h_check "  printed the verified change to v2 (2 records)" has_line "$H_TMP/w1.out" "^change main/certs version=$V2 records=2\$"
h_check "  then its records (a and b)" bash -c "grep -A1 '^change main/certs' '$H_TMP/w1.out' | tail -1 | grep -q '\"id\":\"a\".*\"id\":\"b\"'"
h_check "  summary: v2, ok, committed by the signed monitor" bash -c "grep -q '^main/certs version=$V2 records=2 status=ok\$' '$H_TMP/w1.out' && grep -q '^monitor .*committed=1' '$H_TMP/w1.out'"
out=$("$HERALD" show --state "$A" --public-key "$H_PUBKEY" main/certs) || true
h_check "the stored state re-verifies (herald show): v2" h_eq "$(sed -n 's/^main\/certs version=\([0-9]*\) records=\([0-9]*\).*/\1 \2/p' <<<"$out")" "$V2 2"
srv_ids=$(curl -s "$CS" | h_json "d.changes.map(r=>r.id).sort().join(',')")
held_ids=$(sed -n 2p <<<"$out" | h_json "d.map(r=>r.id).join(',')")
h_check "  same records as the server's changeset" h_eq "$held_ids" "$srv_ids"
out=$("$HERALD" verify --url "$CS" --public-key "$H_PUBKEY") || true
h_check "herald verify of the server's changeset: OK at v2" bash -c "grep -q '^OK bucket=main collection=certs timestamp=$V2 records=2 ' <<<'$out'"

# 2. The read server restarts during the watch.
"$HERALD" watch "$H_SRV" --public-key "$H_PUBKEY" --state "$A" --wait 5 --count 1 --timeout 60 \
    --retries 1 --timeout-ms 2000 main/certs >"$H_TMP/w2.out" 2>"$H_TMP/w2.err" &
W=$!
H_PIDS+=("$W")
h_check "watch 2: first answer synced" h_wait_for 20 has_line "$H_TMP/w2.out" '^sync status=ok '
h_check "watch 2: held" h_wait_for 20 holding
kill -TERM "$H_SRV_PID"
wait "$H_SRV_PID" 2>/dev/null || true
h_check "server down: the watcher reports a network failure" h_wait_for 30 has_line "$H_TMP/w2.out" '^sync status=network '
h_check "  and keeps watching" kill -0 "$W"
V3=$(h_pub PUT /buckets/main/collections/certs/records/c '{"data":{"n":3}}' | h_json d.data.last_modified)
h_start_server
h_check "server back: the watcher delivers v3 and ends" h_wait_for 50 gone "$W"
rc=0; wait "$W" || rc=$?
h_check "  exit status 0" h_eq "$rc" 0
h_check "  printed the verified change to v3" has_line "$H_TMP/w2.out" "^change main/certs version=$V3 records=3\$"
h_check "  no change printed that is not v3" h_eq "$(grep -c '^change' "$H_TMP/w2.out")" 1
out=$("$HERALD" show --state "$A" --public-key "$H_PUBKEY" main/certs) || true
h_check "the stored state re-verifies: v3" h_eq "$(sed -n 's/^main\/certs version=\([0-9]*\) .*/\1/p' <<<"$out")" "$V3"

# 3. Ending by itself: --timeout with no change (exit 1), and SIGTERM (exit 0).
rc=0
"$HERALD" watch "$H_SRV" --public-key "$H_PUBKEY" --state "$A" --wait 1 --count 1 --timeout 3 \
    main/certs >"$H_TMP/w3.out" 2>&1 || rc=$?
h_check "--timeout with no change: exit status 1" h_eq "$rc" 1
h_check "  nothing changed" bash -c "! grep -q '^change' '$H_TMP/w3.out' && grep -q '^main/certs version=$V3 .*status=ok' '$H_TMP/w3.out'"
"$HERALD" watch "$H_SRV" --public-key "$H_PUBKEY" --state "$A" --wait 30 main/certs \
    >"$H_TMP/w4.out" 2>&1 &
W=$!
H_PIDS+=("$W")
h_check "watch 4: held" h_wait_for 20 has_line "$H_TMP/w4.out" '^sync status=ok '
kill -TERM "$W"
h_check "SIGTERM ends the watch (the held request is aborted)" h_wait_for 10 gone "$W"
rc=0; wait "$W" || rc=$?
h_check "  exit status 0, summary printed" bash -c "[ $rc = 0 ] && grep -q '^stats requests=' '$H_TMP/w4.out'"

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
