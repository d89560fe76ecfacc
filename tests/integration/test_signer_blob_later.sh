#!/usr/bin/env bash
# The full blob after the announcement (docs/incremental.md, "Storing the full blob
# later"): a version the signer stores with deltas is stored and announced first, its
# full blob follows, and herald:snap:pending (member -> V) says so until it is stored.
#   - after an edit: the blob is the announced version and nothing is pending, the
#     signer logged the blob as stored after its announcement, and the version was
#     announced twice (stored, then its blob);
#   - under a backlog (four writers at once) superseded blobs are not built, and the last
#     version's blob is stored once the writes stop;
#   - a signer killed between the two (the state is made exactly: deltas, monitor and
#     announcement of V, the blob of the version before, V pending): a read server that
#     starts cold meanwhile never serves the older blob's version: it serves V, built from
#     that blob and the jump delta; without the delta, another serves nothing of the
#     collection; the next signer signs the collection again at once (a full read: its
#     blob stored with it), nothing stays pending, and every read server serves that
#     version, the blob's.
source "$(dirname "$0")/../support/harness.sh"

h_start_redis
h_keygen
h_start_publisher
h_start_signer --consumer later
h_start_server

h_snap_seed later
R=/buckets/later/collections/c/records
CS=/buckets/later/collections/c/changeset
stored() { h_snap_stored later/c; }
blob_v() { h_snap_blob later/c; }
pending() { h_snap_pending later/c; }
settled() { h_snap_settled later c; }
B=$(settled)
h_check "the read server serves the base version" h_wait_for 20 h_served_at "$H_SRV$CS" "$B"

# Every announcement on the channel, from here on.
redis-cli -p "$H_REDIS_PORT" SUBSCRIBE herald:snapshots >"$H_TMP/announced.txt" &
SUB_PID=$!
H_PIDS+=("$SUB_PID")
sleep 0.3
h_check "update r1" h_eq "$(h_put "$R/r1" '{"data":{"n":11}}')" 200
V=$(settled)
h_check "  (control: a new version was stored)" test "$V" -gt "$B"
h_check "the blob is the announced version" h_eq "$(blob_v)" "$V"
h_check "nothing is pending" h_eq "$(pending)" ""
h_check "the signer stored the blob after the announcement" \
    grep -q "blob later/c version=$V stored after its announcement" "$H_TMP/signer.log"
h_check "the read server serves it" h_wait_for 20 h_served_at "$H_SRV$CS" "$V"
h_check "announced twice: stored, then its blob" h_wait_for 5 \
    bash -c "[ \$(grep -cx 'later/c $V' '$H_TMP/announced.txt') = 2 ]"
kill "$SUB_PID" 2>/dev/null || true

# Under a backlog (writes faster than versions: four writers at once) a blob may wait,
# superseded by newer versions (consume.c, BLOB_DEFER_MS): fewer blobs than versions are
# built, and once the writes stop the last version's blob is stored, nothing pending.
n0=$(wc -l <"$H_TMP/signer.log")
seq 1 240 | xargs -P 4 -I{} curl -s -o /dev/null -u "$H_AUTH" -X PUT \
    -H 'Content-Type: application/json' --data-binary '{"data":{"n":{}}}' "$H_PUB$R/b{}"
U=$(settled)
h_check "  (control: the burst was stored)" test "$U" -gt "$V"
later=$(tail -n +$((n0 + 1)) "$H_TMP/signer.log")
nv=$(grep -c "signed later/c version=.* deltas=[1-9]" <<<"$later" || true)
nb=$(grep -c "blob later/c version=" <<<"$later" || true)
h_log "     during the burst: $nv versions announced with deltas, $nb blobs stored after"
h_check "  (control: several versions announced before their blob)" test "$nv" -gt 2
h_check "superseded blobs were not built" test "$nb" -lt "$nv"
h_check "after the burst: the blob is the last version, nothing pending" \
    h_eq "$(blob_v) $(pending)" "$U "
h_check "the read server serves it" h_wait_for 20 h_served_at "$H_SRV$CS" "$U"

# A signer killed between the announcement and the blob. Its state is made exactly: the
# blob of U saved, one more version stored whole, the signer killed, U's blob put back
# and the newer version marked pending (what signer_store.lua leaves before the blob).
h_redis COPY herald:snap:later/c herald:test:saved >/dev/null
h_check "update r2" h_eq "$(h_put "$R/r2" '{"data":{"n":22}}')" 200
W=$(settled)
h_check "  (control: a newer version was stored)" test "$W" -gt "$U"
kill -9 "$H_SIGNER_PID"
wait "$H_SIGNER_PID" 2>/dev/null || true
h_redis COPY herald:test:saved herald:snap:later/c REPLACE >/dev/null
h_redis HSET herald:snap:pending later/c "$W" >/dev/null
h_check "  (control: the blob is the older version, the newer one pending)" \
    h_eq "$(blob_v) $(pending) $(stored)" "$U $W $W"

# A read server that starts cold meanwhile must not serve U: clients may hold W (from this
# server before a restart, or from another one), and U would send them back in time. The
# delta from U leads to W (the jump delta): it serves W, built from it, and nothing before.
# watch URL FILE: the status and ETag of every answer for ~4 s (bounded), from now on.
watch() {
    for _ in $(seq 1 200); do
        curl -s -o /dev/null -m 2 -w '%{http_code} %header{etag}\n' "$1" >>"$2" || true
        sleep 0.02
    done
}
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$1/__heartbeat__")" = 200 ]; }
h_start_second_server
watch "$H_SRV2$CS" "$H_TMP/srv2.seen" &
WATCH=$!
H_PIDS+=("$WATCH")
h_check "a read server starting meanwhile becomes ready" h_wait_for 20 ready "$H_SRV2"
h_check "  and serves the announced version at once, from the blob and the delta" \
    h_served_at "$H_SRV2$CS" "$W"
wait "$WATCH" || true
h_check "  (control: its answers were watched from its start)" \
    test "$(grep -c "^200 \"$W\"" "$H_TMP/srv2.seen")" -ge 1
h_check "  it never served the older blob's version" h_eq "$(grep -c "\"$U\"" "$H_TMP/srv2.seen")" 0
h_check "  it logged the catch-up" grep -q "later/c: the stored blob is version $U, $W is announced" \
    "$H_TMP/server.log"

# Without the delta (expired), no way leads from U to W: a third server serves nothing of
# the collection (never U) until the next signer signs it again.
h_redis DEL "herald:snapdelta:later/c:$U" >/dev/null
H3_PORT=$(h_free_port)
H3="http://127.0.0.1:$H3_PORT/v1"
h_spawn_server "$H3_PORT"
watch "$H3$CS" "$H_TMP/srv3.seen" &
WATCH=$!
H_PIDS+=("$WATCH")
sleep 1.5
# Not ready: the signed monitor names W, which it cannot serve (lock-step, docs/server.md).
h_check "a third server, without the delta, does not say it is ready" \
    test "$(curl -s -o /dev/null -w '%{http_code}' "$H3/__heartbeat__")" != 200
h_check "  and does not serve the collection" h_eq "$(curl -s -o /dev/null -w '%{http_code}' "$H3$CS")" 404

h_start_signer --consumer later2
h_check "the next signer stores a blob again, nothing pending" h_wait_for 20 \
    bash -c "[ -z \"\$(redis-cli -p $H_REDIS_PORT HGET herald:snap:pending later/c)\" ]"
X=$(stored)
h_check "a newer version was signed" test "$X" -gt "$W"
h_check "the blob is that version" h_eq "$(blob_v)" "$X"
h_check "the first read server serves it" h_wait_for 20 h_served_at "$H_SRV$CS" "$X"
h_check "the read server that started cold serves it" h_wait_for 20 h_served_at "$H_SRV2$CS" "$X"
h_check "the third server serves it" h_wait_for 20 h_served_at "$H3$CS" "$X"
h_check "  and is ready" ready "$H3"
wait "$WATCH" || true
h_check "  (control: the third server's answers were watched)" test "$(wc -l <"$H_TMP/srv3.seen")" -ge 100
h_check "  it never served the older blob's version" h_eq "$(grep -c "\"$U\"" "$H_TMP/srv3.seen")" 0
h_check "it holds the last write" h_eq \
    "$(curl -s "$H_SRV2$CS" | h_json 'd.changes.find((r) => r.id === "r2").n')" 22

h_finish
