#!/usr/bin/env bash
# Crash at any point: `herald sync` is killed with SIGKILL at random moments (often in
# the middle of fetching, verifying or writing its state) while the collection keeps
# changing. After every kill the state must still load and verify (`herald show`), its
# version must never go back, and no kill may leave a state file that does not verify.
# A final uninterrupted sync must reach the server's version with the server's records.
# Run for the C client (collection main/$COLL_c) and the JavaScript one (main/$COLL_js, Node
# directory store) alike.
source "$(dirname "$0")/../support/harness.sh"

h_start_pipeline
served() { [ "$(h_etag "$CS")" = "$1" ]; }
herald() { "${HERALD[@]}" "$@"; }

scenario() {
COLL=$1
CS="$H_SRV/buckets/main/collections/$COLL/changeset"
h_log "---- $COLL: ${HERALD[*]##*/}"
created=$(h_public_collection main "$COLL")
h_check "collection created" h_eq "${created: -3}" 201

# Big enough records that writing the state takes a while (~1 MB in all).
pad=$(head -c 30000 /dev/zero | tr '\0' 'x')
for i in $(seq 1 30); do
    h_pub PUT "/buckets/main/collections/$COLL/records/r$i" "{\"data\":{\"i\":$i,\"pad\":\"$pad\"}}" >"$H_TMP/last"
done
V=$(h_json d.data.last_modified <"$H_TMP/last")
h_check "initial version served" h_wait_for 20 served "$V"

S=$H_TMP/state_$COLL
# How long one whole sync takes here and now (a loaded CI machine or a sanitizer build
# can be several times slower than a quiet one): the kill delays below span 1 ms to 1.5
# times that, so that some syncs are killed mid-way and some complete.
t0=$(date +%s%3N)
"${HERALD[@]}" sync "$H_SRV" --public-key "$H_PUBKEY" --state "$H_TMP/calib_$COLL" main/$COLL >/dev/null 2>&1 || true
span=$((($(date +%s%3N) - t0) * 3 / 2))
[ "$span" -ge 50 ] || span=50
h_log "     one sync took $((span * 2 / 3)) ms: kills from 1 to $span ms"
last=0 killed=0 bad=0 regress=0
for round in $(seq 1 25); do
    # A change every other round, so some syncs fetch a delta and some nothing.
    if [ $((round % 2)) = 0 ]; then
        h_pub PUT "/buckets/main/collections/$COLL/records/r$((RANDOM % 30 + 1))" \
            "{\"data\":{\"round\":$round,\"pad\":\"$pad\"}}" >/dev/null
    fi
    # From 1 ms (before any request) to 1.5 whole syncs.
    d=$((RANDOM % span + 1))
    delay=$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))
    rc=0
    timeout -s KILL "$delay" "${HERALD[@]}" sync "$H_SRV" --public-key "$H_PUBKEY" --state "$S" main/$COLL \
        >/dev/null 2>&1 || rc=$?
    [ "$rc" = 137 ] && killed=$((killed + 1))
    if [ -f "$S/main/$COLL.json" ]; then
        out=$(herald show --state "$S" --public-key "$H_PUBKEY" main/$COLL | head -1 || true)
        v=$(echo "$out" | sed -n 's/.* version=\([0-9]*\).*/\1/p')
        if [ "${v:-0}" = 0 ]; then
            bad=$((bad + 1))
            h_log "     round $round: state does not load: $out"
        elif [ "$v" -lt "$last" ]; then
            regress=$((regress + 1))
        else
            last=$v
        fi
    fi
done
h_log "     $killed killed of 25; last version held $last"
h_check "some syncs were killed mid-way" test "$killed" -gt 0
h_check "some syncs completed and stored a state" test "$last" -gt 0
h_check "every state left by a kill loads and verifies" h_eq "$bad" 0
h_check "the held version never went back" h_eq "$regress" 0
V=$(h_etag "$CS")
out=$(herald sync "$H_SRV" --public-key "$H_PUBKEY" --state "$S" main/$COLL | head -1 || true)
h_check "a final sync reaches the served version" h_eq "$(echo "$out" | sed -n 's/.* version=\([0-9]*\) .*status=\([a-z]*\).*/\1 \2/p')" "$V ok"
a=$(curl -s "$CS" | h_json 'd.changes.map(r=>r.id+":"+r.last_modified).sort().join(",")')
b=$(herald show --state "$S" --public-key "$H_PUBKEY" main/$COLL | sed -n 2p | h_json 'd.map(r=>r.id+":"+r.last_modified).sort().join(",")')
h_check "and holds the server's records" h_eq "$b" "$a"
}

HERALD=("$H_BUILD/client/herald")
scenario big_c
HERALD=(node "$H_SRC/tests/node/herald_cli.mjs")
scenario big_js
h_finish
