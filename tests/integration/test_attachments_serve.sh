#!/usr/bin/env bash
# Attachments on read servers (issue 12, docs/attachments.md): a read server sharing
# the publisher's directory and a second one with its own directory that fetches from
# the first (fetch-on-miss, SHA-256 checked) both serve every attachment of every
# record of the served version; GET/HEAD, Range (206/416), If-None-Match (304),
# immutable caching, no path outside the store, a tampered origin file refused, a
# large file through sendfile to a slow reader, a type recorded after a file was served
# without one (the media-type cache). Files are generated here.
source "$(dirname "$0")/../support/harness.sh"

h_start_redis
h_keygen
FILES=$H_TMP/files
export HERALD_ATTACHMENTS_DIR=$FILES
h_start_publisher
h_start_signer
h_start_server --attachments-dir "$FILES"
S1=${H_SRV%/v1}/attachments
h_start_second_server --attachments-dir "$H_TMP/files2" --attachment-origin "$S1/"
S2=${H_SRV2%/v1}/attachments
A=$H_AUTH
R=/buckets/b/collections/c/records
sha() { sha256sum "$1" | cut -d' ' -f1; }

curl -sf -u "$A" -X PUT -H 'Content-Type: application/json' \
    --data '{"permissions":{"read":["system.Everyone"]}}' "$H_PUB/buckets/b" >/dev/null
curl -sf -u "$A" -X PUT "$H_PUB/buckets/b/collections/c" >/dev/null
for i in 1 2 3; do
    head -c $((i * 70000)) /dev/urandom >"$H_TMP/f$i.bin"
    curl -sf -o /dev/null -u "$A" -F "attachment=@$H_TMP/f$i.bin" "$H_PUB$R/r$i/attachment"
done
printf '{"k":1}' >"$H_TMP/cfg.json"
curl -sf -o /dev/null -u "$A" -F "attachment=@$H_TMP/cfg.json;type=application/json" "$H_PUB$R/rj/attachment"
head -c 30000000 /dev/urandom >"$H_TMP/big.bin"
curl -sf -o /dev/null -u "$A" -F "attachment=@$H_TMP/big.bin" "$H_PUB$R/big/attachment"

# Every attachment of the version the read servers serve, from both servers.
h_wait_for 20 sh -c "curl -sf '$H_SRV/buckets/b/collections/c/changeset?_expected=0' | grep -q big.bin"
curl -sf "$H_SRV/buckets/b/collections/c/changeset?_expected=0" >"$H_TMP/cs"
LOCS=$(h_json 'd.changes.filter(r => r.attachment).map(r => r.attachment.location + "=" + r.attachment.hash + "=" + r.attachment.size).join(" ")' <"$H_TMP/cs")
h_check "the served version names 5 attachments" h_eq "$(echo "$LOCS" | wc -w)" 5
hwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$H_SRV2_PID/status"; }
HWM0=$(hwm)
for e in $LOCS; do
    loc=${e%%=*} rest=${e#*=} hash=${rest%%=*} size=${e##*=}
    for s in "$S1" "$S2"; do
        curl -sf -o "$H_TMP/dl" "$s/$loc"
        h_check "$s/${loc:0:8}..: size and SHA-256 as the record says" \
            h_eq "$(sha "$H_TMP/dl")/$(wc -c <"$H_TMP/dl" | tr -d ' ')" "$hash/$size"
    done
done
HB=$(sha "$H_TMP/big.bin")
# The 30 MB file was streamed to disk while hashed, not held in memory (the peak RSS
# of the fetching server grew by far less than the file).
h_log "     fetching server peak RSS: ${HWM0} kB before, $(hwm) kB after"
h_check "fetch-on-miss streams: peak RSS grew by less than 10 MB" test $(($(hwm) - HWM0)) -lt 10240
h_check "the second server stored what it fetched" h_eq "$(sha "$H_TMP/files2/${HB:0:2}/$HB")" "$HB"

# ---- Content-Type: the record's mimetype, from both servers ----
HJ=$(sha "$H_TMP/cfg.json")
for s in "$S1" "$S2"; do
    ct=$(curl -s -o /dev/null -w '%{content_type}' "$s/${HJ:0:2}/$HJ")
    h_check "$s: a .json attachment is served as application/json" h_eq "$ct" application/json
done
h_check "the second server recorded the type it fetched" h_eq "$(cat "$H_TMP/files2/${HJ:0:2}/$HJ.type")" application/json
ct=$(curl -s -o /dev/null -w '%{content_type}' "$S2/${HB:0:2}/$HB")
h_check "a generic file: application/octet-stream" h_eq "$ct" application/octet-stream
h_check "the type URL answers the type" h_eq "$(curl -s "$S1/${HJ:0:2}/$HJ.type")" application/json
# Read servers cache types by hash: a file served while it had none is served with the
# type a later upload of the same bytes records (a cached "none" is looked up again).
H2=$(sha "$H_TMP/f2.bin")
for i in 1 2 3; do
    ct=$(curl -s -o /dev/null -w '%{content_type}' "$S1/${H2:0:2}/$H2")
done
h_check "a file without a type, asked for three times: application/octet-stream" \
    h_eq "$ct" application/octet-stream
curl -sf -o /dev/null -u "$A" -F "attachment=@$H_TMP/f2.bin;filename=f2.txt;type=text/plain" "$H_PUB$R/r2t/attachment"
h_check "the same bytes uploaded as text/plain record the type" \
    h_eq "$(cat "$FILES/${H2:0:2}/$H2.type")" text/plain
h_check "then the read server sends the recorded type (its cache does not keep 'none')" \
    h_wait_for 20 sh -c "curl -s -o /dev/null -w '%{content_type}' '$S1/${H2:0:2}/$H2' | grep -qx text/plain"

# ---- headers, HEAD, Range, conditional requests ----
H1=$(sha "$H_TMP/f1.bin")
U=$S1/${H1:0:2}/$H1
hd() { curl -s -o "$H_TMP/dl" -D "$H_TMP/h" -w '%{http_code}' "$@"; }
val() { tr -d '\r' <"$H_TMP/h" | sed -n "s/^$1: //Ip" | head -1; }
st=$(hd "$U")
h_check "GET: 200, ETag is the hash" h_eq "$st/$(val ETag)" "200/\"$H1\""
h_check "immutable caching" h_eq "$(val Cache-Control)" "public, max-age=31536000, immutable"
st=$(hd -I "$U")
h_check "HEAD: 200 with the Content-Length of a GET" h_eq "$st/$(val Content-Length)" "200/70000"
h_check "HEAD: no body (curl -I output is the head only)" cmp -s "$H_TMP/dl" "$H_TMP/h"
st=$(hd -H 'Range: bytes=100-199' "$U")
h_check "Range: 206 with Content-Range" h_eq "$st/$(val Content-Range)" "206/bytes 100-199/70000"
h_check "Range: the right bytes" h_eq "$(sha "$H_TMP/dl")" "$(tail -c +101 "$H_TMP/f1.bin" | head -c 100 | sha256sum | cut -d' ' -f1)"
st=$(hd -H 'Range: bytes=-10' "$U")
h_check "suffix range" h_eq "$st/$(val Content-Range)" "206/bytes 69990-69999/70000"
st=$(hd -H 'Range: bytes=69000-' "$U")
h_check "open range" h_eq "$st/$(val Content-Length)" "206/1000"
st=$(hd -H 'Range: bytes=70000-' "$U")
h_check "unsatisfiable: 416" h_eq "$st/$(val Content-Range)" "416/bytes */70000"
st=$(hd -H "If-None-Match: \"$H1\"" "$U")
h_check "If-None-Match the hash: 304" h_eq "$st" 304
st=$(hd -H 'If-None-Match: "other"' "$U")
h_check "If-None-Match another: 200" h_eq "$st" 200
st=$(hd -H 'Range: bytes=0-9' -H 'If-Range: "other"' "$U")
h_check "If-Range another version: the whole file" h_eq "$st" 200
# resume a download: the first half, then the rest
curl -s -r 0-14999999 -o "$H_TMP/part" "$S2/${HB:0:2}/$HB"
curl -s -r 15000000- "$S2/${HB:0:2}/$HB" >>"$H_TMP/part"
h_check "a 30 MB download resumed with Range" h_eq "$(sha "$H_TMP/part")" "$HB"
curl -s --limit-rate 20M -o "$H_TMP/slow" "$S1/${HB:0:2}/$HB"
h_check "a slow reader gets every byte (sendfile resumes)" h_eq "$(sha "$H_TMP/slow")" "$HB"
# pipelined: an attachment then a JSON request on one connection
h_check "keep-alive after a file" sh -c "curl -sf -o /dev/null '$U' -o /dev/null '$H_SRV/__heartbeat__'"

# ---- paths that name no file ----
for p in "${H1:0:2}/$H1.typ" "${H1:0:2}/$H1.type/" "${H1:0:2}/../$H1.type" "${H1:0:2}/../../etc/passwd" "${H1:0:2}/$(echo "$H1" | tr a-f A-F)" "00/$H1" \
    "${H1:0:2}%2F$H1" "${H1:0:2}/$H1/" "tmp/x" "${H1:0:2}/${H1:0:63}"; do
    st=$(curl -s -o /dev/null -w '%{http_code}' --path-as-is "$S1/$p")
    h_check "404 for /attachments/$p" h_eq "$st" 404
done
st=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$U")
h_check "POST: 405" h_eq "$st" 405

# ---- a tampered file at the origin is refused ----
head -c 1000 /dev/urandom >"$H_TMP/t.bin"
HT=$(sha "$H_TMP/t.bin")
mkdir -p "$FILES/${HT:0:2}"
head -c 1000 /dev/urandom >"$FILES/${HT:0:2}/$HT" # not the bytes of the hash
st=$(curl -s -o "$H_TMP/dl" -w '%{http_code}' "$S2/${HT:0:2}/$HT")
h_check "tampered origin file: 502, not served" h_eq "$st" 502
h_check "tampered origin file: not stored" test ! -e "$H_TMP/files2/${HT:0:2}/$HT"
st=$(curl -s -o /dev/null -w '%{http_code}' "$S2/00/00${HT:2}")
h_check "a hash the origin lacks: 502 from the second server" h_eq "$st" 502

h_finish
