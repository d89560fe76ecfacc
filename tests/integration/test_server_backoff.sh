#!/usr/bin/env bash
# The operator's Backoff on read servers, over real sockets: the setting alone
# (server_backoff_seconds), the fleet-wide Redis key herald:backoff set and cleared with
# plain redis-cli (no PUBLISH, no restart) and seen within a bounded wait on changesets,
# 304s, the monitor, 404s and heartbeats, and in /metrics; a malformed value ignored and
# logged once; the last value kept while Redis is down; the key 0 overriding the setting.
source "$(dirname "$0")/../support/harness.sh"

FIX=$H_BUILD/benchmarks/server_fixture
WAIT=6 # seconds: the servers read the key every 2 s

h_start_redis
H_PUBKEY=$("$FIX" keygen --out "$H_TMP/k1")
V=$(($(h_now_ms) - 5000))
"$FIX" publish --redis "$H_REDIS_URL" --key "$H_TMP/k1" --bucket main --collection small \
    --version "$V" --generate 10 --record-bytes 200

h_start_server --threads 2                       # A: no setting
h_start_second_server --threads 2 --backoff 7    # B: the setting alone
A=$H_SRV B=$H_SRV2
A_PORT=$H_SRV_PORT B_PORT=$H_SRV2_PORT

header() { # NAME URL [curl args]: the value of header NAME ("" when absent)
    local name=$1
    shift
    curl -s -D - -o /dev/null "$@" | tr -d '\r' | grep -i "^$name:" | head -1 | sed 's/^[^:]*: *//' || true
}
metric() { # PORT: herald_backoff_seconds
    curl -s "http://127.0.0.1:$1/metrics" | sed -n 's/^herald_backoff_seconds //p'
}
# backoff_is BASE PORT N: every kind of response from the server at BASE carries
# Backoff: N (none when N is 0), and its /metrics says N.
backoff_is() {
    local base=$1 port=$2 n=$3 want=$3 url
    [ "$n" = 0 ] && want=""
    for url in "$base/buckets/main/collections/small/changeset" \
        "$base/buckets/monitor/collections/changes/changeset" \
        "$base/buckets/main/collections/nope/changeset" \
        "$base/__heartbeat__" "$base/__lbheartbeat__" "$base/"; do
        [ "$(header Backoff "$url")" = "$want" ] || return 1
    done
    [ "$(header Backoff "$base/buckets/main/collections/small/changeset" -H "If-None-Match: \"$V\"")" = "$want" ] || return 1
    [ "$(header Backoff "$base/buckets/main/collections/small/changeset" --compressed)" = "$want" ] || return 1
    [ "$(metric "$port")" = "$n" ]
}
check_backoff() { # NAME BASE PORT N: backoff_is within $WAIT seconds, shown if not
    local name=$1
    shift
    if ! h_wait_for "$WAIT" backoff_is "$@"; then
        h_log "     $1: Backoff [$(header Backoff "$1/buckets/main/collections/small/changeset")], metric [$(metric "$2")], expected $3"
        return 1
    fi
}

h_check "both servers serve the collection" h_wait_for 20 h_served_at "$B/buckets/main/collections/small/changeset" "$V"
h_check "A served too" h_wait_for 20 h_served_at "$A/buckets/main/collections/small/changeset" "$V"

# ---- the setting alone --------------------------------------------------------------
h_check "A (no setting, no key): no Backoff anywhere, metric 0" backoff_is "$A" "$A_PORT" 0
h_check "B (server_backoff_seconds 7): Backoff: 7 everywhere, metric 7" backoff_is "$B" "$B_PORT" 7
h_check "a 304 still has no body and its ETag" h_eq "$(curl -s -o /dev/null -w '%{http_code} %{size_download}' -H "If-None-Match: \"$V\"" "$B/buckets/main/collections/small/changeset") $(header ETag "$B/buckets/main/collections/small/changeset")" "304 0 \"$V\""
h_check "versioned responses expose Backoff to browsers" bash -c "curl -s -D - -o /dev/null '$B/buckets/main/collections/small/changeset' | grep -qi '^Access-Control-Expose-Headers:.*Backoff'"
h_check "errors expose Backoff to browsers" h_eq "$(header Access-Control-Expose-Headers "$B/buckets/main/collections/nope/changeset")" Backoff
h_check "a setting out of range is refused" bash -c "! timeout 5 '$H_BUILD/server/herald-server' --public-key '$H_PUBKEY' --backoff 86401 --listen 127.0.0.1:1 2>/dev/null"

# ---- fleet-wide through Redis: set, change, clear -------------------------------------
h_redis SET herald:backoff 30 >/dev/null
h_check "SET herald:backoff 30: A sends Backoff: 30 within ${WAIT}s" check_backoff A "$A" "$A_PORT" 30
h_check "... and B (the key wins over its setting)" check_backoff B "$B" "$B_PORT" 30
h_check "the change is logged" grep -q "Backoff: 30 s on every response" "$H_TMP/server.log"

# A server started while the key is set sends it from its first connection to Redis.
C_PORT=$(h_free_port)
h_spawn_server "$C_PORT" --threads 1
C=http://127.0.0.1:$C_PORT/v1
h_check "a server started now: Backoff: 30 within ${WAIT}s" check_backoff C "$C" "$C_PORT" 30
kill -TERM "$H_SPAWNED_PID"
wait "$H_SPAWNED_PID" || true

h_redis SET herald:backoff 120 >/dev/null
h_check "SET 120: A follows" check_backoff A "$A" "$A_PORT" 120

h_redis SET herald:backoff abc >/dev/null
sleep 4.5 # two polls at least
h_check "a malformed value is ignored: A keeps 120" backoff_is "$A" "$A_PORT" 120
h_check "... logged once per server" h_eq "$(grep -c "herald:backoff: 'abc' is not 0 to 86400 seconds" "$H_TMP/server.log")" 2

h_redis SET herald:backoff 0 >/dev/null
h_check "SET 0: A sends no Backoff" check_backoff A "$A" "$A_PORT" 0
h_check "SET 0 overrides B's setting too" check_backoff B "$B" "$B_PORT" 0
h_redis SET herald:backoff 45 >/dev/null
h_check "SET 45: back on A" check_backoff A "$A" "$A_PORT" 45
# B polls on its own clock: it must have seen 45 before Redis goes, or "keeps 45" below
# would test nothing but the poll's phase (it failed whenever B's poll fell after the kill).
h_check "SET 45: and on B" check_backoff B "$B" "$B_PORT" 45

# ---- Redis down: the last value stays -------------------------------------------------
kill -TERM "$H_REDIS_PID"
wait "$H_REDIS_PID" || true
h_check "Redis down: heartbeat says so" h_wait_for 10 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$A/__heartbeat__')\" = 503 ]"
sleep 4.5 # polls would have run
h_check "Redis down: A keeps Backoff: 45 (also on the 503 heartbeat)" backoff_is "$A" "$A_PORT" 45
h_check "Redis down: B keeps Backoff: 45" backoff_is "$B" "$B_PORT" 45

h_start_redis # same port and data directory: the key is still 45
h_redis DEL herald:backoff >/dev/null
h_check "Redis back, key deleted: A has no Backoff" h_wait_for 20 backoff_is "$A" "$A_PORT" 0
h_check "... and B is back to its setting (7)" h_wait_for 20 backoff_is "$B" "$B_PORT" 7

h_finish
