#!/usr/bin/env bash
# Bad-input matrix (issue 6): every case is sent to the publisher or the read server and
# must get the expected status with an error body in Kinto's format
# ({"code","errno","error","message"}, code equal to the status), and leave Redis exactly
# as it was (DEBUG DIGEST before and after). The signer is stopped after the setup, so
# nothing else writes to Redis while the cases run.
source "$(dirname "$0")/../support/harness.sh"

h_start_pipeline

h_check "setup" h_eq "$(h_public_collection b c)$(h_put /buckets/b/collections/c/records/r '{"data":{"x":1}}')" 201201201
V=$(h_redis GET 'herald:ts:/buckets/b/collections/c:record')
h_check "setup is served" h_wait_for 20 bash -c "curl -s -D - -o /dev/null '$H_SRV/buckets/b/collections/c/changeset' | grep -q '\"$V\"'"
kill -TERM "$H_SIGNER_PID"
wait "$H_SIGNER_PID" 2>/dev/null || true

CASES=$H_TMP/cases
mkdir -p "$CASES"
n=0
long=$(head -c 20000 /dev/zero | tr '\0' 'a')
deep=$(printf '%0.s[' $(seq 1 200))1$(printf '%0.s]' $(seq 1 200))

# case NAME TARGET(pub|srv) STATUS ERRNO CURL-ARGS... (path relative to /v1 after a '/')
case_() {
    local name=$1 target=$2 status=$3 errno=$4
    shift 4
    local base=$H_PUB
    [ "$target" = srv ] && base=$H_SRV
    n=$((n + 1))
    local before after code
    before=$(h_redis DEBUG DIGEST)
    code=$(curl -s -m 10 -o "$CASES/$n.body" -w '%{http_code}' "${@/#\//$base/}" 2>/dev/null || true)
    after=$(h_redis DEBUG DIGEST)
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$name" "$status" "$errno" "$code" \
        "$([ "$before" = "$after" ] && echo same || echo CHANGED)" >>"$CASES/index.tsv"
}
A=(-u "$H_AUTH")
J=(-H 'Content-Type: application/json')
R=buckets/b/collections/c/records

# --- publisher: bodies ---
case_ "malformed JSON"               pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":' /$R/n1
case_ "truncated JSON"               pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":{"a":1}' /$R/n1
case_ "trailing garbage"             pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":{}} x' /$R/n1
case_ "body is an array"             pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '[1,2]' /$R/n1
case_ "body is a string"             pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '"x"' /$R/n1
case_ "data is a string"             pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":"x"}' /$R/n1
case_ "data is an array"             pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":[1]}' /$R/n1
case_ "data is null"                 pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":null}' /$R/n1
case_ "permissions is an array"      pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":{},"permissions":[]}' /$R/n1
case_ "permission is a string"       pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":{},"permissions":{"read":"x"}}' /$R/n1
case_ "unknown permission"           pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":{},"permissions":{"fly":["x"]}}' /$R/n1
case_ "principal is a number"        pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":{},"permissions":{"read":[1]}}' /$R/n1
case_ "duplicate keys"               pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":{"a":1,"a":2}}' /$R/n1
case_ "duplicate keys, top level"    pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":{},"data":{}}' /$R/n1
case_ "NUL escape in a string"       pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":{"a":"x\u0000y"}}' /$R/n1
case_ "NUL escape in a key"          pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":{"a\u0000":1}}' /$R/n1
case_ "raw NUL byte"                 pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary $'{"data":{"a":"x\x01"}}' /$R/n1
case_ "integer 2^53"                 pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":{"a":9007199254740992}}' /$R/n1
case_ "integer -2^53"                pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":{"a":-9007199254740992}}' /$R/n1
case_ "integer beyond int64"         pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":{"a":123456789012345678901234}}' /$R/n1
case_ "number overflow 1e400"        pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":{"a":1e400}}' /$R/n1
case_ "NaN literal"                  pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":{"a":NaN}}' /$R/n1
case_ "invalid UTF-8 byte"           pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary $'{"data":{"a":"\xff"}}' /$R/n1
case_ "overlong UTF-8"               pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary $'{"data":{"a":"\xc0\xaf"}}' /$R/n1
case_ "UTF-8 surrogate bytes"        pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary $'{"data":{"a":"\xed\xa0\x80"}}' /$R/n1
case_ "lone surrogate escape"        pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":{"a":"\ud800"}}' /$R/n1
case_ "deep nesting"                 pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary "{\"data\":{\"a\":$deep}}" /$R/n1
case_ "id in body differs from URL"  pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":{"id":"other"}}' /$R/n1
case_ "id in body is a number"       pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":{"id":5}}' /$R/n1
case_ "empty body on PUT"            pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '' /$R/n1
case_ "Content-Type text/plain"      pub 415 107 "${A[@]}" -H 'Content-Type: text/plain' -X PUT --data-binary '{"data":{}}' /$R/n1
case_ "Content-Type form"            pub 415 107 "${A[@]}" -H 'Content-Type: application/x-www-form-urlencoded' -X PUT --data-binary '{"data":{}}' /$R/n1
head -c $((12 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$H_TMP/huge"
printf '{"data":{}}' >>"$H_TMP/huge"
case_ "huge body (12 MiB)"           pub 413 113 "${A[@]}" "${J[@]}" -X PUT --data-binary "@$H_TMP/huge" /$R/n1
# --- publisher: ids and paths ---
case_ "id with a space"              pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":{}}' "/$R/a%20b"
case_ "id with a dot"                pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":{}}' /$R/a.b
case_ "id starting with a dash"      pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":{}}' /$R/-ab
case_ "id too long"                  pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":{}}' "/$R/${long:0:300}"
case_ "id with CRLF"                 pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":{}}' "/$R/a%0d%0aSet-Cookie:x"
case_ "id with encoded slash"        pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":{}}' "/$R/a%2Fb"
case_ "id with NUL"                  pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":{}}' "/$R/a%00b"
case_ "invalid bucket id"            pub 400 107 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":{}}' "/buckets/b%21"
case_ "path traversal"               pub 404 111 "${A[@]}" --path-as-is /buckets/b/collections/c/../../../accounts
case_ "encoded traversal"            pub 404 111 "${A[@]}" /buckets/b/collections/c/%2e%2e/%2e%2e
case_ "unknown path"                 pub 404 111 "${A[@]}" /nowhere
case_ "unknown method"               pub 405 115 "${A[@]}" -X FOO /$R/r
case_ "TRACE"                        pub 405 115 "${A[@]}" -X TRACE /$R/r
case_ "missing record"               pub 404 111 "${A[@]}" /$R/nope
case_ "record in missing collection" pub 404 111 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":{}}' /buckets/b/collections/nope/records/x
case_ "collection in missing bucket" pub 404 111 "${A[@]}" "${J[@]}" -X PUT --data-binary '{"data":{}}' /buckets/nope/collections/x
# --- publisher: conditional requests and querystrings ---
case_ "If-Match garbage"             pub 400 107 "${A[@]}" "${J[@]}" -H 'If-Match: abc' -X PUT --data-binary '{"data":{}}' /$R/r
case_ "If-Match unquoted number"     pub 400 107 "${A[@]}" "${J[@]}" -H 'If-Match: 123' -X PUT --data-binary '{"data":{}}' /$R/r
case_ "If-None-Match garbage"        pub 400 107 "${A[@]}" -H 'If-None-Match: "abc"' /$R/r
case_ "If-Match mismatch"            pub 412 114 "${A[@]}" "${J[@]}" -H 'If-Match: "1"' -X PUT --data-binary '{"data":{"y":2}}' /$R/r
case_ "If-None-Match * on existing"  pub 412 114 "${A[@]}" "${J[@]}" -H 'If-None-Match: *' -X PUT --data-binary '{"data":{"y":2}}' /$R/r
case_ "bad _since"                   pub 400 107 "${A[@]}" "/$R?_since=abc"
case_ "bad _before"                  pub 400 107 "${A[@]}" "/$R?_before=abc"
case_ "boolean _since"               pub 400 107 "${A[@]}" "/$R?_since=true"
case_ "_limit beyond 2^63"           pub 400 107 "${A[@]}" "/$R?_limit=99999999999999999999"
case_ "last_modified filter not int" pub 400 107 "${A[@]}" "/$R?gt_last_modified=abc"
case_ "bad _limit"                   pub 400 107 "${A[@]}" "/$R?_limit=abc"
case_ "negative _limit"              pub 400 107 "${A[@]}" "/$R?_limit=-1"
case_ "bad _token"                   pub 400 107 "${A[@]}" "/$R?_token=not-a-token"
# --- publisher: authentication ---
case_ "no credentials on a write"    pub 401 104 "${J[@]}" -X PUT --data-binary '{"data":{}}' /$R/n2
case_ "wrong password"               pub 401 104 -u admin:wrong "${J[@]}" -X PUT --data-binary '{"data":{}}' /$R/n2
case_ "unknown user"                 pub 401 104 -u nobody:wrong "${J[@]}" -X PUT --data-binary '{"data":{}}' /$R/n2
case_ "Basic not base64"             pub 401 104 -H 'Authorization: Basic %%%' "${J[@]}" -X PUT --data-binary '{"data":{}}' /$R/n2
case_ "Basic without a colon"        pub 401 104 -H "Authorization: Basic $(printf admin | base64)" "${J[@]}" -X PUT --data-binary '{"data":{}}' /$R/n2
case_ "unknown auth scheme"          pub 401 104 -H 'Authorization: Bearer abc' "${J[@]}" -X PUT --data-binary '{"data":{}}' /$R/n2
case_ "duplicate Authorization"      pub 401 104 -H "Authorization: Basic $(printf 'admin:wrong' | base64)" -H "Authorization: Basic $(printf '%s' "$H_AUTH" | base64)" "${J[@]}" -X PUT --data-binary '{"data":{}}' /$R/n2
# --- read server ---
CSP=/buckets/b/collections/c/changeset
case_ "srv: bad _since"              srv 400 107 "$CSP?_since=abc"
case_ "srv: bad quoted _since"       srv 400 107 "$CSP?_since=%22abc%22"
case_ "srv: negative _since"         srv 400 107 "$CSP?_since=-5"
case_ "srv: bad _limit"              srv 400 107 "$CSP?_limit=x"
case_ "srv: monitor bad _since"      srv 400 107 "/buckets/monitor/collections/changes/changeset?_since=zz"
case_ "srv: unknown collection"      srv 404 111 /buckets/b/collections/nope/changeset
case_ "srv: unknown bucket"          srv 404 111 /buckets/nope/collections/c/changeset
case_ "srv: unknown path"            srv 404 111 /nowhere
case_ "srv: POST changeset"          srv 405 115 -X POST --data-binary x "$CSP"
case_ "srv: DELETE changeset"        srv 405 115 -X DELETE "$CSP"
case_ "srv: path traversal"          srv 404 111 --path-as-is /buckets/b/collections/c/../../../../etc/passwd
case_ "srv: encoded slash in id"     srv 404 111 /buckets/b%2Fc/collections/c/changeset
case_ "srv: CRLF in path (no such id)" srv 404 111 "/buckets/b%0d%0aX:y/collections/c/changeset"
case_ "srv: overlong request line"   srv 414 107 "$CSP?_since=${long}${long}"
case_ "srv: huge header"             srv 431 107 -H "X-Big: ${long}${long}${long}${long}" "$CSP"

# raw_ NAME TARGET STATUS ERRNO PRINTF-FORMAT: sends bytes curl will not send.
raw_() {
    local name=$1 target=$2 status=$3 errno=$4 port=$H_PUB_PORT
    [ "$target" = srv ] && port=$H_SRV_PORT
    n=$((n + 1))
    local before after
    before=$(h_redis DEBUG DIGEST)
    exec 3<>/dev/tcp/127.0.0.1/"$port"
    (trap '' PIPE; printf "$5" >&3) 2>/dev/null || true # the server may close early
    timeout 5 cat <&3 >"$CASES/$n.raw" || true
    exec 3<&-
    after=$(h_redis DEBUG DIGEST)
    local code
    code=$(head -1 "$CASES/$n.raw" | cut -d' ' -f2)
    sed '1,/^\r$/d' "$CASES/$n.raw" >"$CASES/$n.body"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$name" "$status" "$errno" "$code" \
        "$([ "$before" = "$after" ] && echo same || echo CHANGED)" >>"$CASES/index.tsv"
}
raw_ "srv: HTTP/2.0 request line"    srv 505 999 "GET $CSP HTTP/2.0\r\nHost: x\r\nConnection: close\r\n\r\n"
raw_ "srv: NUL in request line"      srv 400 107 "GET /v1/buck\0ets HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
raw_ "srv: header without colon"     srv 400 107 "GET /v1$CSP HTTP/1.1\r\nHost x\r\nConnection: close\r\n\r\n"
raw_ "srv: CR in header value"       srv 400 107 "GET /v1$CSP HTTP/1.1\r\nHost: x\rInjected: y\r\nConnection: close\r\n\r\n"
raw_ "srv: garbage method"           srv 400 107 "G@T /v1$CSP HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
raw_ "srv: duplicate Content-Length" srv 400 107 "GET /v1$CSP HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n"
# The publisher frames requests with the same parser (publisher/httpd.c): protocol
# errors get Kinto's JSON too, never libevent's HTML page (as before that engine).
PUTH="PUT /v1/$R/n4 HTTP/1.1\r\nHost: x\r\n@H@Authorization: Basic $(printf '%s' "$H_AUTH" | base64)\r\nContent-Type: application/json\r\nConnection: close\r\n"
raw_ "pub: NUL in request line"      pub 400 107 "GET /v1/buck\0ets HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
raw_ "pub: header without colon"     pub 400 107 "GET /v1/ HTTP/1.1\r\nHost x\r\nConnection: close\r\n\r\n"
raw_ "pub: CR in header value"       pub 400 107 "GET /v1/ HTTP/1.1\r\nHost: x\rInjected: y\r\nConnection: close\r\n\r\n"
raw_ "pub: obs-fold header"          pub 400 107 "GET /v1/ HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\nConnection: close\r\n\r\n"
raw_ "pub: HTTP/2.0 request line"    pub 505 999 "GET /v1/ HTTP/2.0\r\nHost: x\r\nConnection: close\r\n\r\n"
raw_ "pub: garbage version"          pub 400 107 "GET /v1/ HTTP/x\r\nHost: x\r\nConnection: close\r\n\r\n"
raw_ "pub: no request target"        pub 400 107 "GET HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
raw_ "pub: overlong request line"    pub 414 107 "GET /v1/?a=${long}${long} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
raw_ "pub: header section too large" pub 431 107 "GET /v1/ HTTP/1.1\r\nHost: x\r\nX-Big: ${long}${long}${long}${long}${long}${long}${long}\r\nConnection: close\r\n\r\n"
raw_ "pub: bad Content-Length"       pub 400 107 "${PUTH/@H@/"Content-Length: abc\r\n"}\r\n{}"
raw_ "pub: duplicate Content-Length" pub 400 107 "${PUTH/@H@/"Content-Length: 2\r\nContent-Length: 3\r\n"}\r\n{}"
raw_ "pub: Transfer-Encoding gzip"   pub 501 999 "${PUTH/@H@/"Transfer-Encoding: gzip\r\n"}\r\n{}"
raw_ "pub: chunked + Content-Length" pub 400 107 "${PUTH/@H@/"Transfer-Encoding: chunked\r\nContent-Length: 2\r\n"}\r\n2\r\n{}\r\n0\r\n\r\n"
raw_ "pub: bad chunk size"           pub 400 107 "${PUTH/@H@/"Transfer-Encoding: chunked\r\n"}\r\nzz\r\n{}\r\n0\r\n\r\n"
raw_ "pub: chunk without its CRLF"   pub 400 107 "${PUTH/@H@/"Transfer-Encoding: chunked\r\n"}\r\n2\r\n{}XX0\r\n\r\n"
raw_ "pub: declared body too large"  pub 413 113 "${PUTH/@H@/"Content-Length: 99999999999\r\n"}\r\n{}"
raw_ "pub: truncated body (Content-Length)" pub 400 107 "PUT /v1/$R/n3 HTTP/1.1\r\nHost: x\r\nAuthorization: Basic $(printf '%s' "$H_AUTH" | base64)\r\nContent-Type: application/json\r\nContent-Length: 4\r\nConnection: close\r\n\r\n{\"da"

h_log "bad-input matrix: $n cases"
node -e '
const fs = require("fs"); const dir = process.argv[1];
let failed = 0;
for (const line of fs.readFileSync(dir + "/index.tsv", "utf8").trim().split("\n")) {
  const [n, name, status, errno, code, redis] = line.split("\t");
  const problems = [];
  if (code !== status) problems.push(`status ${code}, expected ${status}`);
  if (redis !== "same") problems.push("Redis changed");
  let body = null;
  if (errno !== "NOT-JSON") {
    try { body = JSON.parse(fs.readFileSync(`${dir}/${n}.body`, "utf8")); } catch (e) { problems.push("body is not JSON"); }
  }
  if (body) {
    if (body.code !== Number(status)) problems.push(`body code ${body.code}`);
    if (body.errno !== Number(errno)) problems.push(`errno ${body.errno}, expected ${errno}`);
    if (typeof body.error !== "string" || typeof body.message !== "string") problems.push("error/message missing");
  }
  if (problems.length) { failed++; console.log(`FAIL - ${name}: ${problems.join("; ")}`); }
  else console.log(`ok   - ${name}`);
}
process.exit(failed ? 1 : 0);
' "$CASES" >"$H_TMP/matrix.out" 2>&1 && matrix_ok=1 || matrix_ok=0
cat "$H_TMP/matrix.out" >&2
H_CHECKS=$((H_CHECKS + n))
H_FAILED=$((H_FAILED + $(grep -c '^FAIL' "$H_TMP/matrix.out" || true)))
h_check "wrong password and unknown user get the same answer" cmp -s "$CASES/$(awk -F'\t' '$2=="wrong password"{print $1}' "$CASES/index.tsv").body" "$CASES/$(awk -F'\t' '$2=="unknown user"{print $1}' "$CASES/index.tsv").body"
h_finish
