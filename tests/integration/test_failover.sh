#!/usr/bin/env bash
# Redis Sentinel failover (issue 16): Debian's redis-server and redis-sentinel on
# loopback, one primary, two replicas, three sentinels (down-after 1 s); the publisher
# (redis_min_replicas 1) and two signers through Sentinel; two read servers on replicas
# (redis_prefer_replica). A writer loop of PUTs and DELETEs and a verifying poller run
# while the primary is killed with kill -9, then one sentinel, then the new primary, then
# a replica. Shown:
#   - every acknowledged write (200/201) is on the final primary, signed and served;
#   - every other answer during the run is 503 with Retry-After;
#   - every changeset the poller fetched verified and never went back in time, and reads
#     never stopped;
#   - replicas that cannot confirm in time (SIGSTOP) give the honest 503 ("may or may not
#     be kept"), and past min-replicas-max-lag the primary itself refuses (NOREPLICAS,
#     nothing written);
#   - with no Redis at all, the read servers keep serving.
# The write outage of each kill (kill to the next acknowledged write) is reported.
source "$(dirname "$0")/../support/harness.sh"
# Stopped replicas (SIGSTOP below) must be continued, or stopping them would hang.
trap 'kill -CONT "${PID_OF[@]}" 2>/dev/null || true; h_cleanup' EXIT

command -v redis-sentinel >/dev/null || { h_log "redis-sentinel is not installed (scripts/install-deps.sh)"; exit 1; }

MASTER=herald
declare -A PID_OF
PORTS=("$(h_free_port)" "$(h_free_port)" "$(h_free_port)")
SPORTS=("$(h_free_port)" "$(h_free_port)" "$(h_free_port)")
for p in "${SPORTS[@]}"; do
    for q in "${PORTS[@]}"; do [ "$p" != "$q" ] || { h_log "port clash, retry"; exit 1; }; done
done

# start_node PORT [PRIMARY-PORT]: a Redis node as the issue's deployment runs it
# (docs/deploy.md): append-only with fsync always, and refusing writes when it has no
# replica within 2 s (min-replicas-to-write 1, min-replicas-max-lag 2).
start_node() {
    local port=$1 dir=$H_TMP/node-$1
    mkdir -p "$dir"
    local args=(--port "$port" --bind 127.0.0.1 --dir "$dir" --appendonly yes --appendfsync always
        --save "" --daemonize no --logfile "$H_TMP/redis-$port.log" --repl-diskless-sync-delay 0
        --min-replicas-to-write 1 --min-replicas-max-lag 2)
    [ -n "${2:-}" ] && args+=(--replicaof 127.0.0.1 "$2")
    redis-server "${args[@]}" &
    PID_OF[$port]=$!
    H_PIDS+=("$!")
    h_wait_for 20 bash -c "redis-cli -p $port ping 2>/dev/null | grep -q PONG"
}

start_sentinel() {
    local port=$1 dir=$H_TMP/sentinel-$1
    mkdir -p "$dir"
    cat >"$dir/sentinel.conf" <<EOF
port $port
bind 127.0.0.1
daemonize no
dir $dir
logfile $H_TMP/sentinel-$port.log
sentinel monitor $MASTER 127.0.0.1 ${PORTS[0]} 2
sentinel down-after-milliseconds $MASTER 1000
sentinel failover-timeout $MASTER 3000
sentinel parallel-syncs $MASTER 2
EOF
    redis-sentinel "$dir/sentinel.conf" &
    PID_OF[$port]=$!
    H_PIDS+=("$!")
}

# The primary's port as the live sentinels name it.
primary() {
    local s p
    for s in "${SPORTS[@]}"; do
        p=$(redis-cli -p "$s" SENTINEL get-master-addr-by-name $MASTER 2>/dev/null | sed -n 2p)
        if [ -n "$p" ]; then echo "$p"; return 0; fi
    done
    return 1
}
not_primary() { local p; p=$(primary) && [ "$p" != "$1" ]; }
# The number of replicas the sentinel on port $1 sees healthy and the primary has.
replicas_seen() {
    [ "$(redis-cli -p "$1" SENTINEL replicas $MASTER 2>/dev/null |
        awk 'prev == "flags" && $0 == "slave" {n++} {prev = $0} END {print n + 0}')" = "$2" ]
}
served_from() { local v; v=$(h_etag "$1$COLL/changeset"); [ -n "$v" ] && [ "$v" -ge "$2" ]; }
server_on_replicas() { [ "$(grep -c "redis: sentinel:$MASTER is 127.0.0.1:\(${PORTS[1]}\|${PORTS[2]}\)" "$H_TMP/server.log")" -ge 2 ]; }
role_is() { [ "$(redis-cli -p "$1" ROLE 2>/dev/null | head -1)" = "$2" ]; }

start_node "${PORTS[0]}"
start_node "${PORTS[1]}" "${PORTS[0]}"
start_node "${PORTS[2]}" "${PORTS[0]}"
for s in "${SPORTS[@]}"; do start_sentinel "$s"; done
sentinels_ready() {
    replicas_seen "${SPORTS[0]}" 2 &&
        [ "$(redis-cli -p "${SPORTS[2]}" SENTINEL sentinels $MASTER 2>/dev/null | grep -c '^name$')" = 2 ]
}
h_check "sentinels see the primary, both replicas and each other" h_wait_for 30 sentinels_ready

H_REDIS_URL="redis+sentinel://127.0.0.1:${SPORTS[0]},127.0.0.1:${SPORTS[1]},127.0.0.1:${SPORTS[2]}/$MASTER"
h_keygen
h_start_publisher --redis_min_replicas 1 --redis_wait_timeout_ms 500 --redis_timeout_ms 3000 \
    --retry_after_seconds 1
h_start_signer --consumer site-a
SIGNER_A=$H_SIGNER_PID
h_start_signer --consumer site-b
h_start_server --redis-prefer-replica true
h_start_second_server --redis-prefer-replica true
h_check "read servers connected to replicas" h_wait_for 20 server_on_replicas

COLL=/buckets/fo/collections/c
OBJS="herald:objs:$COLL:record"
h_check "setup" h_eq "$(h_public_collection fo c)" 201201
h_check "seed record" h_eq "$(h_put $COLL/records/seed '{"data":{"v":0}}')" 201
V0=$(redis-cli -p "$(primary)" GET "herald:ts:$COLL:record")
h_check "seed served by read server 1" h_wait_for 30 served_from "$H_SRV" "$V0"
h_check "seed served by read server 2" h_wait_for 30 served_from "$H_SRV2" "$V0"

now_ms() { local t=${EPOCHREALTIME/./}; echo "${t:0:13}"; }
# A writer (two run, ids "a-N" and "b-N"): PUT <w>-N, and every third step DELETE a record
# whose PUT was acknowledged. One line per answer: "ms op id status last_modified
# retry-after start-ms".
WLOG=$H_TMP/writes.log
writer() {
    local w=$1 i=0 acked=() code ts ra b h
    while [ ! -f "$H_TMP/stop" ]; do
        i=$((i + 1))
        local op=PUT id=$w-$i body="{\"data\":{\"v\":$i}}" start
        start=$(now_ms)
        if [ $((i % 3)) = 0 ] && [ ${#acked[@]} -gt 0 ]; then
            op=DELETE id=${acked[0]} body=""
            acked=("${acked[@]:1}")
        fi
        code=$(curl -s -m 10 -o "$H_TMP/w$w.body" -D "$H_TMP/w$w.h" -w '%{http_code}' -u "$H_AUTH" -X $op \
            -H 'Content-Type: application/json' ${body:+--data-binary "$body"} "$H_PUB$COLL/records/$id") || code=000
        b=$(<"$H_TMP/w$w.body") h=$(<"$H_TMP/w$w.h") ts=none ra=none
        if [[ $b =~ \"last_modified\":([0-9]+) ]]; then ts=${BASH_REMATCH[1]}; fi
        if [[ $h =~ [Rr]etry-[Aa]fter:\ *([0-9]+) ]]; then ra=${BASH_REMATCH[1]}; fi
        echo "$(now_ms) $op $id $code $ts $ra $start" >>"$WLOG"
        if [ $op = PUT ] && [ "$code" = 201 ] && [ $((i % 4)) != 0 ]; then acked+=("$id"); fi
        if [ "$code" = 503 ]; then sleep 0.2; fi
    done
}
# The poller: each read server's changeset as a client checks it (herald-signer verify
# with a state file: a delta merged and verified, never older than the last verified).
PLOG=$H_TMP/polls.log
poller() {
    local n=0 out
    while [ ! -f "$H_TMP/stop" ]; do
        for srv in "$H_SRV" "$H_SRV2"; do
            n=$((n + 1))
            out=$("$H_BUILD/signer/herald-signer" verify --url "$srv$COLL/changeset" --public-key "$H_PUBKEY" \
                --state "$H_TMP/state-${srv//[^0-9]/}" --timeout-ms 5000 2>&1 || true)
            out=${out%%$'\n'*}
            echo "$(now_ms) ${srv//[^0-9]/} $out" >>"$PLOG"
        done
        sleep 0.1
    done
}
writer a &
WRITER=$!
writer b &
WRITER2=$!
poller &
POLLER=$!
H_PIDS+=("$WRITER" "$WRITER2" "$POLLER")

KLOG=$H_TMP/kills.log
# A write sent after time $1 was acknowledged.
acked_after() { awk -v t="$1" '$7 > t && ($4 == 200 || $4 == 201) {n++} END {exit n > 0 ? 0 : 1}' "$WLOG"; }
# kill_primary: kill -9 of the current primary; waits for the failover and the first
# acknowledged write after it, then brings the old node back as a replica (as an operator
# would, with --replicaof the new primary).
kill_primary() {
    local old new t
    old=$(primary)
    t=$(date +%s%3N)
    kill -9 "${PID_OF[$old]}"
    wait "${PID_OF[$old]}" 2>/dev/null || true
    echo "$t primary $old" >>"$KLOG"
    h_log "killed the primary ($old) at $t"
    h_check "failover from $old: the sentinels name a new primary" h_wait_for 30 not_primary "$old"
    new=$(primary)
    h_check "failover from $old: $new answers ROLE master" h_wait_for 10 role_is "$new" master
    h_check "failover from $old: writes acknowledged again" h_wait_for 30 acked_after "$t"
    start_node "$old" "$new"
}

sleep 3
kill_primary
sleep 2
kill -9 "${PID_OF[${SPORTS[0]}]}" # the first sentinel of every program's list
echo "$(date +%s%3N) sentinel ${SPORTS[0]}" >>"$KLOG"
h_log "killed sentinel ${SPORTS[0]}"
SPORTS=("${SPORTS[1]}" "${SPORTS[2]}")
h_check "the two sentinels left see both replicas again" h_wait_for 30 replicas_seen "${SPORTS[0]}" 2
sleep 2
kill_primary
sleep 2
P=$(primary)
for port in "${PORTS[@]}"; do [ "$port" != "$P" ] && REPLICA=$port && break; done
t=$(date +%s%3N)
kill -9 "${PID_OF[$REPLICA]}"
wait "${PID_OF[$REPLICA]}" 2>/dev/null || true
echo "$t replica $REPLICA" >>"$KLOG"
h_log "killed replica $REPLICA"
sleep 3
h_check "writes acknowledged with one replica left" acked_after "$t"
start_node "$REPLICA" "$P"
sleep 2
touch "$H_TMP/stop"
wait "$WRITER" "$WRITER2" "$POLLER" 2>/dev/null || true
rm -f "$H_TMP/stop"

# ---- what the run shows -----------------------------------------------------------
P=$(primary)
ACKED=$(awk '$4 == 200 || $4 == 201' "$WLOG" | wc -l)
OTHER=$(awk '$4 != 200 && $4 != 201' "$WLOG" | wc -l)
h_log "writes: $(wc -l <"$WLOG") answered, $ACKED acknowledged, $OTHER not"
consumers=$(redis-cli -p "$P" XINFO CONSUMERS herald:changes signers | grep -c '^site-[ab]$' || true)
h_check "two signers (one per site) shared the stream's consumer group" h_eq "$consumers" 2
h_check "both signers still run" kill -0 "$SIGNER_A" "$H_SIGNER_PID"
h_check "many writes were acknowledged" [ "$ACKED" -ge 30 ]
h_check "every answer not acknowledged is 503 with Retry-After" h_eq "$(awk '$4 != 200 && $4 != 201 && !($4 == 503 && $6 != "none")' "$WLOG" | head -3)" ""
h_check "some writes fell in a failover window (503)" [ "$OTHER" -ge 1 ]

redis-cli -p "$P" --raw HGETALL "$OBJS" | paste - - >"$H_TMP/final.tsv"
# Each acknowledged PUT not followed by a DELETE attempt: present with its last_modified.
# Each acknowledged DELETE: absent.
lost=$(awk -F'\t' 'NR == FNR {lm = $2; sub(/.*"last_modified":/, "", lm); sub(/[,}].*/, "", lm); have[$1] = lm; next}
    { del_tried[$3] += ($2 == "DELETE") }
    ($4 == 200 || $4 == 201) { ack[FNR] = $0 }
    END {
        for (k in ack) {
            split(ack[k], f, " ")
            if (f[2] == "PUT" && !del_tried[f[3]] && have[f[3]] != f[5]) print "lost PUT " f[3] " " f[5] " have " have[f[3]]
            if (f[2] == "DELETE" && (f[3] in have)) print "lost DELETE " f[3]
        }
    }' "$H_TMP/final.tsv" FS=' ' "$WLOG")
h_check "0 acknowledged writes lost (on the final primary)" h_eq "$lost" ""
h_check "  (control: the final primary holds the acknowledged records)" [ "$(wc -l <"$H_TMP/final.tsv")" -ge 10 ]

# Served = the primary's live records, ids and last_modified, on both read servers.
expected() { redis-cli -p "$P" --raw HGETALL "$OBJS" | paste - - | awk -F'\t' '{lm = $2; sub(/.*"last_modified":/, "", lm); sub(/[,}].*/, "", lm); print $1, lm}' | sort; }
served() { curl -s -m 5 "$1$COLL/changeset" | h_json 'd.changes.map(r => r.id + " " + r.last_modified).sort().join("\n")'; echo; }
converged() { [ "$(served "$1")" = "$(expected)" ]; }
h_check "read server 1 eventually serves every acknowledged write" h_wait_for 40 converged "$H_SRV"
h_check "read server 2 eventually serves every acknowledged write" h_wait_for 40 converged "$H_SRV2"
for srv in "$H_SRV" "$H_SRV2"; do
    h_check "what read server ${srv##*:} serves verifies" h_eq "$(h_verify "$srv$COLL/changeset" "$H_PUBKEY" | cut -d' ' -f1)" OK
done
POLLS=$(wc -l <"$PLOG")
h_log "polls: $POLLS"
h_check "the poller verified many changesets" [ "$POLLS" -ge 20 ]
h_check "every poll verified (reads never stopped, nothing unverifiable served)" h_eq "$(grep -v ' OK ' "$PLOG" | head -3)" ""
h_check "no served version went back in time" h_eq "$(awk '{ts = $0; sub(/.*timestamp=/, "", ts); sub(/ .*/, "", ts); if (ts + 0 < last[$2]) print; last[$2] = ts + 0}' "$PLOG" | head -3)" ""

# Outage per kill: from the kill to the first acknowledgement of a write sent after it.
while read -r t what port; do
    # The minimum in awk itself: 'sort | head -1' dies of SIGPIPE (141) under pipefail when
    # sort writes more than head reads.
    next=$(awk -v t="$t" '$7 > t && ($4 == 200 || $4 == 201) && (!n++ || $1 + 0 < m) {m = $1 + 0} END {if (n) printf "%.0f\n", m}' "$WLOG")
    h_log "OUTAGE $what $port: $(awk -v a="$t" -v b="${next:-$t}" 'BEGIN {printf "%.1f", (b - a) / 1000}') s until a write sent after the kill was acknowledged"
done <"$KLOG"

# ---- WAIT: replicas that cannot confirm ---------------------------------------------
two_replicas() { [ "$(redis-cli -p "$P" INFO replication | tr -d '\r' | sed -n 's/^connected_slaves://p')" = 2 ]; }
h_check "all replicas attached again" h_wait_for 30 two_replicas
h_check "a write with both replicas up is acknowledged" h_eq "$(h_put $COLL/records/before-stop '{"data":{"v":1}}')" 201
for port in "${PORTS[@]}"; do [ "$port" != "$P" ] && kill -STOP "${PID_OF[$port]}"; done
h_pub PUT $COLL/records/unconfirmed '{"data":{"v":2}}' >/dev/null
h_check "WAIT timeout: 503" h_eq "$H_STATUS" 503
h_check "WAIT timeout: with Retry-After" grep -qi '^Retry-After: 1' "$H_TMP/pub.h"
h_check "WAIT timeout: the message says the write may or may not be kept" grep -q 'may or may not be kept' "$H_TMP/pub.body"
h_check "  (it did run on the primary: WAIT does not undo it)" h_eq "$(redis-cli -p "$P" HEXISTS "$OBJS" unconfirmed)" 1
sleep 3.5 # past min-replicas-max-lag: the primary itself now refuses writes
h_pub PUT $COLL/records/isolated '{"data":{"v":3}}' >/dev/null
h_check "isolated primary (min-replicas-to-write): 503" h_eq "$H_STATUS" 503
h_check "isolated primary: with Retry-After" grep -qi '^Retry-After:' "$H_TMP/pub.h"
h_check "isolated primary: nothing written" h_eq "$(redis-cli -p "$P" HEXISTS "$OBJS" isolated)" 0
h_check "  (control: the primary says NOREPLICAS)" h_eq "$(redis-cli -p "$P" SET probe 1 | cut -d' ' -f1)" NOREPLICAS
for port in "${PORTS[@]}"; do [ "$port" != "$P" ] && kill -CONT "${PID_OF[$port]}"; done
lm=$(redis-cli -p "$P" --raw HGET "$OBJS" unconfirmed | sed 's/.*"last_modified":\([0-9]*\).*/\1/')
retry_if_match() {
    [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -u "$H_AUTH" -X PUT -H 'Content-Type: application/json' \
        -H "If-Match: \"$lm\"" --data-binary '{"data":{"v":2}}' "$H_PUB$COLL/records/unconfirmed")" = 200 ]
}
h_check "the retry with If-Match of what is there succeeds once replicas are back" h_wait_for 20 retry_if_match

# ---- no Redis at all: the read servers keep serving ---------------------------------
V=$(h_etag "$H_SRV$COLL/changeset")
V2=$(h_etag "$H_SRV2$COLL/changeset")
for port in "${PORTS[@]}"; do kill -9 "${PID_OF[$port]}" 2>/dev/null || true; done
sleep 2
# (A version signed just before the kill may still arrive: served versions only grow.)
h_check "no Redis: read server 1 still serves (its last verified version or newer)" served_from "$H_SRV" "$V"
h_check "no Redis: read server 2 still serves" served_from "$H_SRV2" "$V2"
h_check "no Redis: what read server 1 serves verifies" h_eq "$(h_verify "$H_SRV$COLL/changeset" "$H_PUBKEY" | cut -d' ' -f1)" OK
h_check "no Redis: publisher answers 503" h_eq "$(h_put $COLL/records/none '{"data":{}}')" 503
h_finish
