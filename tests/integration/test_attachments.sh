#!/usr/bin/env bash
# Attachments (issue 12, docs/attachments.md): kinto-attachment's endpoint on a real
# publisher and Redis, with curl: uploads, the record's attachment object, every error
# of the contract, preconditions, the size limits (413 before reading, 400 while
# streaming), the "attachment may not change" rule, deduplicated and concurrent
# uploads, memory during a large upload, and kill -9 during an upload and during the
# record write. Files are generated here, never committed.
source "$(dirname "$0")/../support/harness.sh"

h_start_redis
FILES=$H_TMP/files
export HERALD_ATTACHMENTS_DIR=$FILES
export HERALD_ATTACHMENT_BASE_URL=http://cdn.example/attachments
export HERALD_ATTACHMENT_MAX_SIZE_BYTES=3000000
export HERALD_ATTACHMENT_MIMETYPES='.dat:application/x-herald-dat;.TXT2:text/x-two'
h_start_publisher --attachment-extensions "txt bin pem json dat txt2 + images"
A=$H_AUTH
R=/buckets/b/collections/c/records

# up USER PATH CURL-ARGS...: POST multipart; body in $H_TMP/body, status in $S.
up() {
    local user=$1 path=$2
    shift 2
    local args=(-s -o "$H_TMP/body" -D "$H_TMP/h" -w '%{http_code}')
    [ "$user" != - ] && args+=(-u "$user")
    S=$(curl "${args[@]}" "$@" "$H_PUB$path")
}
B() { h_json "$1" <"$H_TMP/body"; }
hdr() { tr -d '\r' <"$H_TMP/h" | sed -n "s/^$1: //Ip" | head -1; }
err() { echo "$S/$(B d.errno)/$(B d.message)"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

curl -sf -u "$A" -X PUT "$H_PUB/buckets/b" >/dev/null
curl -sf -u "$A" -X PUT "$H_PUB/buckets/b/collections/c" >/dev/null
printf 'hello attachments\n' >"$H_TMP/a.txt"
head -c 200000 /dev/urandom >"$H_TMP/r.bin"

# ---- capability ----
up - /
h_check "capability: attachments.base_url with a trailing slash" \
    h_eq "$(B d.capabilities.attachments.base_url)" "http://cdn.example/attachments/"
h_check "capability: kinto-attachment's description" \
    h_eq "$(B d.capabilities.attachments.description)" "Add file attachments to records"

up - /__heartbeat__
h_check "heartbeat: attachments (kinto-attachment's)" h_eq "$S/$(B d.attachments)" "200/true"
rm -rf "$FILES/tmp" && touch "$FILES/tmp" # the store cannot create a file
up - /__heartbeat__
h_check "heartbeat: an unwritable store is 503, attachments false" h_eq "$S/$(B d.attachments)" "503/false"
rm -f "$FILES/tmp" && mkdir "$FILES/tmp"

# ---- upload, create then replace ----
up "$A" "$R/r1/attachment" -F "attachment=@$H_TMP/a.txt;type=text/plain" -F 'data={"type":"cert"}'
H=$(sha "$H_TMP/a.txt")
h_check "POST creates: 201" h_eq "$S" 201
h_check "body: the bare attachment object" \
    h_eq "$(B '[d.filename,d.hash,d.size,d.mimetype,d.location].join()')" "a.txt,$H,18,text/plain,${H:0:2}/$H"
h_check "Location: the record's URL" h_eq "$(hdr Location)" "$H_PUB$R/r1"
h_check "file stored under its hash" h_eq "$(sha "$FILES/${H:0:2}/$H")" "$H"
curl -s -u "$A" "$H_PUB$R/r1" >"$H_TMP/body"
h_check "record: data merged with attachment" \
    h_eq "$(B '[d.data.type,d.data.attachment.hash,d.data.attachment.size].join()')" "cert,$H,18"
up "$A" "$R/r1/attachment" -F "attachment=@$H_TMP/r.bin"
h_check "POST on an existing record: 200" h_eq "$S" 200
curl -s -u "$A" "$H_PUB$R/r1" >"$H_TMP/body"
h_check "replace keeps other fields (PATCH)" \
    h_eq "$(B '[d.data.type,d.data.attachment.hash,d.data.attachment.mimetype].join()')" \
    "cert,$(sha "$H_TMP/r.bin"),application/octet-stream"
up "$A" "$R/pem/attachment" -F "attachment=@$H_TMP/a.txt;filename=ca.pem;type=text/plain"
h_check "built-in mimetype for .pem" h_eq "$(B d.mimetype)" "application/x-pem-file"
# ---- the record's mimetype (kinto-attachment's rules, guessing for generic parts) ----
up "$A" "$R/m1/attachment" -F "attachment=@$H_TMP/a.txt;filename=x.json;type=application/octet-stream"
h_check "generic part type: guessed from the extension" h_eq "$S/$(B d.mimetype)" "201/application/json"
up "$A" "$R/m2/attachment" -F "attachment=@$H_TMP/a.txt;filename=x.json;type=Application/Vnd.Herald+JSON; charset=utf-8"
h_check "part type kept (parameters dropped, lowercased)" h_eq "$(B d.mimetype)" "application/vnd.herald+json"
up "$A" "$R/m3/attachment" -F "attachment=@$H_TMP/a.txt;filename=x.dat;type=text/plain"
h_check "attachment_mimetypes override" h_eq "$(B d.mimetype)" "application/x-herald-dat"
up "$A" "$R/m4/attachment" -F "attachment=@$H_TMP/a.txt;filename=x.txt2"
h_check "attachment_mimetypes: extensions match case-insensitively" h_eq "$(B d.mimetype)" "text/x-two"
printf -- '--XyZ\r\nContent-Disposition: form-data; name="attachment"; filename="y.png"\r\n\r\nPNGDATA\r\n--XyZ--\r\n' >"$H_TMP/raw"
up "$A" "$R/m5/attachment" -H 'Content-Type: multipart/form-data; boundary=XyZ' --data-binary "@$H_TMP/raw"
h_check "part without a type: guessed (extension group 'images' allowed .png)" h_eq "$S/$(B d.mimetype)" "201/image/png"
printf -- '--XyZ\r\nContent-Disposition: form-data; name="attachment"; filename="y.bin"\r\nContent-Type: bad type\r\n\r\nX\r\n--XyZ--\r\n' >"$H_TMP/raw"
up "$A" "$R/m6/attachment" -H 'Content-Type: multipart/form-data; boundary=XyZ' --data-binary "@$H_TMP/raw"
h_check "invalid part type, unknown extension: octet-stream" h_eq "$S/$(B d.mimetype)" "201/application/octet-stream"
up "$A" "$R/e/attachment" -F "attachment=@$H_TMP/a.txt;filename=x.gif.exe"
h_check "extension groups: .exe not in 'images'" h_eq "$S" 400
HM=$(sha "$H_TMP/a.txt")
h_check "the store records the first type of a content" test -s "$FILES/${HM:0:2}/$HM.type"
up "$A" "$R/perm/attachment" -F "attachment=@$H_TMP/a.txt" -F 'permissions={"read":["system.Everyone"]}'
curl -s -u "$A" "$H_PUB$R/perm" >"$H_TMP/body"
h_check "permissions field applied" h_eq "$(B 'd.permissions.read.join()')" "system.Everyone"

# ---- preconditions ----
ETAG=$(curl -s -u "$A" -D - -o /dev/null "$H_PUB$R/r1" | tr -d '\r' | sed -n 's/^ETag: //Ip')
up "$A" "$R/r1/attachment" -H 'If-Match: "1"' -F "attachment=@$H_TMP/a.txt"
h_check "If-Match stale: 412" h_eq "$S/$(B d.errno)" "412/114"
up "$A" "$R/r1/attachment" -H "If-Match: $ETAG" -F "attachment=@$H_TMP/a.txt"
h_check "If-Match current: 200" h_eq "$S" 200
up "$A" "$R/r1/attachment" -H 'If-None-Match: *' -F "attachment=@$H_TMP/a.txt"
h_check "If-None-Match * on an existing record: 412" h_eq "$S" 412
up "$A" "$R/new1/attachment" -H 'If-None-Match: *' -F "attachment=@$H_TMP/a.txt"
h_check "If-None-Match * on a new record: 201" h_eq "$S" 201

# ---- permissions and existence ----
up - "$R/r1/attachment" -F "attachment=@$H_TMP/a.txt"
h_check "anonymous: 401" h_eq "$S/$(B d.errno)" "401/104"
up "$A" "/buckets/b/collections/nope/records/x/attachment" -F "attachment=@$H_TMP/a.txt"
h_check "missing collection: 404" h_eq "$S/$(B d.details.resource_name)" "404/collection"
up "$A" "$R/r1/attachment" -X GET
h_check "GET: 405" h_eq "$S/$(B d.errno)" "405/115"
up "$A" "$R/r1/attachment" -X PUT -F "attachment=@$H_TMP/a.txt"
h_check "PUT: 405" h_eq "$S" 405

# ---- the contract's errors ----
up "$A" "$R/e/attachment" -H 'Content-Type: application/json' --data-binary '{}'
h_check "not multipart" h_eq "$(err)" "400/107/Content-Type should be multipart/form-data"
up "$A" "$R/e/attachment" -H 'Content-Type: multipart/form-data' --data-binary 'x'
h_check "no boundary" h_eq "$(err)" "400/107/Invalid boundary in multipart form: ''"
up "$A" "$R/e/attachment" -F 'data={"a":1}'
h_check "no attachment part" h_eq "$(err)" "400/109/Attachment missing."
up "$A" "$R/e/attachment" -F 'attachment=text'
h_check "no filename" h_eq "$(err)" "400/107/body: Filename is required."
up "$A" "$R/e/attachment" -F "attachment=@$H_TMP/a.txt;filename=x.exe"
h_check "extension not allowed" h_eq "$(err)" "400/107/body: File extension is not allowed."
up "$A" "$R/e/attachment" -F "attachment=@$H_TMP/a.txt" -F 'data={"a":'
h_check "bad data JSON" h_eq "$S/$(B d.errno)/$(B 'd.message.startsWith("body: data is not valid JSON (")')" "400/109/true"
up "$A" "$R/e/attachment" -F "attachment=@$H_TMP/a.txt" -F "data=@$H_TMP/a.txt"
h_check "data sent as a file" h_eq "$(err)" "400/109/body: 'data' field should be passed as form data, not files"
up "$A" "$R/e/attachment" -F "attachment=@$H_TMP/a.txt" -F 'x=1'
h_check "extra part" h_eq "$(err)" "400/109/body: 'x' not in ('data', 'permissions')"
head -c 3000000 /dev/urandom >"$H_TMP/limit.bin"
head -c 3000001 /dev/urandom >"$H_TMP/over.bin"
up "$A" "$R/e/attachment" -F "attachment=@$H_TMP/over.bin"
h_check "one byte over the limit" \
    h_eq "$(err)" "400/107/body: File size (3000001 bytes) exceeds the limit (3000000 bytes)."
up "$A" "$R/lim/attachment" -F "attachment=@$H_TMP/limit.bin"
h_check "exactly at the limit: accepted" h_eq "$S/$(B d.size)" "201/3000000"
head -c 40000000 /dev/zero >"$H_TMP/huge.bin"
up "$A" "$R/e/attachment" -F "attachment=@$H_TMP/huge.bin"
h_check "Content-Length far over the limit: 413 Kinto error, received" h_eq "$S/$(B d.errno)" "413/113"
up "$A" "$R/e/attachment" -H 'Transfer-Encoding: chunked' -F "attachment=@$H_TMP/huge.bin"
h_check "chunked body growing over the limit: 413" h_eq "$S/$(B d.errno)" "413/113"
curl -s -u "$A" -o "$H_TMP/body" "$H_PUB$R/e"
h_check "refused uploads wrote no record" h_eq "$(B d.errno)" 111
h_check "no temporary file left" h_eq "$(find "$FILES/tmp" -type f | wc -l)" 0

# ---- the attachment object is the endpoint's own ----
up "$A" "$R/r1" -X PUT -H 'Content-Type: application/json' \
    --data-binary '{"data":{"attachment":{"hash":"00","location":"x","size":1}}}'
h_check "record write changing attachment: 400" \
    h_eq "$(err)" "400/999/Attachment metadata cannot be modified."
up "$A" "$R/r1" -X PATCH -H 'Content-Type: application/json' --data-binary '{"data":{"type":"z"}}'
h_check "record write keeping attachment: 200" h_eq "$S" 200
# A client that reads the record and writes it back (Kinto Admin's form does) sends the
# attachment object unchanged, with its keys in another order: allowed.
curl -s -u "$A" "$H_PUB$R/r1" | h_json 'JSON.stringify({data: Object.assign({}, d.data, {attachment: Object.fromEntries(Object.entries(d.data.attachment).reverse())})})' >"$H_TMP/back.json"
up "$A" "$R/r1" -X PUT -H 'Content-Type: application/json' --data-binary "@$H_TMP/back.json"
h_check "PUT sending back the unchanged attachment: 200" h_eq "$S/$(B d.data.type)" "200/z"
up "$A" "$R/x1" -X PUT -H 'Content-Type: application/json' \
    --data-binary '{"data":{"attachment":{"hash":"00"}}}'
h_check "new record may carry any attachment value (Kinto)" h_eq "$S" 201

# ---- DELETE ----
up "$A" "$R/r1/attachment" -X DELETE
h_check "DELETE: 204 empty" h_eq "$S/$(wc -c <"$H_TMP/body" 2>/dev/null || echo 0)" "204/0"
curl -s -u "$A" "$H_PUB$R/r1" >"$H_TMP/body"
h_check "attachment is null, other fields kept" h_eq "$(B '[d.data.attachment,d.data.type].join()')" ",z"
up "$A" "$R/nothere/attachment" -X DELETE
h_check "DELETE on a missing record: 404" h_eq "$S" 404

# ---- deduplication, concurrent uploads of one content ----
head -c 5000 /dev/urandom >"$H_TMP/same.bin"
CURLS=()
for i in 1 2 3 4; do
    curl -s -o "$H_TMP/same$i" -w '%{http_code}\n' -u "$A" -F "attachment=@$H_TMP/same.bin" \
        "$H_PUB$R/same$i/attachment" >"$H_TMP/same$i.st" &
    CURLS+=($!)
done
wait "${CURLS[@]}"
HS=$(sha "$H_TMP/same.bin")
h_check "four concurrent uploads of one content: all 201" h_eq "$(cat "$H_TMP"/same?.st | sort -u)" 201
h_check "stored once, intact" h_eq "$(sha "$FILES/${HS:0:2}/$HS")" "$HS"

R2=/buckets/b2/collections/c/records  # the second publisher's files are another directory
# ---- memory: a 100 MB upload is streamed (no limit on this publisher) ----
PUB2_DIR=$H_TMP/files2
H_PUB_PORT=$(h_free_port) HERALD_ATTACHMENT_MAX_SIZE_BYTES=0 HERALD_ATTACHMENTS_DIR=$PUB2_DIR \
    h_start_publisher
P2=$H_PUB P2_PID=$H_PUB_PID
curl -sf -u "$A" -X PUT "$P2/buckets/b2" >/dev/null
curl -sf -u "$A" -X PUT "$P2/buckets/b2/collections/c" >/dev/null
rss() { sed -n 's/^VmHWM:[^0-9]*\([0-9]*\).*/\1/p' "/proc/$1/status"; }
BEFORE=$(rss "$P2_PID")
head -c 100000000 /dev/urandom >"$H_TMP/big.bin"
S=$(curl -s -o "$H_TMP/body" -w '%{http_code}' -u "$A" -F "attachment=@$H_TMP/big.bin" "$P2$R2/big/attachment")
AFTER=$(rss "$P2_PID")
h_check "100 MB upload: 201 and the right hash" h_eq "$S/$(B d.hash)" "201/$(sha "$H_TMP/big.bin")"
h_log "     peak RSS before $BEFORE kB, after a 100 MB upload $AFTER kB"
h_check "peak RSS grew by less than 16 MB during it" test $((AFTER - BEFORE)) -lt 16384

# ---- kill -9 during an upload: no record, no partial file; the next upload works ----
rm -f "$H_TMP/big.bin"
head -c 30000000 /dev/urandom >"$H_TMP/k.bin"
HK=$(sha "$H_TMP/k.bin")
curl -s -o /dev/null -u "$A" --limit-rate 5M -F "attachment=@$H_TMP/k.bin" "$P2$R2/k/attachment" &
CURL_PID=$!
h_wait_for 10 sh -c "[ \$(find '$PUB2_DIR/tmp' -type f -size +1k | wc -l) -gt 0 ]"
kill -9 "$P2_PID"
wait "$CURL_PID" 2>/dev/null || true
wait "$P2_PID" 2>/dev/null || true
h_check "killed mid-upload: no file under the hash" test ! -e "$PUB2_DIR/${HK:0:2}/$HK"
h_redis KEYS '*' | grep -q 'b2/collections/c/records/k\b' && h_check "killed mid-upload: no record" false
H_PUB_PORT=${P2#http://127.0.0.1:} H_PUB_PORT=${H_PUB_PORT%/v1} HERALD_ATTACHMENT_MAX_SIZE_BYTES=0 \
    HERALD_ATTACHMENTS_DIR=$PUB2_DIR h_start_publisher
P2_PID=$H_PUB_PID
h_check "restart: the partial temporary file is removed" h_eq "$(find "$PUB2_DIR/tmp" -type f | wc -l)" 0
S=$(curl -s -o "$H_TMP/body" -w '%{http_code}' -u "$A" -F "attachment=@$H_TMP/k.bin" "$P2$R2/k/attachment")
h_check "the same upload then succeeds" h_eq "$S/$(B d.hash)" "201/$HK"

# ---- kill -9 during the record write (Redis held busy): the file is there first ----
head -c 2000000 /dev/urandom >"$H_TMP/w.bin"
HW=$(sha "$H_TMP/w.bin")
h_redis DEBUG SLEEP 3 >/dev/null &
SLEEP_PID=$!
sleep 0.3
curl -s -o /dev/null -u "$A" -F "attachment=@$H_TMP/w.bin" "$P2$R2/w/attachment" &
CURL_PID=$!
h_wait_for 10 test -e "$PUB2_DIR/${HW:0:2}/$HW"
kill -9 "$P2_PID"
wait "$CURL_PID" 2>/dev/null || true
wait "$SLEEP_PID" 2>/dev/null || true
h_check "killed during the record write: the file is complete" h_eq "$(sha "$PUB2_DIR/${HW:0:2}/$HW")" "$HW"
H_PUB_PORT=${P2#http://127.0.0.1:} H_PUB_PORT=${H_PUB_PORT%/v1} HERALD_ATTACHMENT_MAX_SIZE_BYTES=0 \
    HERALD_ATTACHMENTS_DIR=$PUB2_DIR h_start_publisher
curl -s -u "$A" "$P2$R2?_fields=attachment" >"$H_TMP/body"
BAD=$(B 'd.data.filter(r => r.attachment).map(r => r.attachment.hash).join(" ")')
for h in $BAD; do
    h_check "record names $h: the file exists and matches" h_eq "$(sha "$PUB2_DIR/${h:0:2}/$h")" "$h"
done
S=$(curl -s -o "$H_TMP/body" -w '%{http_code}' -u "$A" -F "attachment=@$H_TMP/w.bin" "$P2$R2/w/attachment")
h_check "after restart the same upload succeeds" h_eq "$S/$(B d.hash)" "20${S: -1}/$HW"

h_finish
