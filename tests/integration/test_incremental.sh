#!/usr/bin/env bash
# Incremental publishing (docs/incremental.md), end to end: writers create, replace,
# delete and re-create records and change the collection's attributes, with a short
# tombstone horizon (crossed during the run) and short-lived signatures (re-signs), while
# the signer is killed with SIGKILL and restarted, and the read server too. Then:
#   - the read server built versions from the signer's deltas, and refused none (a
#     refusal means a delta that does not rebuild the signed state: a signer bug);
#   - it serves the latest version, every acknowledged write included, and a client's
#     verification (herald-signer verify) accepts it;
#   - a read server started afterwards, which loads the full blob, serves exactly the
#     same bytes, for the full changeset and for deltas from several versions;
#   - every snapshot the signer stored is the exact state at its timestamp.
source "$(dirname "$0")/../support/harness.sh"

NODE_DIR=$H_SRC/tests/node
h_start_redis
h_keygen
h_start_publisher
export HERALD_TOMBSTONE_HORIZON_SECONDS=2 HERALD_SIGNATURE_LIFETIME_SECONDS=60 \
    HERALD_SIGNATURE_RESIGN_SECONDS=59
h_start_signer --consumer incr
h_start_server

h_check "setup" h_eq "$(h_public_collection incr c)" 201201
h_follow_snapshots incr/c
CS=/buckets/incr/collections/c/changeset

node "$NODE_DIR/verify_load.js" --url "$H_PUB" --auth "$H_AUTH" --bucket incr --collection c \
    --log "$H_TMP/writes.jsonl" --seconds 9 --workers 2 --ids 30 --metadata-every 17 &
LOAD_PID=$!

# Kill the signer twice and the read server once, in the middle of the burst.
sleep 2
kill -KILL "$H_SIGNER_PID"
wait "$H_SIGNER_PID" 2>/dev/null || true
sleep 0.3
h_start_signer --consumer incr
sleep 2
kill -KILL "$H_SRV_PID"
wait "$H_SRV_PID" 2>/dev/null || true
h_start_server
sleep 1.5
kill -KILL "$H_SIGNER_PID"
wait "$H_SIGNER_PID" 2>/dev/null || true
h_start_signer --consumer incr
wait "$LOAD_PID"
h_check "writers ran" test -s "$H_TMP/writes.jsonl"
h_log "     $(wc -l <"$H_TMP/writes.jsonl") acknowledged writes"

h_check "the signer converges to the latest state" h_wait_for 30 h_signed_latest incr c
V=$(h_redis ZSCORE herald:monitor incr/c)
h_check "the read server serves the latest version" h_wait_for 20 h_served_at "$H_SRV$CS" "$V"
sleep 0.3
kill "$H_INSPECT_PID" 2>/dev/null || true

built=$(grep -c "incr/c version [0-9]* built from a delta" "$H_TMP/server.log" || true)
h_log "     $built versions built from deltas"
h_check "the read server built versions from deltas" test "$built" -gt 20
h_check "no delta was refused" bash -c "! grep 'delta for incr/c refused' '$H_TMP/server.log'"
h_check "deltas are stored beside the blobs" test "$(h_redis --scan --pattern 'herald:snapdelta:incr/c:*' | wc -l)" -gt 0

out=$(h_verify "$H_SRV/buckets/incr/collections/c/changeset" "$H_PUBKEY")
h_log "     $out"
h_check "herald-signer verify accepts the served changeset" bash -c "grep -q '^OK' <<<'$out'"

# A fresh read server loads the full blob: the same bytes, full and deltas.
h_start_second_server
h_check "the fresh server serves the latest version" h_wait_for 20 h_served_at "$H_SRV2$CS" "$V"
same() { # QUERY
    curl -s "$H_SRV$CS$1" >"$H_TMP/a.json"
    curl -s "$H_SRV2$CS$1" >"$H_TMP/b.json"
    test -s "$H_TMP/a.json" && cmp -s "$H_TMP/a.json" "$H_TMP/b.json"
}
h_check "full changeset: byte for byte the same as from the full blob" same "?_expected=$V"
mapfile -t vs < <(node -e '
const l = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const ts = [...new Set(l.map((s) => s.timestamp))].sort((a, b) => b - a);
for (const t of [ts[1], ts[5], ts[20], ts[ts.length - 1]]) if (t) console.log(t);' "$H_TMP/snapshots.jsonl")
h_check "  (control: older versions to ask deltas from)" test "${#vs[@]}" -ge 3
for s in "${vs[@]}"; do
    h_check "_since=$s: the same bytes" same "?_expected=$V&_since=$s"
done
# The cached deltas (server/snapset.c) hold no copy of their identity bytes: their gzip
# and zstd forms are compressed from slices of the listing, built here from the signer's
# deltas. Decoded, they are the bytes the fresh server serves in identity.
coded() { # QUERY CODING: 0 when served in CODING and decoding to the fresh server's bytes
    curl -s -D "$H_TMP/h.txt" -H "Accept-Encoding: $2" "$H_SRV$CS$1" >"$H_TMP/c.bin"
    curl -s "$H_SRV2$CS$1" >"$H_TMP/b.json"
    grep -qi "^content-encoding: $2" "$H_TMP/h.txt" || return 1
    if [ "$2" = gzip ]; then gzip -dc <"$H_TMP/c.bin"; else zstd -qdc <"$H_TMP/c.bin"; fi >"$H_TMP/d.json"
    test -s "$H_TMP/b.json" && cmp -s "$H_TMP/d.json" "$H_TMP/b.json"
}
# The delta from the version this server built before the last one is always cached
# (snapset.h: the versions built here come first); the signer's previous version may not
# be, when the server skipped it (a jump delta) and it is more than 16 entries back.
# When V itself came from the full blob (the server fell too far behind for a jump
# delta), the first boundaries are cached: _since = the second entry's last_modified.
built=$(grep -o "incr/c version [0-9]* built from a delta" "$H_TMP/server.log" | awk '{print $3}' | tail -2)
if [ "$(tail -1 <<<"$built")" = "$V" ]; then
    PREV=$(head -1 <<<"$built")
else
    h_log "     V was not built from a delta: _since of the second entry"
    PREV=$(curl -s "$H_SRV2$CS?_expected=$V" | h_json 'd.changes[1].last_modified')
fi
for enc in gzip zstd; do
    h_check "_since=$PREV in $enc: the same bytes, decoded" h_wait_for 10 coded "?_expected=$V&_since=$PREV" "$enc"
done

out=$(h_verify_states incr c 10)
h_log "     $out"
h_check "every stored snapshot is the state at its timestamp; final == Redis" h_eq "${out%% *}" OK

h_finish
