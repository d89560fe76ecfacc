#!/usr/bin/env bash
# Attachment uploads are authorized before their body is read (issue 12,
# publisher/httpd.h "Authorization comes before the body"): an anonymous upload (401),
# one by a user without write permission (403) and one to a missing collection or
# bucket (404) of a 50 MB body get their Kinto error without the publisher reading the
# body, let alone writing it to disk, with Connection: close; a client that waits for
# "100 Continue" never sends it. The publisher's read/write byte counters
# (/proc/PID/io rchar, wchar) show it; an authorized upload of the same body shows
# they would. The body is generated here.
source "$(dirname "$0")/../support/harness.sh"

h_start_redis
FILES=$H_TMP/files
export HERALD_ATTACHMENTS_DIR=$FILES HERALD_ATTACHMENT_MAX_SIZE_BYTES=0
h_start_publisher
A=$H_AUTH
curl -sf -u "$A" -X PUT "$H_PUB/buckets/b" >/dev/null
curl -sf -u "$A" -X PUT "$H_PUB/buckets/b/collections/c" >/dev/null
curl -sf -u "$A" -X POST -H "Content-Type: application/json" \
    --data '{"data":{"id":"bob","password":"bob-pw"}}' "$H_PUB/accounts" >/dev/null
head -c 50000000 /dev/urandom >"$H_TMP/big.bin"

io() { sed -n "s/^$1: //p" "/proc/$H_PUB_PID/io"; }
files() { find "$FILES" -type f | wc -l; }
B() { h_json "$1" <"$H_TMP/body"; }
# up NAME USER PATH EXPECTED CURL-ARGS...: one refused upload, checked.
up() {
    local name=$1 user=$2 path=$3 want=$4
    shift 4
    # curl sends the body anyway when no answer to "Expect: 100-continue" came within
    # its expect timeout (1 s by default): under load bob's argon2id check takes longer,
    # and the publisher then had to read what curl sent. Wait as long as it takes.
    local args=(-s -o "$H_TMP/body" -D "$H_TMP/h" -w '%{http_code}' --expect100-timeout 60)
    [ "$user" != - ] && args+=(-u "$user")
    local r0 w0 st
    r0=$(io rchar) w0=$(io wchar)
    st=$(curl "${args[@]}" "$@" -F "attachment=@$H_TMP/big.bin" "$H_PUB$path")
    h_check "$name: $want Kinto error received" h_eq "$st/$(B d.errno)" "$want"
    h_check "$name: Connection: close" grep -qi '^Connection: close' "$H_TMP/h"
    h_check "$name: no file written" h_eq "$(files)" 0
    local dw=$(($(io wchar) - w0)) dr=$(($(io rchar) - r0))
    h_log "     $name: publisher read $dr bytes, wrote $dw bytes"
    h_check "$name: the publisher wrote under 1 MB (no body to disk)" test "$dw" -lt 1000000
    LAST_READ=$dr
}
R=/buckets/b/collections/c/records
for expect in wait nowait; do
    extra=()
    [ $expect = nowait ] && extra=(-H 'Expect:')
    up "anonymous ($expect)" - "$R/r/attachment" 401/104 "${extra[@]}"
    [ $expect = wait ] && h_check "anonymous: the body was not read" test "$LAST_READ" -lt 1000000
    up "no write permission ($expect)" bob:bob-pw "$R/r/attachment" 403/121 "${extra[@]}"
    [ $expect = wait ] && h_check "no permission: the body was not read" test "$LAST_READ" -lt 1000000
    up "missing collection ($expect)" "$A" /buckets/b/collections/nope/records/r/attachment 404/111 "${extra[@]}"
    up "missing bucket ($expect)" "$A" /buckets/nope/collections/c/records/r/attachment 404/111 "${extra[@]}"
done

# The publisher is fine afterwards, and an authorized upload does read and store the
# body (so the counters above would have shown it).
r0=$(io rchar) w0=$(io wchar)
st=$(curl -s -o "$H_TMP/body" -w '%{http_code}' -u "$A" -F "attachment=@$H_TMP/big.bin" "$H_PUB$R/r/attachment")
h_check "authorized upload of the same body: 201, the right hash" \
    h_eq "$st/$(B d.hash)" "201/$(sha256sum "$H_TMP/big.bin" | cut -d' ' -f1)"
h_check "authorized upload: the body was read and written" \
    test $(($(io rchar) - r0)) -gt 50000000 -a $(($(io wchar) - w0)) -gt 50000000
h_check "bob still gets 403 on the existing record" sh -c \
    "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -u bob:bob-pw -F 'attachment=@$H_TMP/big.bin' '$H_PUB$R/r/attachment')\" = 403 ]"
h_finish
