#!/usr/bin/env bash
# Crash safety: while writers run for a bounded time, the signer is killed with SIGKILL
# at random points of its work (every 50-400 ms) and restarted, again and again. Then:
# every snapshot it stored is the exact state at its timestamp and versions only go
# up; the read server only ever served increasing versions; once restarted for good the
# signer converges to the latest state (final snapshot == Redis, no write skipped) and
# the work left pending by the killed runs is picked up: its own pending events (same
# consumer name, re-read from ID 0) and a dead consumer's (XAUTOCLAIM after
# signer_claim_idle_seconds).
source "$(dirname "$0")/../support/harness.sh"

NODE_DIR=$H_SRC/tests/node
h_start_redis
h_keygen
h_start_publisher
export HERALD_SIGNER_CLAIM_IDLE_SECONDS=1
h_start_signer --consumer crash-test
h_start_server

h_public_collection crash c >/dev/null
h_follow_snapshots crash/c

# What the read server serves, polled all along: ETags must never go down.
CS="$H_SRV/buckets/crash/collections/c/changeset"
# Node's fetch keeps one connection alive (a curl per poll would use up local ports).
node -e '
const url = process.argv[1];
(async () => {
    for (;;) {
        try {
            const r = await fetch(url);
            await r.arrayBuffer();
            const e = r.headers.get("etag");
            if (e) process.stdout.write(e.replace(/"/g, "") + "\n");
        } catch (e) { /* server restarting: poll again */ }
        await new Promise((ok) => setTimeout(ok, 20));
    }
})();' "$CS" >"$H_TMP/etags.txt" 2>/dev/null &
POLL_PID=$!
H_PIDS+=("$POLL_PID")
sleep 0.3

node "$NODE_DIR/verify_load.js" --url "$H_PUB" --auth "$H_AUTH" --bucket crash --collection c \
    --log "$H_TMP/writes.jsonl" --seconds 8 --workers 3 --ids 25 --metadata-every 53 &
LOAD_PID=$!

kills=0
while kill -0 "$LOAD_PID" 2>/dev/null; do
    sleep "0.$(printf '%02d' $((5 + RANDOM % 36)))"
    kill -KILL "$H_SIGNER_PID" 2>/dev/null || true
    wait "$H_SIGNER_PID" 2>/dev/null || true
    kills=$((kills + 1))
    [ $((RANDOM % 4)) = 0 ] && sleep 0.2 # sometimes stay down while writes pile up
    h_start_signer --consumer crash-test
done
wait "$LOAD_PID"
h_check "writers ran" test -s "$H_TMP/writes.jsonl"
h_log "     $(wc -l <"$H_TMP/writes.jsonl") acknowledged writes, signer killed $kills times"
h_check "the signer was killed at least 10 times" bash -c "[ $kills -ge 10 ]"

# One more kill, then a restart under another consumer name: the dead consumer's pending
# events must be reclaimed (XAUTOCLAIM), not left in the stream forever.
tail_write() { # N: PUT record "tail", logged like verify_load.js logs its writes
    curl -s -u "$H_AUTH" -X PUT -H 'Content-Type: application/json' \
        --data-binary "{\"data\":{\"last\":$1}}" "$H_PUB/buckets/crash/collections/c/records/tail" |
        node -e 'const d=JSON.parse(require("fs").readFileSync(0));console.log(JSON.stringify({op:"put",id:"tail",ts:d.data.last_modified,data:d.data}))' \
            >>"$H_TMP/writes.jsonl"
}
for i in $(seq 1 20); do tail_write "$i"; done
kill -KILL "$H_SIGNER_PID" 2>/dev/null || true
wait "$H_SIGNER_PID" 2>/dev/null || true
# Make sure some events are pending for the dead consumer "crash-test".
h_redis XREADGROUP GROUP signers crash-test COUNT 1000 STREAMS herald:changes '>' >/dev/null
for i in $(seq 21 25); do tail_write "$i"; done
h_redis XREADGROUP GROUP signers crash-test COUNT 1000 STREAMS herald:changes '>' >/dev/null
pending_before=$(h_redis XPENDING herald:changes signers | head -1)
h_check "events are left pending by the dead consumer" bash -c "[ $pending_before -gt 0 ]"
h_check "  (control: the stream probe of stream_done sees them)" test "$(h_redis XLEN herald:changes)" -gt 0
h_start_signer --consumer successor

h_check "the restarted signer converges to the latest state" h_wait_for 30 h_signed_latest crash c
V=$(h_redis ZSCORE herald:monitor crash/c)
h_check "the read server serves the latest version" h_wait_for 20 h_served_at "$CS" "$V"
sleep 0.3
kill "$H_INSPECT_PID" "$POLL_PID" 2>/dev/null || true

out=$(h_verify_states crash c 10)
h_log "     $out"
h_check "every stored snapshot is the state at its timestamp, versions only go up; final == Redis" \
    h_eq "${out%% *}" OK
h_check "the read server never served an older version after a newer one" \
    bash -c "sort -n -c '$H_TMP/etags.txt' && [ -s '$H_TMP/etags.txt' ]"
h_log "     $(sort -u "$H_TMP/etags.txt" | wc -l) distinct versions seen on the read server"

stream_done() {
    [ "$(h_redis XLEN herald:changes)" = 0 ] &&
        [ "$(h_redis XPENDING herald:changes signers | head -1)" = 0 ]
}
h_check "pending work picked up: stream empty, nothing pending" h_wait_for 20 stream_done
h_check "the successor reclaimed the dead consumer's events" \
    grep -q "reclaimed [0-9]* pending events" "$H_TMP/signer.log"

h_finish
