# What the signer tests check (sourced by harness.sh, not run): every snapshot the
# signer announces is the collection's exact state at its timestamp, reconstructed from
# the log of acknowledged writes that tests/node/verify_load.js keeps. The three signer
# tests (consistency, crash, cas) follow the announcements, wait for the signer to catch
# up, and hand everything to tests/node/verify_states.js the same way.

# h_follow_snapshots BUCKET/COLLECTION: records every snapshot the signer announces for
# it into $H_TMP/snapshots.jsonl, in the background; H_INSPECT_PID is the follower.
h_follow_snapshots() {
    "$H_BUILD/signer/herald-signer" inspect --redis "$H_REDIS_URL" --public-key "$H_PUBKEY" \
        --follow "$1" >"$H_TMP/snapshots.jsonl" 2>>"$H_TMP/inspect.log" &
    H_INSPECT_PID=$!
    H_PIDS+=("$H_INSPECT_PID")
}

# h_signed_latest BUCKET COLLECTION: succeeds once the signed version in the monitor is
# the collection's last write.
h_signed_latest() {
    [ "$(h_redis ZSCORE herald:monitor "$1/$2")" = "$(h_redis GET "herald:ts:/buckets/$1/collections/$2:record")" ]
}

# h_verify_states BUCKET COLLECTION MIN-CHECKED: verify_states.js's verdict on the writes
# logged in $H_TMP/writes.jsonl, the followed snapshots, the final stored snapshot and
# the records Redis holds now; prints its output ("OK ..." when every snapshot is the
# state at its timestamp and the final one equals Redis), and never fails by itself.
h_verify_states() {
    "$H_BUILD/signer/herald-signer" inspect --redis "$H_REDIS_URL" --public-key "$H_PUBKEY" "$1/$2" \
        >"$H_TMP/final.jsonl"
    h_redis --raw HVALS "herald:objs:/buckets/$1/collections/$2:record" >"$H_TMP/redis.jsonl"
    node "$H_SRC/tests/node/verify_states.js" --writes "$H_TMP/writes.jsonl" \
        --snapshots "$H_TMP/snapshots.jsonl" --bucket "$1" --collection "$2" --final "$H_TMP/final.jsonl" \
        --redis-records "$H_TMP/redis.jsonl" --min-checked "$3" 2>&1 || true
}

# The signer's stored state of one collection (BUCKET/COLLECTION), for the tests of the
# full blob that follows the announcement (test_signer_blob_later, test_signer_blob_large):
# h_snap_stored: the version in the monitor; h_snap_blob: the version of the stored full
# blob; h_snap_pending: the version whose blob is still to come ("" when none).
h_snap_stored() { h_redis ZSCORE herald:monitor "$1"; }
h_snap_blob() { "$H_BUILD/signer/herald-signer" inspect --redis "$H_REDIS_URL" "$1" | h_json d.timestamp; }
h_snap_pending() { h_redis HGET herald:snap:pending "$1"; }

# h_snap_settled BUCKET COLLECTION: waits (20 s at most) until the collection's last write
# is in a stored version and no blob is pending, then prints that version.
h_snap_settled() {
    local ts
    ts=$(h_redis GET "herald:ts:/buckets/$1/collections/$2:record")
    h_wait_for 20 bash -c "[ \"\$(redis-cli -p $H_REDIS_PORT ZSCORE herald:monitor $1/$2)\" -ge $ts ] &&
        [ -z \"\$(redis-cli -p $H_REDIS_PORT HGET herald:snap:pending $1/$2)\" ]" && h_snap_stored "$1/$2"
}

# h_snap_seed BUCKET: the public collection BUCKET/c with the records r0, r1 and r2, each
# step checked: where both tests of the full blob start.
h_snap_seed() {
    local i
    h_check "setup" h_eq "$(h_public_collection "$1" c)" 201201
    for i in 0 1 2; do
        h_check "create r$i" h_eq "$(h_put "/buckets/$1/collections/c/records/r$i" "{\"data\":{\"n\":$i}}")" 201
    done
}
