#!/usr/bin/env bash
# A tampered delta reaches a read server (docs/incremental.md): one byte of a record's
# value is changed in the delta Redis holds (the same length, so it parses). The server
# refuses it (its SHA-256 does not match the signed head), serves the version from the
# full blob instead, and never the tampered bytes. The server verifies on a thread of its
# own while it builds the bodies (server_parallel_verify_records=1: every delta here), so
# this is also the check that a version built before its verification failed is dropped.
source "$(dirname "$0")/../support/harness.sh"

h_start_redis
h_keygen
h_start_publisher
h_start_signer
HERALD_SERVER_PARALLEL_VERIFY_RECORDS=1 h_start_server

CS=/buckets/t/collections/c/changeset
h_check "setup" h_eq "$(h_public_collection t c)" 201201
for i in 1 2 3; do
    h_put "/buckets/t/collections/c/records/r$i" "{\"data\":{\"value\":\"start-$i\"}}" >/dev/null
done
h_check "the signer signs the records" h_wait_for 20 h_signed_latest t c
V1=$(h_redis ZSCORE herald:monitor t/c)
h_check "the server serves them" h_wait_for 20 h_served_at "$H_SRV$CS" "$V1"

# Control: an edit is built from its (untampered) delta, verified on the thread.
h_put /buckets/t/collections/c/records/r1 '{"data":{"value":"edited"}}' >/dev/null
h_check "the edit is signed" h_wait_for 20 h_signed_latest t c
V2=$(h_redis ZSCORE herald:monitor t/c)
h_check "the edit is served" h_wait_for 20 h_served_at "$H_SRV$CS" "$V2"
h_check "  from its delta" h_wait_for 5 grep -q "t/c version $V2 built from a delta" "$H_TMP/server.log"

# The server is stopped while the next version is published (its delta, then its full
# blob), the delta is tampered with, then the server goes on and reads it.
kill -STOP "$H_SRV_PID"
h_put /buckets/t/collections/c/records/r2 '{"data":{"value":"tamperme"}}' >/dev/null
h_check "the next edit is signed" h_wait_for 20 h_signed_latest t c
V3=$(h_redis ZSCORE herald:monitor t/c)
blob_stored() { [ "$(h_redis HEXISTS herald:snap:pending t/c)" = 0 ] && [ "$(h_redis EXISTS herald:snap:t/c)" = 1 ]; }
h_check "  its full blob is stored" h_wait_for 20 blob_stored
DKEY="herald:snapdelta:t/c:$V2"
h_check "  its delta from the served version is stored" h_eq "$(h_redis EXISTS "$DKEY")" 1
at=$(h_redis EVAL "local d = redis.call('GET', KEYS[1]); local i = string.find(d, 'tamperme', 1, true)
if not i then return 0 end
redis.call('SET', KEYS[1], string.sub(d, 1, i - 1) .. 'tamperMe' .. string.sub(d, i + 8)); return i" 1 "$DKEY")
h_check "  (control: the delta held the record, changed in place)" test "$at" -gt 0
kill -CONT "$H_SRV_PID"

h_check "the server serves the new version" h_wait_for 20 h_served_at "$H_SRV$CS" "$V3"
h_check "  having refused the tampered delta" \
    grep -q "delta for t/c refused (.*does not verify" "$H_TMP/server.log"
h_check "  not built from it" bash -c "! grep -q 't/c version $V3 built from a delta' '$H_TMP/server.log'"
body=$(curl -s "$H_SRV$CS")
h_check "  with the signed bytes" grep -q '"value":"tamperme"' <<<"$body"
h_check "  never the tampered ones" bash -c "! grep -q tamperMe <<<'$body'"
out=$(h_verify "$H_SRV$CS" "$H_PUBKEY")
h_log "     $out"
h_check "herald-signer verify accepts the served changeset" grep -q '^OK' <<<"$out"

h_finish
