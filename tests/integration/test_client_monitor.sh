#!/usr/bin/env bash
# The C client (`herald`) proves freshness with the signed monitor (issue 14), against a
# real publisher, signer (monitor lifetime 6 s: re-signed every 3 s) and read server,
# directly and through tests/node/client_proxy.mjs, a real proxy process playing the
# attacker. Each attack is detected, the sync fails with its reason and the last verified
# copy is kept:
#   - a frozen monitor (the first one served again after its expiry)      -> expired
#   - a rolled-back monitor (older M than one the client verified)        -> rollback
#   - a collection version the monitor does not commit to (an older,
#     validly signed changeset served while the monitor names a newer V)  -> uncommitted
#   - an entry removed from the monitor (signature kept)                  -> invalid
#   - a monitor re-signed by a key the client does not pin                -> unknown_key
# and without an attack the sync reports every followed collection committed, with the
# monitor's age.
source "$(dirname "$0")/../support/harness.sh"

h_start_redis
h_keygen
h_start_publisher
HERALD_MONITOR_SIGNATURE_LIFETIME_SECONDS=6 h_start_signer
h_start_server

P_PORT=$(h_free_port)
MODE=$H_TMP/proxy.mode
echo pass >"$MODE"
node "$H_SRC/tests/node/client_proxy.mjs" "$P_PORT" "http://127.0.0.1:$H_SRV_PORT/v1" "$MODE" \
    "$H_TMP/proxy.reqs" 2>>"$H_TMP/proxy.log" &
H_PIDS+=("$!")
h_wait_port "$P_PORT" 20 "$!" "$H_TMP/proxy.log"
PROXY="http://127.0.0.1:$P_PORT/v1"
MON="$H_SRV/buckets/monitor/collections/changes/changeset"
OTHER_KEY=$("$H_BUILD/signer/herald-signer" keygen --out "$H_TMP/attacker.key")

sync() { local dir=$1; shift; "$H_BUILD/client/herald" sync "$@" --public-key "$H_PUBKEY" --state "$dir" --retries 1 --timeout-ms 3000 main/certs; }
status() { sed -n 's/^main\/certs .*status=\([^ ]*\).*/\1/p'; }
version() { sed -n 's/^main\/certs version=\([0-9]*\).*/\1/p'; }
committed() { sed -n 's/^monitor .*committed=\([01]\).*/\1/p'; }
mon_m() { curl -s "$MON" | h_json d.timestamp; }
in_monitor() { [ "$(curl -s "$MON" | h_json "(d.changes.find(c=>c.collection==='certs')||{}).last_modified")" = "$1" ] && curl -s "$MON" | h_json 'd.metadata.signatures.length' | grep -qx 1; }

h_public_collection main certs >/dev/null
V1=$(h_pub PUT /buckets/main/collections/certs/records/a '{"data":{"n":1}}' | h_json d.data.last_modified)
h_check "v1 in the signed monitor" h_wait_for 20 in_monitor "$V1"

A=$H_TMP/a
out=$(sync "$A" "$PROXY") || true
h_check "first sync through the proxy: ok" h_eq "$(echo "$out" | status)" ok
h_check "  at v1" h_eq "$(echo "$out" | version)" "$V1"
h_check "  every followed collection committed by the monitor" h_eq "$(echo "$out" | committed)" 1
age=$(echo "$out" | sed -n 's/^monitor .*age_ms=\([0-9-]*\).*/\1/p')
h_check "  monitor age reported, under its lifetime" test "$age" -ge 0 -a "$age" -lt 6000
M1=$(sed -n 's/^monitor timestamp=\([0-9]*\).*/\1/p' <<<"$out")

# Rollback: once the client has verified a newer M, the first monitor is refused.
newer() { [ "$(mon_m)" -gt "$M1" ]; }
h_check "the signer re-signs the monitor (M grows)" h_wait_for 15 newer
out=$(sync "$A" "$PROXY") || true
h_check "sync at a newer monitor: ok" h_eq "$(echo "$out" | status)" ok
echo freeze >"$MODE"
rc=0; out=$(sync "$A" "$PROXY") || rc=$?
h_check "rolled-back monitor: rollback" h_eq "$(echo "$out" | status)" rollback
h_check "  exit status 1" h_eq "$rc" 1
h_check "  not committed" h_eq "$(echo "$out" | committed)" 0
h_check "  last verified copy kept" h_eq "$(echo "$out" | version)" "$V1"

# Frozen: the same first monitor to a client that never saw a newer one, after expiry.
E1=$(($(curl -s "$PROXY/buckets/monitor/collections/changes/changeset" | h_json 'd.metadata.signatures[0].head.expires')))
past() { [ "$(h_now_ms)" -gt "$E1" ]; }
h_check "  (the frozen monitor's expiry passes)" h_wait_for 15 past
out=$(sync "$H_TMP/fresh1" "$PROXY") || true
h_check "frozen monitor served past expiry: expired" h_eq "$(echo "$out" | status)" expired
h_check "  nothing fetched: no verified copy" h_eq "$(echo "$out" | version)" 0

# An entry removed from the monitor: its hash no longer matches.
echo "drop_entry main/certs" >"$MODE"
out=$(sync "$A" "$PROXY") || true
h_check "entry removed from the monitor: invalid" h_eq "$(echo "$out" | status)" invalid
h_check "  last verified copy kept" h_eq "$(echo "$out" | version)" "$V1"

# A monitor signed by a key the client does not pin (fresh expiry).
echo "forge $H_TMP/attacker.key" >"$MODE"
out=$(sync "$A" "$PROXY") || true
h_check "monitor signed by an unpinned key: unknown_key" h_eq "$(echo "$out" | status)" unknown_key
h_check "  (control: that key verifies it)" bash -c "curl -s '$PROXY/buckets/monitor/collections/changes/changeset' | node '$H_SRC/tests/node/verify_monitor.mjs' '$OTHER_KEY' | grep -q '^OK'"

# A collection version the monitor does not commit to: v2 is published and signed into
# the monitor, the proxy serves the (validly signed) v1 changeset instead.
echo pass >"$MODE"
V2=$(h_pub PUT /buckets/main/collections/certs/records/b '{"data":{"n":2}}' | h_json d.data.last_modified)
h_check "v2 in the signed monitor" h_wait_for 20 in_monitor "$V2"
echo replay_collection >"$MODE"
out=$(sync "$H_TMP/fresh2" "$PROXY") || true
h_check "older version than the monitor commits to (new client): uncommitted" h_eq "$(echo "$out" | status)" uncommitted
h_check "  nothing stored" h_eq "$(echo "$out" | version)" 0
out=$(sync "$A" "$PROXY") || true
h_check "older version than the monitor commits to (client at v1): uncommitted" h_eq "$(echo "$out" | status)" uncommitted
h_check "  last verified copy kept" h_eq "$(echo "$out" | version)" "$V1"

# No attack: up to date and committed again.
echo pass >"$MODE"
out=$(sync "$A" "$PROXY") || true
h_check "honest proxy again: ok at v2" h_eq "$(echo "$out" | status) $(echo "$out" | version)" "ok $V2"
h_check "  committed" h_eq "$(echo "$out" | committed)" 1
out=$(sync "$H_TMP/direct" "$H_SRV") || true
h_check "direct sync: ok, committed" h_eq "$(echo "$out" | status) $(echo "$out" | committed)" "ok 1"

h_finish
