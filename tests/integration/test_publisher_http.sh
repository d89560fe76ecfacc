#!/usr/bin/env bash
# The publisher's HTTP/1.1 layer over real sockets: keep-alive, pipelining, connection
# close rules, chunked request bodies, HEAD and 304 framing, protocol errors in Kinto's
# JSON format (each closes the connection and leaves Redis untouched), the request-head
# and idle timeouts, and closing idle connections on SIGTERM. Raw requests go through
# bash's /dev/tcp; every read is bounded by `timeout` or `read -t`.
source "$(dirname "$0")/../support/harness.sh"
export LC_ALL=C # byte lengths for ${#s} and `read -N`

h_start_redis
h_start_publisher
P1=$H_PUB_PORT P1_PID=$H_PUB_PID
AUTHB64=$(printf '%s' "$H_AUTH" | base64 -w0)
R=/v1/buckets/b/collections/c/records

# Every wait for something the publisher does at once (an answer, a close) is bounded by
# BOUND seconds: far above any slowness of a loaded machine, and far below the 60 s idle
# timeout that would otherwise close a connection the publisher forgot. No check here
# depends on how fast anything is; benchmarks/bench_timeouts.sh measures the delays.
BOUND=20

# resp FILE EXPRESSION [head]: parses the raw HTTP response bytes in FILE and prints
# EXPRESSION, evaluated with `r` = the first response ({status, headers (lower-case
# names), body, json (parsed body or null), rest (bytes after its Content-Length)}) and
# `err(s, e)` = "ok" if r is a Kinto error with status s and errno e, else the problems.
# With "head", the first response has no body whatever its Content-Length.
cat >"$H_TMP/resp.cjs" <<'EOF'
const fs = require("fs");
const [file, expr, mode] = process.argv.slice(2);
const raw = fs.readFileSync(file, "latin1");
const r = { status: 0, headers: {}, body: "", json: null, rest: "", complete: false, bytes: raw.length };
const end = raw.indexOf("\r\n\r\n");
if (end >= 0) {
  const lines = raw.slice(0, end).split("\r\n");
  r.statusLine = lines[0];
  r.status = Number(lines[0].split(" ")[1]);
  for (const l of lines.slice(1)) {
    const k = l.indexOf(":");
    if (k > 0) r.headers[l.slice(0, k).trim().toLowerCase()] = l.slice(k + 1).trim();
  }
  const after = raw.slice(end + 4);
  const cl = r.headers["content-length"];
  const len = mode === "head" || r.status === 304 ? 0 : cl !== undefined ? Number(cl) : after.length;
  r.body = after.slice(0, len);
  r.rest = after.slice(len);
  r.complete = r.body.length === len;
  try { r.json = JSON.parse(Buffer.from(r.body, "latin1").toString("utf8")); } catch (e) {}
}
function err(s, e) {
  const p = [];
  if (!r.statusLine) return `no complete response head (${r.bytes} bytes)`;
  if (r.status !== s) p.push(`status ${r.status} (${r.statusLine})`);
  if (!r.complete) p.push("body shorter than Content-Length");
  if (!r.json) p.push(`body is not JSON: ${JSON.stringify(r.body.slice(0, 80))}`);
  else {
    if (r.json.code !== s) p.push(`code ${r.json.code}`);
    if (r.json.errno !== e) p.push(`errno ${r.json.errno}`);
    if (typeof r.json.error !== "string" || typeof r.json.message !== "string") p.push("error/message missing");
  }
  if (!/^application\/json\b/i.test(r.headers["content-type"] || "")) p.push(`Content-Type ${r.headers["content-type"]}`);
  if (!/\bclose\b/i.test(r.headers["connection"] || "")) p.push(`Connection: ${r.headers["connection"]}`);
  if (r.rest.length) p.push(`${r.rest.length} bytes after the response`);
  return p.length ? p.join("; ") : "ok";
}
const v = eval(expr);
process.stdout.write(typeof v === "string" ? v : JSON.stringify(v));
EOF
resp() { node "$H_TMP/resp.cjs" "$@"; }

# raw PORT PAYLOAD-FILE OUT: connects, writes PAYLOAD-FILE (in the background: the
# server may answer and stop reading before the end), and reads until the server closes
# or BOUND seconds pass. RAW_RC: 124 if the connection was still open then.
raw() {
    local port=$1 in=$2 out=$3 wpid
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    timeout "$BOUND" cat "$in" >&3 2>/dev/null &
    wpid=$!
    RAW_RC=0
    timeout "$BOUND" cat <&3 >"$out" 2>/dev/null || RAW_RC=$?
    exec 3<&-
    kill "$wpid" 2>/dev/null || true
    wait "$wpid" 2>/dev/null || true
}
P=$H_TMP/payload
OUT=$H_TMP/out

# read_resp: reads one Content-Length-framed response from fd 3, leaving the connection
# open; sets RS (status), RH (head) and RB (body). Fails on EOF or after BOUND seconds.
read_resp() {
    local line len=0
    RS='' RH='' RB=''
    IFS= read -r -t "$BOUND" line <&3 || return 1
    line=${line%$'\r'}
    RS=${line#* } RS=${RS%% *} RH=$line$'\n'
    while IFS= read -r -t "$BOUND" line <&3; do
        line=${line%$'\r'}
        [ -z "$line" ] && break
        RH+=$line$'\n'
        case ${line,,} in content-length:*) len=${line#*:} len=${len//[[:space:]]/} ;; esac
    done
    [ "$len" -gt 0 ] || return 0
    IFS= read -r -N "$len" -t "$BOUND" RB <&3
}
# wait_eof: reads fd 3 until EOF or BOUND seconds; EOF_RC 0 (EOF) or 124, EOF_BYTES.
wait_eof() {
    EOF_RC=0
    timeout "$BOUND" cat <&3 >"$H_TMP/eof" 2>/dev/null || EOF_RC=$?
    EOF_BYTES=$(wc -c <"$H_TMP/eof" | tr -d ' ')
}

h_check "setup: bucket and collection" h_eq "$(h_put /buckets/b '{"data":{}}')$(h_put /buckets/b/collections/c '{"data":{}}')" 201201
stored() { h_redis HGET 'herald:objs:/buckets/b/collections/c:record' "$1"; }

# ---- 1. keep-alive ----
out=$(curl -s -m 10 -o /dev/null -o /dev/null -w '%{http_code} %{num_connects}\n' "$H_PUB/" "$H_PUB/__version__" |
    awk '{c = c $1 " "; n += $2} END {print c n}')
h_check "keep-alive: two GETs on one connection" h_eq "$out" "200 200 1"
out=$(curl -s -m 10 -w '%{http_code} %{num_connects}\n' -o /dev/null -u "$H_AUTH" -X PUT -H 'Content-Type: application/json' \
    --data-binary '{"data":{"k":"ka"}}' "$H_PUB/buckets/b/collections/c/records/ka" \
    --next -s -m 10 -w '%{http_code} %{num_connects}\n' -o /dev/null -u "$H_AUTH" "$H_PUB/buckets/b/collections/c/records/ka" |
    awk '{c = c $1 " "; n += $2} END {print c n}')
h_check "keep-alive: PUT with a body, then GET, on one connection" h_eq "$out" "201 200 1"

# ---- 2. pipelining ----
exec 3<>"/dev/tcp/127.0.0.1/$P1"
printf 'GET /v1/ HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/__version__ HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/__heartbeat__ HTTP/1.1\r\nHost: x\r\n\r\n' >&3
got=''
for m in http_api_version '"name":"herald"' '"storage"'; do
    read_resp || { got+="(no response) "; break; }
    got+="$RS:$(grep -qF -- "$m" <<<"$RB" && echo ok || echo wrong-body) "
done
exec 3<&-
h_check "pipelining: three GETs written at once, three answers in order" h_eq "$got" "200:ok 200:ok 200:ok "
body='{"data":{"k":"piped"}}'
exec 3<>"/dev/tcp/127.0.0.1/$P1"
printf 'PUT %s/pp HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%sGET %s/pp HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\n\r\n' \
    "$R" "$AUTHB64" "${#body}" "$body" "$R" "$AUTHB64" >&3
got=''
for _ in 1 2; do
    read_resp || { got+="(no response) "; break; }
    got+="$RS:$(h_json d.data.k <<<"$RB" 2>/dev/null || true) "
done
exec 3<&-
h_check "pipelining: PUT with a body and a GET written at once" h_eq "$got" "201:piped 200:piped "

# ---- 3. connection close ----
printf 'GET /v1/ HTTP/1.0\r\nHost: x\r\n\r\n' >"$P"
raw "$P1" "$P" "$OUT"
h_check "HTTP/1.0 without keep-alive: 200, then the server closes" h_eq "$(resp "$OUT" 'r.status+" "+r.complete+" "+(r.json&&r.json.project_name)')/$RAW_RC" "200 true herald/0"
printf 'GET /v1/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >"$P"
raw "$P1" "$P" "$OUT"
h_check "HTTP/1.1 Connection: close: answered with Connection: close, then closed" h_eq "$(resp "$OUT" 'r.status+" "+r.complete+" "+r.headers.connection')/$RAW_RC" "200 true close/0"

# ---- 4. chunked request bodies ----
big=$(head -c 100000 /dev/zero | tr '\0' x)
printf '{"data":{"k":"curl","big":"%s"}}' "$big" >"$H_TMP/chunked.json"
code=$(curl -s -v -m 10 -o "$H_TMP/body" -w '%{http_code}' -u "$H_AUTH" -X PUT \
    -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary "@$H_TMP/chunked.json" \
    "$H_PUB/buckets/b/collections/c/records/ch1" 2>"$H_TMP/curl-v" || true)
# curl did send it chunked (its request headers are the "> " lines of -v).
sent_chunked=$(grep -qi '^> Transfer-Encoding: chunked' "$H_TMP/curl-v" && ! grep -qi '^> Content-Length' "$H_TMP/curl-v" && echo yes || echo no)
h_check "chunked body (curl, 100 kB): 201" h_eq "$code/$sent_chunked" "201/yes"
h_check "chunked body (curl): stored with the right data" h_eq "$(stored ch1 | h_json 'd.k+" "+d.big.length' 2>/dev/null || true)" "curl 100000"
chunk() { printf '%x%s\r\n%s\r\n' "${#1}" "${2:-}" "$1"; }
# chunked_put ID EXT1 EXT3: a PUT of ID whose body comes in 3 chunks (the first and the
# last with the chunk extensions EXT1, EXT3), then a trailer header.
chunked_put() {
    printf 'PUT %s/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' "$R" "$1" "$AUTHB64"
    chunk '{"data"' "$2"
    chunk ":{\"k\":\"$1\","
    chunk '"n":[1,2,3]}}' "$3"
    printf '0\r\nX-Trailer: t\r\n\r\n'
}
chunked_put ch2 '' '' >"$P"
raw "$P1" "$P" "$OUT"
h_check "chunked body (raw: 3 chunks, a trailer): 201" h_eq "$(resp "$OUT" 'r.status+" "+(r.json&&r.json.data.k)')" "201 ch2"
h_check "chunked body (raw, trailer): stored with the right data" h_eq "$(stored ch2 | h_json 'd.k+" "+d.n.join()' 2>/dev/null || true)" "ch2 1,2,3"
chunked_put ch3 ';x=y' ';a=b;c="d"' >"$P"
raw "$P1" "$P" "$OUT"
h_check "chunked body (raw: chunk extensions ;x=y, a trailer): 201" h_eq "$(resp "$OUT" 'r.status+" "+(r.json&&r.json.data.k)')" "201 ch3"
h_check "chunked body (raw, extensions): stored with the right data" h_eq "$(stored ch3 | h_json 'd.k+" "+d.n.join()' 2>/dev/null || true)" "ch3 1,2,3"

# ---- 5. HEAD ----
printf 'GET /v1/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >"$P"
raw "$P1" "$P" "$OUT"
get_len=$(resp "$OUT" 'r.complete ? r.headers["content-length"] : "incomplete"')
printf 'HEAD /v1/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >"$P"
raw "$P1" "$P" "$OUT"
h_check "HEAD /v1/: 200, the Content-Length of the GET ($get_len), no body" \
    h_eq "$(resp "$OUT" 'r.status+" "+r.headers["content-length"]+" "+r.rest.length' head)/$RAW_RC" "200 $get_len 0/0"

# ---- 6. 304 ----
h_check "setup: record for 304" h_eq "$(h_put /buckets/b/collections/c/records/e '{"data":{"k":"e"}}')" 201
etag=$(curl -s -m 10 -D - -o /dev/null -u "$H_AUTH" "$H_PUB/buckets/b/collections/c/records/e" | tr -d '\r' | sed -n 's/^etag: //Ip')
printf 'GET %s/e HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\nIf-None-Match: %s\r\nConnection: close\r\n\r\n' "$R" "$AUTHB64" "$etag" >"$P"
raw "$P1" "$P" "$OUT"
h_check "If-None-Match: current ETag ($etag) -> 304 without a body" h_eq "$(resp "$OUT" 'r.status+" "+r.rest.length')/$RAW_RC" '304 0/0'

# ---- 7. protocol errors: Kinto JSON, Connection: close, server closes, Redis unchanged ----
# bad NAME STATUS ERRNO: sends $P (no Connection: close in it) to the publisher.
bad() {
    local name=$1 status=$2 errno=$3 before after res
    before=$(h_redis DEBUG DIGEST)
    raw "$P1" "$P" "$OUT"
    after=$(h_redis DEBUG DIGEST)
    res=$(resp "$OUT" "err($status, $errno)")
    [ "$RAW_RC" = 124 ] && res+="; not closed within $BOUND s"
    [ "$before" = "$after" ] || res+="; Redis changed"
    h_check "$name -> $status/$errno" h_eq "$res" ok
}
printf 'GET /v1/buck\0ets HTTP/1.1\r\nHost: x\r\n\r\n' >"$P"
bad "NUL byte in the request line" 400 107
printf 'GET /v1/ HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n' >"$P"
bad "header line without a colon" 400 107
printf 'GET /v1/ HTTP/1.1\r\nHost: x\r\nX-A: a\r\n folded\r\n\r\n' >"$P"
bad "obs-fold header line" 400 107
printf 'GET /v1/ HTTP/2.0\r\nHost: x\r\n\r\n' >"$P"
bad "HTTP/2.0 request line" 505 999
printf 'GET /v1/?q=%s HTTP/1.1\r\nHost: x\r\n\r\n' "$(head -c 17000 /dev/zero | tr '\0' a)" >"$P"
bad "request line over 16384 bytes" 414 107
v=$(head -c 14000 /dev/zero | tr '\0' v)
{ printf 'GET /v1/ HTTP/1.1\r\nHost: x\r\n'; for i in 1 2 3 4 5; do printf 'X-Big-%d: %s\r\n' "$i" "$v"; done; printf '\r\n'; } >"$P"
bad "header section over 65536 bytes (lines of 14 kB)" 431 107
{ printf 'GET /v1/ HTTP/1.1\r\nHost: x\r\n'; for i in $(seq 1 130); do printf 'X-H%d: v\r\n' "$i"; done; printf '\r\n'; } >"$P"
bad "more than 128 headers" 431 107
HEAD_PUT=$(printf 'PUT %s/bad HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\nContent-Type: application/json\r\n.' "$R" "$AUTHB64")
HEAD_PUT=${HEAD_PUT%.} # the dot kept $(...) from dropping the last CRLF
printf '%sTransfer-Encoding: gzip\r\n\r\n' "$HEAD_PUT" >"$P"
bad "Transfer-Encoding: gzip" 501 999
body='{"data":{}}'
printf '%sContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n' "$HEAD_PUT" "${#body}" "${#body}" "$body" >"$P"
bad "Content-Length with Transfer-Encoding: chunked" 400 107
printf '%sTransfer-Encoding: chunked\r\n\r\nzz\r\n%s\r\n0\r\n\r\n' "$HEAD_PUT" "$body" >"$P"
bad "invalid chunk size" 400 107
printf '%sContent-Length: 8388609\r\n\r\n' "$HEAD_PUT" >"$P"
bad "Content-Length over max_request_body_bytes, answered before the body" 413 113
{
    printf '%sTransfer-Encoding: chunked\r\n\r\n' "$HEAD_PUT"
    for _ in $(seq 1 9); do
        printf '100000\r\n'
        head -c $((0x100000)) /dev/zero | tr '\0' y
        printf '\r\n'
    done
    printf '0\r\n\r\n'
} >"$P"
bad "chunked body growing past max_request_body_bytes" 413 113

# ---- 8, 9. timeouts: a second publisher ----
# The idle timeout (1 s) is deliberately shorter than the header timeout (2 s): a
# request head that has started is timed by the header timeout and gets its 408; only a
# connection between requests is closed silently after the idle timeout.
H_PUB_PORT=
if h_start_publisher --publisher_header_timeout_seconds 2 --publisher_idle_timeout_seconds 1; then
    P2_flags=yes
else
    P2_flags=no
    h_log "     (publisher refused the timeout settings; continuing with its defaults)"
    H_PUB_PORT=
    h_start_publisher
fi
h_check "publisher accepts publisher_header_timeout_seconds and publisher_idle_timeout_seconds" h_eq "$P2_flags" yes
P2=$H_PUB_PORT
# A request head trickled one header line every 0.4 s for 8 s, never completed: the 408
# must come while the head is still arriving (the header timeout runs from its first
# byte; lines arriving do not extend it, and 2 s is well inside the 8 s), and not before
# the header timeout, counted from before the connect: a bound a slow machine can only
# lengthen. The writer leaves the "trickled" mark only if it wrote every line.
rm -f "$H_TMP/trickled"
t0=$(h_now_ms)
exec 3<>"/dev/tcp/127.0.0.1/$P2"
{
    printf 'GET /v1/ HTTP/1.1\r\nHost: x\r\n' || exit
    for i in $(seq 1 20); do
        sleep 0.4
        printf 'X-Line-%d: t\r\n' "$i" || exit
    done
    : >"$H_TMP/trickled"
} >&3 2>/dev/null &
wpid=$!
timeout "$BOUND" cat <&3 >"$OUT" 2>/dev/null && rc=0 || rc=$?
elapsed=$(($(h_now_ms) - t0))
head_state=$([ -e "$H_TMP/trickled" ] && echo complete || echo arriving)
exec 3<&-
kill "$wpid" 2>/dev/null || true
wait "$wpid" 2>/dev/null || true
res=$(resp "$OUT" 'err(408, 107)')
[ "$rc" = 124 ] && res+="; not closed within $BOUND s"
h_check "trickled request head -> 408/107 and close after the header timeout (2 s)" h_eq "$res" ok
h_check "  while the head was still arriving" h_eq "$head_state" arriving
h_check "  not before the header timeout (>= 1500 ms since before the connect)" test "$elapsed" -ge 1500

# The idle timeout closes a kept-alive connection silently: EOF within BOUND (far below
# the 60 s default, so it is the 1 s setting), and not early: at least 500 ms after the
# request was sent, before which the idle timer cannot have started.
t0=$(h_now_ms)
exec 3<>"/dev/tcp/127.0.0.1/$P2"
printf 'GET /v1/ HTTP/1.1\r\nHost: x\r\n\r\n' >&3
read_resp || RS="(none)"
wait_eof
elapsed=$(($(h_now_ms) - t0))
exec 3<&-
h_check "idle keep-alive connection closed after the idle timeout (1 s)" \
    h_eq "$RS/$EOF_RC/$EOF_BYTES/$([ "$elapsed" -ge 500 ] && echo not-early || echo "early: ${elapsed}ms")" "200/0/0/not-early"

# ---- 10. SIGTERM: idle keep-alive connections close at once ----
# Closed by the signal, not by the 60 s idle timeout: EOF within BOUND.
exec 3<>"/dev/tcp/127.0.0.1/$P1"
printf 'GET /v1/ HTTP/1.1\r\nHost: x\r\n\r\n' >&3
read_resp || RS="(none)"
sleep 0.2
kill -TERM "$P1_PID" || true
wait_eof
exec 3<&-
h_check "SIGTERM: idle keep-alive connection closed at once (not left to the idle timeout)" \
    h_eq "$RS/$EOF_RC/$EOF_BYTES" "200/0/0"
h_wait_for 10 bash -c "! kill -0 $P1_PID 2>/dev/null" || true
if kill -0 "$P1_PID" 2>/dev/null; then
    pub_rc=still-running
else
    wait "$P1_PID" && pub_rc=0 || pub_rc=$?
fi
h_check "SIGTERM: publisher exits 0 by itself" h_eq "$pub_rc" 0
h_finish
