#!/usr/bin/env bash
# Long-poll on the read server (issue 14, RFC 7240): a GET of the monitor changeset or
# of a collection changeset with If-None-Match naming the current version and
# "Prefer: wait=N" is held until that version changes (then 200 with the body an
# immediate request gets) or N seconds pass (304), capped by long_poll_max_seconds,
# with Preference-Applied either way (the cap on a second server, set to 1 s). Checks: the deadline and the cap; an answer
# after a write, equal to the immediate one (identity and zstd); no lost update (an
# If-None-Match already stale is answered at once, not held); many waiters on one
# version all answered; filters and _since on a held request; bad parameters and
# unknown collections answered at once; pipelined requests behind a held one answered
# after it, in order; a client that disconnects while held costs nothing afterwards
# (gauge, connections and file descriptors back to where they were); SIGTERM answers
# the held ones 304 at once. No timing is asserted: "answered after the write" is
# checked as "still held when the write was acknowledged".
source "$(dirname "$0")/../support/harness.sh"

h_start_pipeline --threads 2 # long_poll_max_seconds: the default, 60
echo 'long_poll_max_seconds = 1' >"$H_TMP/capped.conf"
h_start_second_server --config "$H_TMP/capped.conf"

h_check "setup" h_eq "$(h_public_collection b c1)$(h_public_collection b c2)" 201201200201
h_check "a record" h_eq "$(h_put /buckets/b/collections/c1/records/r1 '{"data":{"n":1}}')" 201
v_of() { h_redis GET "herald:ts:/buckets/b/collections/$1:record"; }
MON="$H_SRV/buckets/monitor/collections/changes/changeset"
C1="$H_SRV/buckets/b/collections/c1/changeset"
C2="$H_SRV/buckets/b/collections/c2/changeset"
h_check "the server serves c1" h_wait_for 60 h_served_at "$C1" "$(v_of c1)"
h_check "the server serves c2" h_wait_for 60 h_served_at "$C2" "$(v_of c2)"
h_check "the capped server serves c1" h_wait_for 60 h_served_at "$H_SRV2/buckets/b/collections/c1/changeset" "$(v_of c1)"
held() { curl -s "http://127.0.0.1:$H_SRV_PORT/metrics" | sed -n 's/^herald_long_poll_held //p'; }
conns() { curl -s "http://127.0.0.1:$H_SRV_PORT/metrics" | sed -n 's/^herald_http_connections //p'; }
held_is() { [ "$(held)" = "$1" ]; }
hdr() { tr -d '\r' <"$1" | sed -n "s/^$2: *//Ip" | head -1; }
status() { tr -d '\r' <"$1" | sed -n '1s/^HTTP\/1.1 \([0-9]*\).*/\1/p'; }
# lp NAME URL ETAG WAIT [CURL ARGS...]: a long-poll in the background; headers in
# NAME.h, body in NAME.b, its pid in LP_PID.
lp() {
    local name=$1 url=$2 etag=$3 wait=$4
    shift 4
    curl -s -m 60 -D "$H_TMP/$name.h" -o "$H_TMP/$name.b" -H "If-None-Match: \"$etag\"" \
        -H "Prefer: wait=$wait" "$@" "$url" &
    LP_PID=$!
}
done_all() { local p; for p in "$@"; do ! kill -0 "$p" 2>/dev/null || return 1; done; }
h_check "nothing held at first" held_is 0
fds0=$(ls "/proc/$H_SRV_PID/fd" | wc -l)

# ---- the deadline, and the cap -----------------------------------------------------
v1=$(v_of c1)
lp dl1 "$C1" "$v1" 1
p1=$LP_PID
lp dl2 "$H_SRV2/buckets/b/collections/c1/changeset" "$v1" 1000
p2=$LP_PID
wait "$p1" "$p2"
h_check "deadline: 304" h_eq "$(status "$H_TMP/dl1.h")/$(hdr "$H_TMP/dl1.h" ETag)" "304/\"$v1\""
h_check "deadline: Preference-Applied" h_eq "$(hdr "$H_TMP/dl1.h" Preference-Applied)" "wait=1"
h_check "deadline: the header is exposed to browsers" \
    grep -qi '^Access-Control-Expose-Headers: Preference-Applied' "$H_TMP/dl1.h"
h_check "cap: 304 with the capped wait applied" \
    h_eq "$(status "$H_TMP/dl2.h")/$(hdr "$H_TMP/dl2.h" Preference-Applied)" "304/wait=1"
h_check "gauge back to 0 after the deadlines" held_is 0

# ---- answered at once: stale version, no Prefer, bad parameter, unknown collection --
curl -s -D "$H_TMP/stale.h" -o "$H_TMP/stale.b" -H 'If-None-Match: "1"' -H 'Prefer: wait=30' "$C1"
h_check "stale If-None-Match: 200 at once, not held" \
    h_eq "$(status "$H_TMP/stale.h")/$(hdr "$H_TMP/stale.h" Preference-Applied)" "200/"
curl -s -D "$H_TMP/now.h" -o /dev/null -H "If-None-Match: \"$v1\"" "$C1"
h_check "no Prefer: 304 at once, no Preference-Applied" \
    h_eq "$(status "$H_TMP/now.h")/$(hdr "$H_TMP/now.h" Preference-Applied)" "304/"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: \"$v1\"" -H 'Prefer: wait=30' "$C1?_since=abc")
h_check "bad _since: 400 at once" h_eq "$code" 400
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'If-None-Match: *' -H 'Prefer: wait=30' "$H_SRV/buckets/b/collections/nope/changeset")
h_check "unknown collection: 404 at once" h_eq "$code" 404

# ---- held, then answered by a write; equal to an immediate answer --------------------
m1=$(h_etag "$MON")
v1=$(v_of c1)
v2c=$(v_of c2)
lp w1 "$C1" "$v1" 30
pa=$LP_PID
lp w2 "$C1" "$v1" 30 -H 'Accept-Encoding: zstd'
pb=$LP_PID
lp w3 "$MON" "$m1" 30
pc=$LP_PID
lp w4 "$C1?_since=$v1" "$v1" 30
pd=$LP_PID
lp w5 "$MON?bucket=b&collection=c2" "$m1" 30
pe=$LP_PID
lp w6 "$C2" "$v2c" 2 # another collection: its deadline, not c1's write, answers it
pf=$LP_PID
h_check "six requests held" h_wait_for 20 held_is 6
h_check "still held before the write" test "$(kill -0 "$pa" "$pb" "$pc" "$pd" "$pe" && echo y)" = y
h_check "write r2" h_eq "$(h_put /buckets/b/collections/c1/records/r2 '{"data":{"n":2}}')" 201
v2=$(v_of c1)
h_check "the held ones are answered" h_wait_for 30 done_all "$pa" "$pb" "$pc" "$pd" "$pe"
h_check "held c1: 200 with the new version" \
    h_eq "$(status "$H_TMP/w1.h")/$(hdr "$H_TMP/w1.h" ETag)/$(hdr "$H_TMP/w1.h" Preference-Applied)" \
    "200/\"$v2\"/wait=30"
curl -s -o "$H_TMP/i1.b" "$C1"
h_check "held c1: the body an immediate request gets" cmp -s "$H_TMP/w1.b" "$H_TMP/i1.b"
h_check "held c1 (zstd): Content-Encoding zstd" h_eq "$(hdr "$H_TMP/w2.h" Content-Encoding)" zstd
h_check "held c1 (zstd): decodes to the same body" \
    cmp -s <(zstd -dc "$H_TMP/w2.b") "$H_TMP/i1.b"
m2=$(h_etag "$MON")
h_check "held monitor: 200 with the new version" \
    h_eq "$(status "$H_TMP/w3.h")/$(hdr "$H_TMP/w3.h" ETag)" "200/\"$m2\""
curl -s -o "$H_TMP/i3.b" "$MON"
h_check "held monitor: the body an immediate request gets" cmp -s "$H_TMP/w3.b" "$H_TMP/i3.b"
curl -s -o "$H_TMP/i4.b" "$C1?_since=$v1"
h_check "held _since: 200, the delta an immediate request gets" \
    h_eq "$(status "$H_TMP/w4.h")/$(cmp -s "$H_TMP/w4.b" "$H_TMP/i4.b" && echo same)" "200/same"
h_check "held _since: only r2" h_eq "$(h_json 'd.changes.map(r=>r.id).join()' <"$H_TMP/w4.b")" r2
curl -s -o "$H_TMP/i5.b" "$MON?bucket=b&collection=c2"
h_check "held filtered monitor: 200, what an immediate request gets" \
    h_eq "$(status "$H_TMP/w5.h")/$(cmp -s "$H_TMP/w5.b" "$H_TMP/i5.b" && echo same)" "200/same"
h_check "held filtered monitor: only c2" \
    h_eq "$(h_json 'd.changes.map(r=>r.collection).join()' <"$H_TMP/w5.b")" c2
wait "$pf"
h_check "a waiter on another collection: 304 at its deadline" \
    h_eq "$(status "$H_TMP/w6.h")/$(hdr "$H_TMP/w6.h" Preference-Applied)" "304/wait=2"
h_check "gauge back to 0" held_is 0

# ---- no lost update: the change lands between a response and the next long-poll ----
h_check "write r3" h_eq "$(h_put /buckets/b/collections/c1/records/r3 '{"data":{"n":3}}')" 201
v3=$(v_of c1)
h_check "served at v3" h_wait_for 30 h_served_at "$C1" "$v3"
lp lost "$C1" "$v2" 30 # the client still holds v2
wait "$LP_PID"
h_check "no lost update: an If-None-Match naming the previous version gets 200 at once" \
    h_eq "$(status "$H_TMP/lost.h")/$(hdr "$H_TMP/lost.h" ETag)/$(hdr "$H_TMP/lost.h" Preference-Applied)" \
    "200/\"$v3\"/"

# ---- many waiters on one version -----------------------------------------------------
m3=$(h_etag "$MON")
pids=()
for i in $(seq 1 40); do
    lp many$i "$MON" "$m3" 30
    pids+=("$LP_PID")
done
h_check "40 waiters held" h_wait_for 30 held_is 40
h_check "write r4" h_eq "$(h_put /buckets/b/collections/c1/records/r4 '{"data":{"n":4}}')" 201
h_check "all 40 answered" h_wait_for 30 done_all "${pids[@]}"
m4=$(h_etag "$MON")
ok=0
for i in $(seq 1 40); do
    [ "$(status "$H_TMP/many$i.h")/$(hdr "$H_TMP/many$i.h" ETag)" = "200/\"$m4\"" ] && ok=$((ok + 1))
done
h_check "all 40 got 200 with the new monitor version" h_eq "$ok" 40

# ---- pipelining: requests behind a held one wait for it, in order -------------------
v4=$(v_of c1)
exec 7<>"/dev/tcp/127.0.0.1/$H_SRV_PORT"
printf 'GET /v1/buckets/b/collections/c1/changeset HTTP/1.1\r\nHost: t\r\nIf-None-Match: "%s"\r\nPrefer: wait=30\r\n\r\nGET /v1/__lbheartbeat__ HTTP/1.1\r\nHost: t\r\n\r\n' "$v4" >&7
h_check "pipelined: the first is held" h_wait_for 20 held_is 1
h_check "pipelined: nothing answered yet" bash -c "! read -r -t 0.3 line <&7"
h_check "write r5" h_eq "$(h_put /buckets/b/collections/c1/records/r5 '{"data":{"n":5}}')" 201
read -r -t 30 l1 <&7
clen=0
while read -r -t 5 line <&7 && [ "${line%$'\r'}" != "" ]; do
    case "${line,,}" in content-length:*) clen=${line#*: } clen=${clen%$'\r'} ;; esac
done
read -r -t 5 -N "$clen" body1 <&7
read -r -t 10 l2 <&7
h_check "pipelined: the held one answered first (200), then the next (200)" \
    h_eq "${l1%$'\r'}|${l2%$'\r'}|$(printf '%s' "$body1" | h_json 'd.changes.length')" \
    "HTTP/1.1 200 OK|HTTP/1.1 200 OK|5"
exec 7>&-

# ---- a client that disconnects while held costs nothing afterwards -------------------
h_check "baseline back to 0 held" h_wait_for 20 held_is 0
c0=$(conns)
v5=$(v_of c1)
pids=()
for i in $(seq 1 10); do
    lp gone$i "$C1" "$v5" 30
    pids+=("$LP_PID")
done
h_check "10 held" h_wait_for 20 held_is 10
kill "${pids[@]}"
wait "${pids[@]}" 2>/dev/null || true
h_check "disconnected: gauge back to 0 without a write" h_wait_for 20 held_is 0
conns_back() { [ "$(conns)" -le "$c0" ]; }
h_check "disconnected: connections closed" h_wait_for 20 conns_back
fds_back() { [ "$(ls "/proc/$H_SRV_PID/fd" | wc -l)" -le "$fds0" ]; }
h_check "disconnected: no file descriptor left behind" h_wait_for 20 fds_back
h_check "write r6 after they left" h_eq "$(h_put /buckets/b/collections/c1/records/r6 '{"data":{"n":6}}')" 201
h_check "served at v6" h_wait_for 30 h_served_at "$C1" "$(v_of c1)"
h_check "still answering" h_eq "$(curl -s -o /dev/null -w '%{http_code}' "$C1")" 200

# ---- SIGTERM answers the held ones 304 at once ---------------------------------------
v6=$(v_of c1)
pids=()
for i in 1 2 3; do
    lp term$i "$C1" "$v6" 30
    pids+=("$LP_PID")
done
h_check "3 held before SIGTERM" h_wait_for 20 held_is 3
kill -TERM "$H_SRV_PID"
h_check "SIGTERM: the held ones are answered" h_wait_for 20 done_all "${pids[@]}"
ok=0
for i in 1 2 3; do
    [ "$(status "$H_TMP/term$i.h")/$(hdr "$H_TMP/term$i.h" Connection)" = "304/close" ] && ok=$((ok + 1))
done
h_check "SIGTERM: 304 with Connection: close" h_eq "$ok" 3
h_check "SIGTERM: the server exits" h_wait_for 20 bash -c "! kill -0 $H_SRV_PID 2>/dev/null"

h_finish
