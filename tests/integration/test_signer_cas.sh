#!/usr/bin/env bash
# Two signers at once (as during a deploy) never make a collection go backwards: the
# store is a compare-and-set on the version inside Redis (signer_store.lua). Both run
# while writers go on; every announced version is above the previous one (or the same
# once: its full blob, stored after it), the monitor
# version sampled all along never decreases, every snapshot is a consistent state, and
# the final one equals Redis. Then the script itself: a store with an older or equal
# version is refused and leaves the stored snapshot untouched.
source "$(dirname "$0")/../support/harness.sh"

NODE_DIR=$H_SRC/tests/node
h_start_redis
h_keygen
h_start_publisher
h_start_signer --consumer first
"$H_BUILD/signer/herald-signer" --redis "$H_REDIS_URL" --key "$H_KEY_FILE" --consumer second \
    2>>"$H_TMP/signer2.log" &
SIGNER2_PID=$!
H_PIDS+=("$SIGNER2_PID")

h_public_collection cas c >/dev/null
h_follow_snapshots cas/c
# One connection for all the samples (a connection per sample would use up local ports).
redis-cli -p "$H_REDIS_PORT" -r 1000000 -i 0.01 ZSCORE herald:monitor cas/c \
    >"$H_TMP/monitor.txt" 2>/dev/null &
SAMPLER_PID=$!
H_PIDS+=("$SAMPLER_PID")
sleep 0.3

node "$NODE_DIR/verify_load.js" --url "$H_PUB" --auth "$H_AUTH" --bucket cas --collection c \
    --log "$H_TMP/writes.jsonl" --seconds 6 --workers 4 --ids 30 --metadata-every 41

h_check "both signers together converge on the last write" h_wait_for 30 h_signed_latest cas c
sleep 0.3
kill "$H_INSPECT_PID" "$SAMPLER_PID" 2>/dev/null || true

h_check "both signers signed snapshots" bash -c \
    "grep -q 'signed cas/c' '$H_TMP/signer.log' && grep -q 'signed cas/c' '$H_TMP/signer2.log'"
h_log "     first: $(grep -c 'signed cas/c' "$H_TMP/signer.log") stored, $(grep -c 'not stored' "$H_TMP/signer.log") refused by the CAS;" \
    "second: $(grep -c 'signed cas/c' "$H_TMP/signer2.log") stored, $(grep -c 'not stored' "$H_TMP/signer2.log") refused"
h_check "every announced version is above the previous one" node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map(JSON.parse);
let last = 0, times = 0;
// A version stored with deltas is announced twice: stored, then its full blob (publish.c).
for (const l of lines) {
    times = l.announced === last ? times + 1 : 1;
    if (!(l.announced >= last) || times > 2) { console.error(`${l.announced} after ${last} (${times} times)`); process.exit(1); }
    last = l.announced;
}
if (lines.length < 10) { console.error(`only ${lines.length} announcements`); process.exit(1); }' "$H_TMP/snapshots.jsonl"
h_check "the monitor version sampled all along never decreases" \
    bash -c "grep -v '^$' '$H_TMP/monitor.txt' | sort -n -c"

out=$(h_verify_states cas c 10)
h_log "     $out"
h_check "every snapshot is a consistent state; final equals Redis" h_eq "${out%% *}" OK

# The compare-and-set itself, on the script the signer loads. The signers stop first:
# an idle signer recompresses the newest blob at its configured level (the same version,
# other bytes; signer_recompress.lua), which would change the snapshot under the probe.
kill -TERM "$H_SIGNER_PID" "$SIGNER2_PID" 2>/dev/null || true
wait "$H_SIGNER_PID" "$SIGNER2_PID" 2>/dev/null || true
V=$(h_redis ZSCORE herald:monitor cas/c)
before=$(h_redis --raw GET herald:snap:cas/c | sha256sum)
# Controls: the probes below see the stored snapshot and its monitor version.
h_check "  (control: the snapshot probe sees the stored snapshot)" test "$(h_redis STRLEN herald:snap:cas/c)" -gt 0
h_check "  (control: the monitor probe sees its version)" test -n "$V"
store() { # VERSION -> the script's reply
    h_redis EVAL "$(cat "$H_SRC/lib/lua/common.lua" "$H_SRC/lib/lua/signer_store.lua")" 8 \
        herald:snap:cas/c herald:monitor herald:monitor:src herald:monitor:expires herald:changes \
        herald:monitor:sha herald:monitor:gen herald:snapdelta:cas/c:1 \
        cas/c "$1" "not a blob" herald:snapshots stamp 1 signers "$(printf '0%.0s' {1..64})" 1 1000 "not a delta"
}
h_check "a store with an older version is refused" h_eq "$(store $((V - 1)))" 0
h_check "a store with the same version is refused" h_eq "$(store "$V")" 0
h_check "the stored snapshot is untouched" h_eq "$(h_redis --raw GET herald:snap:cas/c | sha256sum)" "$before"
h_check "the monitor version is untouched" h_eq "$(h_redis ZSCORE herald:monitor cas/c)" "$V"

h_finish
