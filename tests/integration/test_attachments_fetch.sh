#!/usr/bin/env bash
# Fetch-on-miss off the worker thread (issue 12, docs/attachments.md): a read server with
# its own directory and one worker thread fetches what it lacks from an origin
# (tests/support/slow_origin.py, which counts its requests and can stall a transfer
# half-way until told to go on). While a large miss is stalled at the origin, the same
# worker answers a changeset and a file it has; two concurrent misses of one file make
# exactly one origin request and both get the file; a tampered origin file is refused
# (502, Kinto error) to every waiting client and never stored; beyond 32 files fetched
# at once a miss is answered 503 at once; a client that leaves
# while its file is fetched, and a SIGTERM during a stalled fetch, are handled; with
# attachment_fetch_timeout_seconds at 1, a fetch the origin stalls ends in 504 for every
# waiting client and stores nothing, and the next request fetches again. The
# ordering is made by the origin's stall files and the server's log, never by timing.
source "$(dirname "$0")/../support/harness.sh"

h_start_redis
h_keygen
FILES=$H_TMP/files
export HERALD_ATTACHMENTS_DIR=$FILES
h_start_publisher
h_start_signer
OPORT=$(h_free_port)
ORIGIN=$H_TMP/origin
python3 "$H_SRC/tests/support/slow_origin.py" "$OPORT" "$FILES" "$ORIGIN" 2>>"$H_TMP/origin.log" &
H_PIDS+=($!)
h_wait_port "$OPORT"
h_start_server --threads 1 --log-level info --attachments-dir "$H_TMP/own" \
    --attachment-origin "http://127.0.0.1:$OPORT/attachments/"
S=${H_SRV%/v1}/attachments
A=$H_AUTH
R=/buckets/b/collections/c/records
sha() { sha256sum "$1" | cut -d' ' -f1; }
fetches() { grep -c "^GET /attachments/${1:0:2}/$1\$" "$ORIGIN/access.log" || true; }
logged() { grep -q "attachment $1: $2" "$H_TMP/server.log"; }

curl -sf -u "$A" -X PUT -H 'Content-Type: application/json' \
    --data '{"permissions":{"read":["system.Everyone"]}}' "$H_PUB/buckets/b" >/dev/null
curl -sf -u "$A" -X PUT "$H_PUB/buckets/b/collections/c" >/dev/null
head -c 5000 /dev/urandom >"$H_TMP/small.bin"
head -c 8000000 /dev/urandom >"$H_TMP/big.bin"
head -c 3000 /dev/urandom >"$H_TMP/tamper.bin"
head -c 4000 /dev/urandom >"$H_TMP/left.bin"
head -c 6000 /dev/urandom >"$H_TMP/stop.bin"
head -c 7000 /dev/urandom >"$H_TMP/slow.bin"
for f in small big tamper left stop slow; do
    curl -sf -o /dev/null -u "$A" -F "attachment=@$H_TMP/$f.bin" "$H_PUB$R/$f/attachment"
done
h_wait_for 20 sh -c "curl -sf '$H_SRV/buckets/b/collections/c/changeset?_expected=0' | grep -q slow.bin"
HS=$(sha "$H_TMP/small.bin") HB=$(sha "$H_TMP/big.bin") HT=$(sha "$H_TMP/tamper.bin")
HL=$(sha "$H_TMP/left.bin") HX=$(sha "$H_TMP/stop.bin") HW=$(sha "$H_TMP/slow.bin")

# The small file: fetched on its first request, then served from the server's directory.
curl -sf -o "$H_TMP/dl" "$S/${HS:0:2}/$HS"
h_check "a miss is fetched, checked and served" h_eq "$(sha "$H_TMP/dl")" "$HS"
curl -sf -o "$H_TMP/dl" "$S/${HS:0:2}/$HS"
h_check "then it is served from the directory (one origin request)" h_eq "$(fetches "$HS")" 1

# ---- a large miss stalled at the origin does not block the worker ----
touch "$ORIGIN/stall/$HB"
curl -s -o "$H_TMP/big1" -w '%{http_code}' --max-time 120 "$S/${HB:0:2}/$HB" >"$H_TMP/st1" &
C1=$!
h_check "the first miss starts a fetch" h_wait_for 20 logged "$HB" "not here: fetching it"
h_check "the origin is sending it (and stalls half-way)" h_wait_for 20 test "$(fetches "$HB")" = 1
curl -s -o "$H_TMP/big2" -w '%{http_code}' --max-time 120 "$S/${HB:0:2}/$HB" >"$H_TMP/st2" &
C2=$!
h_check "the second miss of the same file joins it" h_wait_for 20 logged "$HB" "waiting for the fetch under way"
# The one worker answers other clients meanwhile (--max-time only bounds a hang).
st=$(curl -s -o "$H_TMP/cs" -w '%{http_code}' --max-time 20 "$H_SRV/buckets/b/collections/c/changeset?_expected=0")
h_check "during the fetch: a changeset is answered" h_eq "$st/$(grep -c big.bin "$H_TMP/cs")" 200/1
st=$(curl -s -o "$H_TMP/dl" -w '%{http_code}' --max-time 20 "$S/${HS:0:2}/$HS")
h_check "during the fetch: a file already here is served" h_eq "$st/$(sha "$H_TMP/dl")" "200/$HS"
st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$H_SRV/__heartbeat__")
h_check "during the fetch: the heartbeat answers" h_eq "$st" 200
h_check "both downloads still wait for the stalled fetch" kill -0 "$C1" "$C2"
h_check "the file is not in place before it is complete" test ! -e "$H_TMP/own/${HB:0:2}/$HB"
rm "$ORIGIN/stall/$HB"
wait "$C1" "$C2"
h_check "first waiting client: 200, every byte" h_eq "$(cat "$H_TMP/st1")/$(sha "$H_TMP/big1")" "200/$HB"
h_check "second waiting client: 200, every byte" h_eq "$(cat "$H_TMP/st2")/$(sha "$H_TMP/big2")" "200/$HB"
h_check "two concurrent misses: exactly one origin fetch" h_eq "$(fetches "$HB")" 1
h_check "the fetched file is stored" h_eq "$(sha "$H_TMP/own/${HB:0:2}/$HB")" "$HB"

# ---- a tampered origin file: refused to every waiting client, not stored ----
head -c 3000 /dev/urandom >"$ORIGIN/tamper/$HT"
touch "$ORIGIN/stall/$HT"
curl -s -o "$H_TMP/t1" -w '%{http_code}' --max-time 60 "$S/${HT:0:2}/$HT" >"$H_TMP/tst1" &
C1=$!
h_wait_for 20 logged "$HT" "not here: fetching it"
curl -s -o "$H_TMP/t2" -w '%{http_code}' --max-time 60 "$S/${HT:0:2}/$HT" >"$H_TMP/tst2" &
C2=$!
h_wait_for 20 logged "$HT" "waiting for the fetch under way"
rm "$ORIGIN/stall/$HT"
wait "$C1" "$C2"
h_check "tampered: 502 to the first waiting client" h_eq "$(cat "$H_TMP/tst1")" 502
h_check "tampered: 502 to the second" h_eq "$(cat "$H_TMP/tst2")" 502
h_check "tampered: a Kinto error body" h_eq "$(h_json '[d.code, d.errno, d.error].join(" ")' <"$H_TMP/t2")" "502 999 Bad Gateway"
h_check "tampered: one origin fetch for both" h_eq "$(fetches "$HT")" 1
h_check "tampered: not stored" test ! -e "$H_TMP/own/${HT:0:2}/$HT"
st=$(curl -s -o /dev/null -w '%{http_code}' "$S/${HT:0:2}/$HT")
h_check "tampered: a later request tries again, and is refused again" h_eq "$st/$(fetches "$HT")" 502/2
st=$(curl -s -o /dev/null -w '%{http_code}' "$S/00/00${HT:2}")
h_check "a hash the origin lacks: 502" h_eq "$st" 502

# ---- at most 32 files fetched at once: a miss beyond that is 503 at once ----
CAP=()
for i in $(seq 32); do
    h=$(printf 'cap %d' "$i" | sha256sum | cut -d' ' -f1)
    CAP+=("$h")
    printf 'other bytes %d' "$i" >"$ORIGIN/tamper/$h"
    touch "$ORIGIN/stall/$h"
done
CPIDS=()
for h in "${CAP[@]}"; do
    curl -s -o /dev/null -w '%{http_code}' --max-time 60 "$S/${h:0:2}/$h" >"$H_TMP/cap-$h" &
    CPIDS+=($!)
done
for h in "${CAP[@]}"; do h_wait_for 20 logged "$h" "not here: fetching it"; done
HC=$(printf 'cap 33' | sha256sum | cut -d' ' -f1)
st=$(curl -s -o "$H_TMP/dl" -w '%{http_code}' --max-time 20 "$S/${HC:0:2}/$HC")
h_check "33rd file while 32 are fetched: 503, Kinto error" h_eq "$st/$(h_json 'd.errno' <"$H_TMP/dl")" 503/201
h_check "... and no origin request for it" h_eq "$(fetches "$HC")" 0
for h in "${CAP[@]}"; do rm "$ORIGIN/stall/$h"; done
wait "${CPIDS[@]}"
h_check "the 32 fetches ended (tampered: 502 each)" h_eq "$(cat "$H_TMP"/cap-* | tr -d '\n' | sed 's/502//g')" ""
st=$(curl -s -o /dev/null -w '%{http_code}' "$S/${HC:0:2}/$HC")
h_check "then a new miss starts a fetch again" h_eq "$st/$(fetches "$HC")" 502/1

# ---- a client that leaves while its file is being fetched ----
touch "$ORIGIN/stall/$HL"
curl -s -o /dev/null --max-time 60 "$S/${HL:0:2}/$HL" &
C1=$!
h_wait_for 20 logged "$HL" "not here: fetching it"
kill "$C1"
wait "$C1" || true
rm "$ORIGIN/stall/$HL"
h_wait_for 20 logged "$HL" "fetched from the origin"
st=$(curl -s -o "$H_TMP/dl" -w '%{http_code}' "$S/${HL:0:2}/$HL")
h_check "a fetch whose client left completes; the file is then served" h_eq "$st/$(sha "$H_TMP/dl")" "200/$HL"
h_check "... from the directory" h_eq "$(fetches "$HL")" 1

# ---- SIGTERM while a fetch is stalled: the server stops (the fetch is aborted) ----
touch "$ORIGIN/stall/$HX"
curl -s -o /dev/null --max-time 60 "$S/${HX:0:2}/$HX" &
C1=$!
h_wait_for 20 logged "$HX" "not here: fetching it"
kill -TERM "$H_SRV_PID"
h_check "SIGTERM during a stalled fetch: the server exits" h_wait_for 40 sh -c "! kill -0 $H_SRV_PID 2>/dev/null"
wait "$C1" || true
h_check "the aborted fetch left no file" test ! -e "$H_TMP/own/${HX:0:2}/$HX"
rm -f "$ORIGIN/stall/$HX"

# ---- the fetch timeout (attachment_fetch_timeout_seconds): 504, nothing stored ----
# The origin stalls the transfer half-way until the stall file goes, which this section
# removes only after both clients have their answer: the timeout alone ends the fetch.
h_start_server --threads 1 --log-level info --attachments-dir "$H_TMP/own" \
    --attachment-origin "http://127.0.0.1:$OPORT/attachments/" --attachment-fetch-timeout-seconds 1
touch "$ORIGIN/stall/$HW"
curl -s -o "$H_TMP/w1" -w '%{http_code}' --max-time 60 "$S/${HW:0:2}/$HW" >"$H_TMP/wst1" &
C1=$!
h_wait_for 20 logged "$HW" "not here: fetching it"
curl -s -o "$H_TMP/w2" -w '%{http_code}' --max-time 60 "$S/${HW:0:2}/$HW" >"$H_TMP/wst2" &
C2=$!
wait "$C1" "$C2" || true
h_check "origin stalls past the fetch timeout: 504 to the first client" h_eq "$(cat "$H_TMP/wst1")" 504
h_check "... and 504 to a second client (joined, or its own fetch timed out too)" \
    h_eq "$(cat "$H_TMP/wst2")" 504
h_check "timeout: a Kinto error body" \
    h_eq "$(h_json '[d.code, d.error].join(" ")' <"$H_TMP/w1")" "504 Gateway Timeout"
h_check "timeout: the server logged the origin's timeout" logged "$HW" "origin .*[Tt]imeout"
h_check "timeout: the stall was still on when the clients were answered" test -e "$ORIGIN/stall/$HW"
h_check "timeout: nothing stored" test ! -e "$H_TMP/own/${HW:0:2}/$HW"
rm "$ORIGIN/stall/$HW"
st=$(curl -s -o "$H_TMP/dl" -w '%{http_code}' --max-time 60 "$S/${HW:0:2}/$HW")
h_check "after a timeout, the next request fetches again and gets the file" \
    h_eq "$st/$(sha "$H_TMP/dl")" "200/$HW"
h_check "the server answers its heartbeat after the timeouts" \
    h_eq "$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$H_SRV/__heartbeat__")" 200

h_finish
