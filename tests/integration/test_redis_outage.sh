#!/usr/bin/env bash
# Redis unavailable (issue 6): killed, frozen (SIGSTOP: connections stay open and
# nothing answers, so every call must be bounded by our own timeouts), and still loading
# its append-only file (-LOADING, stretched with Redis's own key-load-delay test setting).
# The publisher answers 503 errno 201 with Retry-After and writes nothing; read servers
# keep serving their last verified snapshot and report it in __heartbeat__; everything
# recovers on its own when Redis is back.
source "$(dirname "$0")/../support/harness.sh"

h_start_pipeline
CS=$H_SRV/buckets/out/collections/c/changeset

put() { # PATH BODY -> "status errno retry-after"
    curl -s -m 30 -o "$H_TMP/put.body" -D "$H_TMP/put.h" -w '%{http_code}' -u "$H_AUTH" -X PUT \
        -H 'Content-Type: application/json' --data-binary "$2" "$H_PUB$1" >"$H_TMP/put.code" || echo 000 >"$H_TMP/put.code"
    local errno retry
    errno=$(grep -o '"errno":[0-9]*' "$H_TMP/put.body" 2>/dev/null | cut -d: -f2 || true)
    retry=$(tr -d '\r' <"$H_TMP/put.h" | sed -n 's/^[Rr]etry-[Aa]fter: *//p' || true)
    echo "$(cat "$H_TMP/put.code") ${errno:-none} ${retry:-none}"
}
heartbeat() { curl -s -m 5 -o /dev/null -w '%{http_code}' "$H_SRV/__heartbeat__"; }
served_is() { h_served_at "$CS" "$1" -m 5; }
has_record() { h_redis HEXISTS 'herald:objs:/buckets/out/collections/c:record' "$1"; }
no_record() { [ "$(has_record "$1")" = 0 ]; }
is_503_201() { set -- $1; [ "$1" = 503 ] && [ "$2" = 201 ] && [ "$3" != none ]; }

h_check "setup" h_eq "$(put /buckets/out '{"data":{},"permissions":{"read":["system.Everyone"]}}') $(put /buckets/out/collections/c '{"data":{}}')" "201 none none 201 none none"
put /buckets/out/collections/c/records/a '{"data":{"v":1}}' >/dev/null
V1=$(grep -o '"last_modified":[0-9]*' "$H_TMP/put.body" | cut -d: -f2)
h_check "first version served" h_wait_for 20 served_is "$V1"
h_check "  (control: the probe behind no_record sees a stored record)" h_eq "$(has_record a)" 1

for mode in frozen killed; do
    if [ $mode = frozen ]; then kill -STOP "$H_REDIS_PID"; else kill -9 "$H_REDIS_PID"; wait "$H_REDIS_PID" 2>/dev/null || true; fi
    t0=$SECONDS
    r=$(put /buckets/out/collections/c/records/lost-$mode '{"data":{"v":2}}')
    h_log "redis $mode: PUT answered [$r] after $((SECONDS - t0)) s"
    h_check "redis $mode: publisher answers 503 errno 201 with Retry-After" is_503_201 "$r"
    h_check "redis $mode: answer within 15 s" [ $((SECONDS - t0)) -le 15 ]
    h_check "redis $mode: read server keeps serving the last verified version" served_is "$V1"
    h_check "redis $mode: heartbeat reports it (503)" h_wait_for 40 bash -c "[ \"\$(curl -s -m 5 -o /dev/null -w '%{http_code}' '$H_SRV/__heartbeat__')\" = 503 ]"
    h_check "redis $mode: still serving while degraded" served_is "$V1"
    if [ $mode = frozen ]; then kill -CONT "$H_REDIS_PID"; else h_start_redis; fi
    h_check "redis $mode: the refused write left nothing behind" no_record "lost-$mode"
    h_check "redis $mode: the publisher recovers on its own" h_wait_for 30 bash -c "[ \"\$(curl -s -m 5 -o /dev/null -w '%{http_code}' -u '$H_AUTH' -X PUT -H 'Content-Type: application/json' --data-binary '{\"data\":{\"mode\":\"$mode\"}}' '$H_PUB/buckets/out/collections/c/records/after-$mode')\" = 200 -o \"\$(curl -s -m 5 -o /dev/null -w '%{http_code}' -u '$H_AUTH' '$H_PUB/buckets/out/collections/c/records/after-$mode')\" = 200 ]"
    V=$(h_redis GET 'herald:ts:/buckets/out/collections/c:record')
    h_check "redis $mode: the new write is signed and served" h_wait_for 40 served_is "$V"
    h_check "redis $mode: heartbeat healthy again" h_wait_for 40 bash -c "[ \"\$(curl -s -m 5 -o /dev/null -w '%{http_code}' '$H_SRV/__heartbeat__')\" = 200 ]"
    V1=$V
done

# The deadline fence. When Redis is frozen after the publisher's read and before its
# write, the write script waits in the socket buffer past the publisher's timeout and
# would run when Redis resumes, after the client was told 503. Each write script takes
# the publisher's deadline (on Redis's clock) as its last argument and must refuse to run
# after it. Timing that freeze from outside is not reliable, so the script is called
# directly, exactly as the publisher calls it (no side write, no history entry: the
# five side and ten history arguments of lib/lua/common.lua empty): with a deadline in the past (refused,
# nothing written) and in the future (written, which shows the call itself is right).
fence_put() { # ID DEADLINE
    redis-cli -p "$H_REDIS_PORT" EVAL "$(cat "$H_SRC/lib/lua/common.lua" "$H_SRC/lib/lua/put_object.lua")" 9 \
        'herald:objs:/buckets/out/collections/c:record' 'herald:ts:/buckets/out/collections/c:record' \
        'herald:mod:/buckets/out/collections/c:record' 'herald:tomb:/buckets/out/collections/c:record' \
        "herald:perm:/buckets/out/collections/c/records/$1" herald:monitor herald:changes \
        'herald:objs::bucket' 'herald:objs:/buckets/out:collection' \
        "$1" "{\"id\":\"$1\",\"last_modified\":" '}' out/c out c "/buckets/out/collections/c/records/$1" \
        '' 0 0 2 0 bucket out collection c '' '' '' '' '' '' '' '' '' '' '' '' 0 0 0 "$2" 2>&1
}
now=$(date +%s%3N)
out=$(fence_put fenced-late $((now - 1000)))
h_check "fence: a write script past its deadline is refused" bash -c "echo '$out' | grep -q HERALD_DEADLINE"
h_check "fence: and writes nothing" no_record fenced-late
out=$(fence_put fenced-ok $((now + 60000)))
h_check "fence: the same call within its deadline writes" h_eq "$(has_record fenced-ok)" 1
V1=$(h_redis GET 'herald:ts:/buckets/out/collections/c:record')
h_check "fence: that write is signed and served" h_wait_for 40 served_is "$V1"

# -LOADING: give the append-only file 4000 extra keys and make each take 2 ms to load.
h_check "filler keys added" h_eq "$(h_redis DEBUG POPULATE 4000 filler 10)" OK
h_redis BGREWRITEAOF >/dev/null
h_wait_for 30 bash -c "[ \"\$(redis-cli -p $H_REDIS_PORT INFO persistence | tr -d '\r' | sed -n 's/^aof_rewrite_in_progress://p')\" = 0 ]"
sleep 0.5
redis-cli -p "$H_REDIS_PORT" SHUTDOWN >/dev/null 2>&1 || true
wait "$H_REDIS_PID" 2>/dev/null || true
redis-server --port "$H_REDIS_PORT" --bind 127.0.0.1 --dir "$H_TMP/redis" --appendonly yes \
    --appendfsync always --save "" --key-load-delay 2000 --loading-process-events-interval-bytes 1024 --enable-debug-command local \
    --logfile "$H_TMP/redis.log" &
H_REDIS_PID=$!
H_PIDS+=("$H_REDIS_PID")
h_check "redis is loading" h_wait_for 10 bash -c "redis-cli -p $H_REDIS_PORT PING 2>&1 | grep -q LOADING"
r=$(put /buckets/out/collections/c/records/lost-loading '{"data":{"v":3}}')
h_log "redis loading: PUT answered [$r]"
h_check "redis loading: publisher answers 503 errno 201 with Retry-After" is_503_201 "$r"
h_check "redis loading: read server keeps serving" served_is "$V1"
h_check "redis finishes loading" h_wait_for 60 bash -c "redis-cli -p $H_REDIS_PORT PING 2>&1 | grep -q PONG"
h_check "redis loading: the refused write left nothing behind" no_record lost-loading
h_check "redis loading: publisher recovers" h_wait_for 30 bash -c "[ \"\$(curl -s -m 5 -o /dev/null -w '%{http_code}' -u '$H_AUTH' -X PUT -H 'Content-Type: application/json' --data-binary '{\"data\":{}}' '$H_PUB/buckets/out/collections/c/records/after-loading')\" = 201 ]"
V=$(h_redis GET 'herald:ts:/buckets/out/collections/c:record')
h_check "redis loading: the new write is served" h_wait_for 40 served_is "$V"
h_finish
