#!/usr/bin/env bash
# A large collection's full blob waits for a newer version even without a backlog
# (docs/incremental.md, "Storing the full blob later"; publish.c LARGE_BLOB_DEFER_MS).
# signer_large_blob_bytes is set to 1 here, so that every collection counts as large.
#   - edits one at a time (each served before the next: no backlog) have fewer blobs
#     built than versions announced with deltas: superseded ones are not built (with the
#     default threshold each of them is, as test_signer_blob_later.sh checks);
#   - once the edits stop, the blob is the last version's and nothing is pending;
#   - a read server starting cold while a blob waits serves the announced version, built
#     from the older blob and the jump delta (test_signer_blob_later.sh checks that such a
#     server never serves the older blob's version);
#   - a signer stopped (SIGTERM) while a blob waits leaves nothing pending: the blob is
#     stored before it exits.
source "$(dirname "$0")/../support/harness.sh"

h_start_redis
h_keygen
h_start_publisher
HERALD_SIGNER_LARGE_BLOB_BYTES=1 h_start_signer --consumer large
h_start_server

h_snap_seed large
R=/buckets/large/collections/c/records
CS=/buckets/large/collections/c/changeset
stored() { h_snap_stored large/c; }
blob_v() { h_snap_blob large/c; }
pending() { h_snap_pending large/c; }
settled() { h_snap_settled large c; }
B=$(settled)
h_check "the read server serves the base version" h_wait_for 20 h_served_at "$H_SRV$CS" "$B"

# Edits one at a time: each one is stored and served before the next is written.
n0=$(wc -l <"$H_TMP/signer.log")
for i in $(seq 1 12); do
    h_put "$R/r1" "{\"data\":{\"n\":$((100 + i))}}" >/dev/null
    ts=$(h_redis GET "herald:ts:/buckets/large/collections/c:record")
    h_wait_for 20 bash -c "[ \"\$(redis-cli -p $H_REDIS_PORT ZSCORE herald:monitor large/c)\" -ge $ts ]" || true
    h_wait_for 20 h_served_at "$H_SRV$CS" "$(stored)" || true
done
last=$(stored)
h_check "  (control: the last edit is served)" h_wait_for 20 h_served_at "$H_SRV$CS" "$last"
U=$(settled)
h_check "once the edits stop, the blob is the last version, nothing pending" \
    h_eq "$(blob_v) $(pending)" "$U "
h_check "  (control: the edits made that version)" h_eq "$U" "$last"
log=$(tail -n +$((n0 + 1)) "$H_TMP/signer.log")
nv=$(grep -c "signed large/c version=.* deltas=[1-9]" <<<"$log" || true)
nb=$(grep -c "blob large/c version=" <<<"$log" || true)
h_log "     edits one at a time: $nv versions announced with deltas, $nb blobs stored after"
h_check "  (control: every edit was a version of its own)" test "$nv" -ge 12
h_check "superseded blobs were not built" test "$nb" -lt "$nv"

# A blob waiting when a read server starts cold: it serves the announced version (the
# older blob and the jump delta), never the older one.
h_put "$R/r2" '{"data":{"n":22}}' >/dev/null
h_check "  (control: a blob is waiting)" h_wait_for 10 bash -c "[ -n \"\$(redis-cli -p $H_REDIS_PORT HGET herald:snap:pending large/c)\" ]"
# Held there (the blob is due only 500 ms after the announcement) while a server starts,
# once the signed monitor names the version (the first read server serves it).
W=$(stored)
h_wait_for 20 h_served_at "$H_SRV$CS" "$W" || true
kill -STOP "$H_SIGNER_PID"
held=$(blob_v)
h_check "  (control: that version pending, the stored blob an older one)" \
    h_eq "$(pending) $([ "$held" -lt "$W" ] && echo older)" "$W older"
h_start_second_server
h_check "a read server starting meanwhile serves the announced version" \
    h_wait_for 20 h_served_at "$H_SRV2$CS" "$W"
h_check "it holds the last write" h_eq \
    "$(curl -s "$H_SRV2$CS" | h_json 'd.changes.find((r) => r.id === "r2").n')" 22
kill -CONT "$H_SIGNER_PID"

# Stopped while a blob waits: the signer stores it before it exits.
h_put "$R/r2" '{"data":{"n":23}}' >/dev/null
h_check "  (control: a blob is waiting again)" h_wait_for 10 bash -c "[ -n \"\$(redis-cli -p $H_REDIS_PORT HGET herald:snap:pending large/c)\" ]"
X=$(stored)
kill -TERM "$H_SIGNER_PID"
wait "$H_SIGNER_PID" 2>/dev/null || true
h_check "a signer stopped meanwhile stored the blob first, nothing pending" \
    h_eq "$(blob_v) $(pending)" "$X "

h_finish
