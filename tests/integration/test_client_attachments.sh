#!/usr/bin/env bash
# Attachments, for the C client and the JavaScript one: records written through the
# publisher with an `attachment` {filename, location, hash, size, mimetype}; files served
# by a plain HTTP file server (python3 -m http.server on loopback) under the base_url
# that GET /v1/ advertises (injected by tests/node/client_proxy.mjs until the read server
# advertises its own, issue 12). Checks: the file handed over is byte-identical; a second
# call is served from the cache (no request); a record whose hash or size does not match
# the file is refused and nothing is cached; a cached file damaged on disk is fetched
# again; a file no record references any more is deleted after the next sync.
source "$(dirname "$0")/../support/harness.sh"

h_start_pipeline
F_PORT=$(h_free_port)
mkdir -p "$H_TMP/files/att"
python3 -m http.server "$F_PORT" --bind 127.0.0.1 --directory "$H_TMP/files" 2>"$H_TMP/files.log" >/dev/null &
H_PIDS+=("$!")
h_wait_port "$F_PORT" 20 "$!" "$H_TMP/files.log"
P_PORT=$(h_free_port)
echo pass >"$H_TMP/mode"
node "$H_SRC/tests/node/client_proxy.mjs" "$P_PORT" "http://127.0.0.1:$H_SRV_PORT/v1" "$H_TMP/mode" "$H_TMP/proxy.reqs" \
    "http://127.0.0.1:$F_PORT/" 2>>"$H_TMP/proxy.log" &
H_PIDS+=("$!")
h_wait_port "$P_PORT" 20 "$!" "$H_TMP/proxy.log"
PROXY="http://127.0.0.1:$P_PORT/v1"

herald() { "${HERALD[@]}" "$@"; }
served() { [ "$(h_etag "$CS")" = "$1" ]; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
att() { printf '{"filename":"%s","location":"%s","hash":"%s","size":%s,"mimetype":"application/octet-stream"}' "$@"; }
file_gets() { grep -c "GET /att/$1" "$H_TMP/files.log" || true; }

scenario() {
COLL=$1
CS="$H_SRV/buckets/main/collections/$COLL/changeset"
h_log "---- $COLL: ${HERALD[*]##*/}"
created=$(h_public_collection main "$COLL")
h_check "collection created" h_eq "${created: -3}" 201
head -c 100000 /dev/urandom >"$H_TMP/files/att/$COLL-1.bin"
printf 'small file\n' >"$H_TMP/files/att/$COLL-2.txt"
printf 'not what was signed\n' >"$H_TMP/files/att/$COLL-bad.bin"
f1=$H_TMP/files/att/$COLL-1.bin f2=$H_TMP/files/att/$COLL-2.txt
R=/buckets/main/collections/$COLL/records
h_pub PUT "$R/one" "{\"data\":{\"attachment\":$(att one.bin "att/$COLL-1.bin" "$(sha "$f1")" 100000)}}" >/dev/null
h_pub PUT "$R/two" "{\"data\":{\"attachment\":$(att two.txt "att/$COLL-2.txt" "$(sha "$f2")" 11)}}" >/dev/null
h_pub PUT "$R/badhash" "{\"data\":{\"attachment\":$(att bad.bin "att/$COLL-bad.bin" "$(sha /dev/null)" 20)}}" >/dev/null
h_pub PUT "$R/badsize" "{\"data\":{\"attachment\":$(att bad.bin "att/$COLL-bad.bin" "$(sha "$H_TMP/files/att/$COLL-bad.bin")" 19)}}" >"$H_TMP/last"
V=$(h_json d.data.last_modified <"$H_TMP/last")
h_check "records served" h_wait_for 20 served "$V"
S=$H_TMP/state_$COLL
out=$(herald sync "$PROXY" --public-key "$H_PUBKEY" --state "$S" "main/$COLL")
h_check "synced" grep -q "status=ok" <<<"$out"

p=$(herald attachment "$PROXY" --public-key "$H_PUBKEY" --state "$S" "main/$COLL" one)
h_check "attachment one: path in the cache, keyed by hash" h_eq "$p" "$S/attachments/$(sha "$f1")"
h_check "attachment one: the same bytes" cmp -s "$p" "$f1"
h_check "attachment one downloaded once" h_eq "$(file_gets "$COLL-1.bin")" 1
p2=$(herald attachment "$PROXY" --public-key "$H_PUBKEY" --state "$S" "main/$COLL" two)
h_check "attachment two: the same bytes" cmp -s "$p2" "$f2"
p=$(herald attachment "$PROXY" --public-key "$H_PUBKEY" --state "$S" "main/$COLL" one)
h_check "second call: from the cache, no request" h_eq "$(file_gets "$COLL-1.bin")" 1
for r in badhash badsize; do
    rc=0; err=$(herald attachment "$PROXY" --public-key "$H_PUBKEY" --state "$S" "main/$COLL" "$r" 2>&1) || rc=$?
    h_check "$r: refused as attachment" h_eq "$rc/$err" "1/herald: attachment: attachment"
done
h_check "nothing cached for the refused ones" h_eq "$(ls -A "$S/attachments" | sort | tr '\n' ' ')" "$(printf '%s\n' "$(sha "$f1")" "$(sha "$f2")" | sort | tr '\n' ' ')"
rc=0; herald attachment "$PROXY" --public-key "$H_PUBKEY" --state "$S" "main/$COLL" nosuch 2>/dev/null || rc=$?
h_check "no such record: an error" h_eq "$rc" 1
# Damage the cached copy: it is re-hashed, refused, fetched again.
printf 'X' | dd of="$S/attachments/$(sha "$f1")" bs=1 seek=10 conv=notrunc 2>/dev/null
p=$(herald attachment "$PROXY" --public-key "$H_PUBKEY" --state "$S" "main/$COLL" one)
h_check "damaged cache: fetched again, right bytes" h_eq "$(file_gets "$COLL-1.bin")/$(cmp -s "$p" "$f1" && echo same)" 2/same
# Record one deleted: its file goes at the next sync, two's stays.
h_pub DELETE "$R/one" >"$H_TMP/last"
V=$(h_json d.data.last_modified <"$H_TMP/last")
h_check "deletion served" h_wait_for 20 served "$V"
herald sync "$PROXY" --public-key "$H_PUBKEY" --state "$S" "main/$COLL" >/dev/null
h_check "unreferenced file deleted" test ! -e "$S/attachments/$(sha "$f1")"
h_check "referenced file kept" test -e "$S/attachments/$(sha "$f2")"
}

HERALD=("$H_BUILD/client/herald")
scenario att_c
HERALD=(node "$H_SRC/tests/node/herald_cli.mjs")
scenario att_js
h_finish
