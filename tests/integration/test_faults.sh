#!/usr/bin/env bash
# Fault test (issue 6): a writer performs N acknowledged writes and deletes while a poller
# keeps fetching and verifying changesets from two read servers; meanwhile the publisher,
# the signer, a read server and Redis are each killed with SIGKILL in turn and restarted
# (Redis on its append-only file). Afterwards every acknowledged write must be in Redis
# and in the signed snapshot both read servers serve, and the poller must never have
# received a changeset that failed verification or went back in time.
#
# HERALD_FAULT_OPS (default 600) and HERALD_FAULT_ROUNDS (default 2) size the run.
source "$(dirname "$0")/../support/harness.sh"

OPS=${HERALD_FAULT_OPS:-600}
ROUNDS=${HERALD_FAULT_ROUNDS:-2}
NODE_DIR=$H_SRC/tests/node
[ -d "$NODE_DIR/node_modules/canonicalize" ] || (cd "$NODE_DIR" && npm install --no-audit --no-fund --silent)

h_start_pipeline
h_start_second_server
SRV1=$H_SRV SRV2=$H_SRV2

h_check "create published bucket" h_eq "$(h_put /buckets/faults '{"data":{},"permissions":{"read":["system.Everyone"]}}')" 201
h_check "create collection" h_eq "$(h_put /buckets/faults/collections/crl '{"data":{}}')" 201

node "$NODE_DIR/fault_client.cjs" --publisher "$H_PUB" --auth "$H_AUTH" --servers "$SRV1,$SRV2" \
    --bucket faults --collection crl --public-key "$H_PUBKEY" --ops "$OPS" \
    --out "$H_TMP/result.json" --progress "$H_TMP/progress" >"$H_TMP/client.out" 2>"$H_TMP/client.err" &
CLIENT=$!

# Kill number k happens once the writer has k/(kills+1) of its operations acknowledged,
# so every kill lands in the middle of the run (bounded: at most 60 s per step).
kills=()
NKILLS=$((4 * ROUNDS))
running() { kill -0 "$CLIENT" 2>/dev/null; }
pause() {
    local target=$(( (${#kills[@]} + 1) * OPS / (NKILLS + 1) )) deadline=$((SECONDS + 60))
    while running && [ $SECONDS -lt $deadline ]; do
        local done_ops
        done_ops=$(cat "$H_TMP/progress" 2>/dev/null || true) # may be caught mid-write
        [ "${done_ops:-0}" -ge "$target" ] 2>/dev/null && return 0
        sleep 0.02
    done
}
for round in $(seq 1 "$ROUNDS"); do
    pause
    kill -9 "$H_PUB_PID" && kills+=(publisher)
    wait "$H_PUB_PID" 2>/dev/null || true
    h_start_publisher
    pause
    kill -9 "$H_SIGNER_PID" && kills+=(signer)
    wait "$H_SIGNER_PID" 2>/dev/null || true
    h_start_signer
    pause
    kill -9 "$H_SRV_PID" && kills+=(server)
    wait "$H_SRV_PID" 2>/dev/null || true
    h_start_server # on its port again
    pause
    kill -9 "$H_REDIS_PID" && kills+=(redis)
    wait "$H_REDIS_PID" 2>/dev/null || true
    h_start_redis
done
# Bounded: the client gives up on an operation after ~5 minutes of retries.
wait "$CLIENT" && client_rc=0 || client_rc=$?
h_check "writer and poller finished" h_eq "$client_rc" 0
cat "$H_TMP/client.out" >&2
[ -s "$H_TMP/client.err" ] && head -20 "$H_TMP/client.err" >&2

# Every acknowledged write is in Redis.
redis-cli -p "$H_REDIS_PORT" --json HGETALL 'herald:objs:/buckets/faults/collections/crl:record' >"$H_TMP/redis.json"
check_redis=$(node -e '
const r = require(process.argv[1]); const redis = require(process.argv[2]);
let lost = 0, wrong = 0;
for (const [id, want] of Object.entries(r.expected)) {
  const got = redis[id] === undefined ? null : JSON.parse(redis[id]);
  if (want === null) { if (got !== null) wrong++; continue; }
  if (got === null) { lost++; continue; }
  const { id: _i, last_modified: _l, ...data } = got;
  if (JSON.stringify(Object.entries(data).sort()) !== JSON.stringify(Object.entries(want).sort())) wrong++;
}
const extra = Object.keys(redis).filter((id) => !(id in r.expected)).length;
console.log(`${Object.keys(r.expected).length} ids, ${lost} lost, ${wrong} wrong, ${extra} unexpected`);
' "$H_TMP/result.json" "$H_TMP/redis.json")
h_log "redis: $check_redis"
h_check "every acknowledged write is in Redis (none lost)" bash -c "echo '$check_redis' | grep -q ' 0 lost, 0 wrong, 0 unexpected'"

# Both read servers converge on the latest version, and it holds every acknowledged write.
latest() { h_redis ZSCORE herald:monitor faults/crl; }
etag() { h_etag "$1/buckets/faults/collections/crl/changeset"; }
converged() {
    local ts v
    ts=$(h_redis GET 'herald:ts:/buckets/faults/collections/crl:record')
    v=$(latest)
    [ -n "$v" ] && [ "$v" -ge "$ts" ] && [ "$(etag "$SRV1")" = "$v" ] && [ "$(etag "$SRV2")" = "$v" ]
}
h_check "signer and both read servers converge on the latest write" h_wait_for 60 converged
for srv in "$SRV1" "$SRV2"; do
    curl -s "$srv/buckets/faults/collections/crl/changeset" >"$H_TMP/final.json"
    served=$(node -e '
const r = require(process.argv[1]); const cs = require(process.argv[2]);
const got = new Map(cs.changes.map((c) => [c.id, c]));
let lost = 0, wrong = 0;
for (const [id, want] of Object.entries(r.expected)) {
  const g = got.get(id);
  if (want === null) { if (g) wrong++; continue; }
  if (!g) { lost++; continue; }
  if (g.n !== want.n || g.label !== want.label || g.payload !== want.payload) wrong++;
}
console.log(`${cs.changes.length} records served, ${lost} lost, ${wrong} wrong`);
' "$H_TMP/result.json" "$H_TMP/final.json")
    h_log "$srv: $served"
    h_check "the served snapshot holds every acknowledged write ($srv)" bash -c "echo '$served' | grep -q ' 0 lost, 0 wrong'"
    out=$("$H_BUILD/signer/herald-signer" verify --url "$srv/buckets/faults/collections/crl/changeset" --public-key "$H_PUBKEY" 2>&1)
    h_check "the served snapshot verifies ($srv)" h_eq "${out%% *}" OK
done

failures=$(node -e 'const r = require(process.argv[1]); console.log(r.poll.failures.length); for (const f of r.poll.failures.slice(0, 10)) console.error(f);' "$H_TMP/result.json")
h_check "the poller never received an unverifiable or older changeset" h_eq "$failures" 0
h_log "fault run: $OPS operations, kills: ${kills[*]} (${#kills[@]} in all)"
h_check "all ${NKILLS} kills happened while the writer was running" bash -c "[ \"\$(node -e 'console.log(require(process.argv[1]).stats.retries > 0)' $H_TMP/result.json)\" = true ] && [ ${#kills[@]} = $NKILLS ]"
h_finish
