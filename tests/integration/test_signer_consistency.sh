#!/usr/bin/env bash
# Each snapshot is one consistent state (no torn read across concurrent writes): four
# writers hammer one collection through the publisher (puts, deletes, metadata changes)
# while the signer signs; every snapshot it announces is fetched from Redis and compared
# with the collection's exact state at the snapshot's timestamp, reconstructed from the
# log of acknowledged writes (tests/node/verify_states.js). Then the final snapshot must
# cover every write and equal what Redis holds, and the change stream must be empty.
source "$(dirname "$0")/../support/harness.sh"

NODE_DIR=$H_SRC/tests/node
h_start_redis
h_keygen
h_start_publisher
h_start_signer

stream_len() { h_redis XLEN herald:changes; }
# The signer is stopped while the collection is set up, so the stream probe used at the
# end can be seen to count events (its control).
kill -STOP "$H_SIGNER_PID"
h_public_collection cons c >/dev/null
h_check "  (control: the stream probe sees unconsumed events)" test "$(stream_len)" -gt 0
kill -CONT "$H_SIGNER_PID"

h_follow_snapshots cons/c
sleep 0.3 # subscribed before the first write

node "$NODE_DIR/verify_load.js" --url "$H_PUB" --auth "$H_AUTH" --bucket cons --collection c \
    --log "$H_TMP/writes.jsonl" --seconds 6 --workers 4 --ids 30 --metadata-every 37
h_check "writers ran" test -s "$H_TMP/writes.jsonl"
nwrites=$(wc -l <"$H_TMP/writes.jsonl")
h_log "     $nwrites acknowledged writes"

h_check "signer catches up with the last write" h_wait_for 30 h_signed_latest cons c
sleep 0.3 # the last announcement reaches inspect
kill "$H_INSPECT_PID" 2>/dev/null || true

out=$(h_verify_states cons c 20)
h_log "     $out"
h_check "every snapshot equals the state at its timestamp; final equals Redis" \
    h_eq "${out%% *}" OK
h_check "snapshots were signed while writes went on (more than 20)" \
    bash -c "[ $(wc -l <"$H_TMP/snapshots.jsonl") -gt 20 ]"

# Consumed events leave the stream: nothing pending, nothing left.
stream_empty() { [ "$(stream_len)" = 0 ]; }
h_check "the change stream is trimmed once consumed" h_wait_for 10 stream_empty
h_check "no event left pending" h_eq "$(h_redis XPENDING herald:changes signers | head -1)" 0

h_finish
