#!/usr/bin/env bash
# The real pipeline (publisher -> Redis -> signer -> Redis -> two read servers):
#  - scale-out: two herald-servers against one Redis converge on the same versions and
#    serve byte-identical changesets and monitors;
#  - snapshot updates during a bounded wrk load never produce a mixed response (every
#    body whose ETag is V is the same bytes, with timestamp V) or an unverifiable one
#    (each distinct body is verified as a client would, lib/verify.c); without wrk
#    (HERALD_TEST_NO_WRK=1, or not installed) benchmarks/server_load.js does the same;
#  - Redis killed: both servers keep serving, __heartbeat__ says 503, metrics say
#    redis_up 0; Redis back: they reconnect, resync, and serve new edits.
source "$(dirname "$0")/../support/harness.sh"

FIX=$H_BUILD/benchmarks/server_fixture

SRV_ARGS=(--threads 2 --public-host cdn.example.net)
h_start_pipeline "${SRV_ARGS[@]}"
h_start_second_server "${SRV_ARGS[@]}"
A=$H_SRV A_PORT=$H_SRV_PORT A_PID=$H_SRV_PID
B=$H_SRV2

# lm_of: the last_modified of the object in the publisher's answer on stdin.
lm_of() { grep -o '"last_modified":[0-9]*' | head -1 | cut -d: -f2; }
# put_lm PATH BODY: an admin PUT, in this shell (its status in $H_STATUS); LM is the
# last_modified the publisher answered.
put_lm() {
    h_pub PUT "$1" "$2" >/dev/null
    LM=$(lm_of <"$H_TMP/pub.body")
}
serves() { h_served_at "$A$1" "$2" && h_served_at "$B$1" "$2"; }

CS=/buckets/demo/collections/certs/changeset
MON=/buckets/monitor/collections/changes/changeset
h_pub PUT /buckets/demo '{"data":{},"permissions":{"read":["system.Everyone"]}}' >/dev/null
h_pub PUT /buckets/demo/collections/certs '{"data":{"displayName":"Certs"}}' >/dev/null
h_pub PUT /buckets/demo/collections/other '{"data":{}}' >/dev/null
for i in $(seq 1 20); do
    put_lm "/buckets/demo/collections/certs/records/r$i" "{\"data\":{\"n\":$i,\"text\":\"record number $i\"}}"
done
v=$LM
put_lm /buckets/demo/collections/other/records/x '{"data":{"x":1}}'
v2=$LM
h_check "publisher accepted the records" h_eq "$H_STATUS" 201

# ---- scale-out ------------------------------------------------------------------------
converged() { serves "$CS" "$v" && serves /buckets/demo/collections/other/changeset "$v2"; }
h_check "both servers converge on the last version of each collection" h_wait_for 30 converged
h_check "identical changesets" cmp -s <(curl -s "$A$CS") <(curl -s "$B$CS")
h_check "identical compressed changesets" cmp -s <(curl -s -H 'Accept-Encoding: zstd' "$A$CS") <(curl -s -H 'Accept-Encoding: zstd' "$B$CS")
h_check "identical monitors" cmp -s <(curl -s "$A$MON") <(curl -s "$B$MON")
h_check "identical deltas" cmp -s <(curl -s "$A$CS?_since=$((v - 1))") <(curl -s "$B$CS?_since=$((v - 1))")

# ---- updates during a bounded load ----------------------------------------------------
mkdir -p "$H_TMP/bodies"
cat >"$H_TMP/check.lua" <<'EOF'
-- Every 200 must carry its version as ETag and as the body's last "timestamp"; every
-- body of one ETag must be the same bytes. The first body of each ETag is saved (per
-- thread) to be verified afterwards.
local threads, counter = {}, 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end
function init(args)
  seen, bad, n, dir = {}, 0, 0, os.getenv("BODY_DIR")
end
function response(status, headers, body)
  n = n + 1
  if status ~= 200 then bad = bad + 1; return end
  local etag = headers["ETag"] or ""
  local ts = body:match('"timestamp":(%d+)}$')
  if etag ~= '"' .. tostring(ts) .. '"' then bad = bad + 1; return end
  local prev = seen[etag]
  if prev == nil then
    seen[etag] = body
    local f = io.open(dir .. "/" .. id .. "-" .. ts .. ".json", "w")
    f:write(body)
    f:close()
  elseif prev ~= body then
    bad = bad + 1
  end
end
function done(summary, latency, requests)
  local total_bad, total_n = 0, 0
  for _, t in ipairs(threads) do
    total_bad = total_bad + t:get("bad")
    total_n = total_n + t:get("n")
  end
  local f = io.open(os.getenv("BODY_DIR") .. "/result", "w")
  f:write(total_n .. " " .. total_bad .. "\n")
  f:close()
end
EOF
if [ -z "${HERALD_TEST_NO_WRK:-}" ] && command -v wrk >/dev/null; then
    BODY_DIR=$H_TMP/bodies wrk -t2 -c32 -d8s -s "$H_TMP/check.lua" "$A$CS" >"$H_TMP/wrk.out" 2>&1 &
else # the same checks in benchmarks/server_load.js
    h_log "wrk not installed: load from benchmarks/server_load.js"
    (node "$H_SRC/benchmarks/server_load.js" --port "$A_PORT" --path "/v1$CS" --connections 32 \
        --requests 100000000 --seconds 8 --check "$H_TMP/bodies" | tee "$H_TMP/wrk.out" |
        sed -n 's/^responses=\([0-9]*\).* bad=\([0-9]*\)$/\1 \2/p' >"$H_TMP/bodies/result") &
fi
WRK=$!
sleep 1
for i in $(seq 1 15); do
    h_pub PUT "/buckets/demo/collections/certs/records/load$((i % 4))" "{\"data\":{\"i\":$i}}" >/dev/null
    [ $((i % 5)) = 0 ] && h_pub DELETE "/buckets/demo/collections/certs/records/r$i" >/dev/null
    sleep 0.3
done
wait $WRK
read -r nreq nbad <"$H_TMP/bodies/result"
h_log "load: $nreq responses, $(ls "$H_TMP/bodies" | grep -c json) distinct (thread, version) bodies"
h_check "load ran" test "$nreq" -gt 1000
h_check "no mixed response under load (ETag = timestamp, one body per ETag)" h_eq "$nbad" 0
h_check "several versions were served during the load" test "$(ls "$H_TMP/bodies" | grep json | cut -d- -f2 | sort -u | wc -l)" -ge 3
h_check "every body served under load verifies" "$FIX" verify -q --public-key "$H_PUBKEY" --bucket demo --collection certs "$H_TMP"/bodies/*.json

# ---- Redis killed, then back -------------------------------------------------------------
v=$(h_etag "$A$CS")
kill -9 "$H_REDIS_PID"
wait "$H_REDIS_PID" 2>/dev/null || true
h_check "Redis down: heartbeat 503 on both" h_wait_for 15 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$A/__heartbeat__')\" = 503 ] && [ \"\$(curl -s -o /dev/null -w '%{http_code}' '$B/__heartbeat__')\" = 503 ]"
h_check "Redis down: heartbeat body says redis false" bash -c "curl -s '$A/__heartbeat__' | grep -q '\"redis\":false'"
h_check "Redis down: both keep serving the last version" h_eq "$(h_etag "$A$CS") $(h_etag "$B$CS")" "$v $v"
h_check "Redis down: changeset still verifies" bash -c "curl -s '$B$CS' >'$H_TMP/down.json' && '$FIX' verify -q --public-key '$H_PUBKEY' --bucket demo --collection certs '$H_TMP/down.json'"
h_check "Redis down: metrics redis_up 0" bash -c "curl -s http://127.0.0.1:$A_PORT/metrics | grep -qx 'herald_redis_up 0'"
sleep 2
h_start_redis # on its port again, on its append-only file
h_check "Redis back: heartbeat 200 on both" h_wait_for 30 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$A/__heartbeat__')\" = 200 ] && [ \"\$(curl -s -o /dev/null -w '%{http_code}' '$B/__heartbeat__')\" = 200 ]"
h_check "both servers logged the resync" bash -c "[ \$(grep -c 'resync done' '$H_TMP/server.log') -ge 4 ]"
for _ in $(seq 1 100); do
    put_lm /buckets/demo/collections/certs/records/after '{"data":{"back":true}}'
    v3=$LM
    [ "$H_STATUS" = 200 ] || [ "$H_STATUS" = 201 ] && break
    sleep 0.2
done
h_check "an edit after the outage is accepted" test -n "$v3"
h_check "... and served by both servers" h_wait_for 30 serves "$CS" "$v3"
h_check "no server crashed" kill -0 "$A_PID"

h_finish
