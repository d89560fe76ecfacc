#!/usr/bin/env bash
# herald-server over real sockets: every endpoint, its headers, conditional requests,
# encodings decoded and compared with the identity bytes (curl --compressed, gzip, zstd),
# pipelining and split requests with a raw client, HTTP/1.0, HEAD, limits (414, 431),
# the slow-header and idle timeouts, the connection cap, expired snapshots (still
# served, reported), a snapshot signed with an unknown key (never served), removal.
#
# Snapshots are written to Redis by benchmarks/server_fixture exactly as the signer
# writes them (signed with lib/snapshot.c), so versions and tombstones are known.
source "$(dirname "$0")/../support/harness.sh"

FIX=$H_BUILD/benchmarks/server_fixture
DATA=$H_SRC/../shared/data/onecrl.json
[ -f "$DATA" ] || DATA=/work/shared/data/onecrl.json

h_start_redis
H_PUBKEY=$("$FIX" keygen --out "$H_TMP/k1")
OTHER_PUB=$("$FIX" keygen --out "$H_TMP/k2")

cat >"$H_TMP/server.conf" <<EOF
# settings as Kinto spells them
server_header_timeout_seconds = 1
server_idle_timeout_seconds = 3
server_max_connections = 40
tombstone_horizon_seconds = 86400
record_cache_expires_seconds = 30
monitor.changes.record_cache_expires_seconds = 10
monitor.changes.record_cache_maximum_expires_seconds = 900
http_host = cdn.example.net
paginate_by = 500
EOF

h_start_server --threads 2 --config "$H_TMP/server.conf"
S=$H_SRV
P=$H_SRV_PORT

# Nothing published yet: the server runs, says so, and answers empty/404.
h_check "heartbeat 503 before anything is published" h_eq "$(curl -s -o /dev/null -w '%{http_code}' "$S/__heartbeat__")" 503
h_check "monitor/changes is an empty list" h_eq "$(curl -s "$S/buckets/monitor/collections/changes/changeset")" '{"changes":[],"metadata":{"bucket":"monitor"},"timestamp":0}'
h_check "unknown collection is 404" h_eq "$(curl -s -o /dev/null -w '%{http_code}' "$S/buckets/main/collections/onecrl/changeset")" 404

V1=$(($(h_now_ms) - 5000))
VS=$((V1 + 1))
pub() { "$FIX" publish --redis "$H_REDIS_URL" "$@"; }
pub --key "$H_TMP/k1" --bucket main --collection onecrl --version "$V1" --records "$DATA" --tombstones 3
pub --key "$H_TMP/k1" --bucket main --collection small --version "$VS" --generate 10 --record-bytes 200 \
    --metadata '{"cache_expires":42,"displayName":"Small"}'

etag() { header ETag "$@"; } # URL [curl args]: the ETag as sent, quotes included
header() { # NAME URL [curl args]: the value of header NAME
    local name=$1
    shift
    curl -s -D - -o /dev/null "$@" | tr -d '\r' | grep -i "^$name:" | head -1 | sed 's/^[^:]*: *//'
}
CS=$S/buckets/main/collections/onecrl/changeset
SM=$S/buckets/main/collections/small/changeset
MON=$S/buckets/monitor/collections/changes/changeset
h_check "both collections are served" h_wait_for 20 h_served_at "$SM" "$VS"
h_check "heartbeat 200 once loaded" h_eq "$(curl -s "$S/__heartbeat__")" '{"collections":2,"expired":[],"invalid":[],"redis":true,"snapshots":true}'

# ---- changesets, headers ----------------------------------------------------------
curl -s -D "$H_TMP/h.full" -o "$H_TMP/full.json" "$CS"
h_check "full changeset verifies as a client would" "$FIX" verify -q --public-key "$H_PUBKEY" --bucket main --collection onecrl "$H_TMP/full.json"
h_check "1643 records newest first, timestamp V" h_eq "$(node -e 'const d=JSON.parse(require("fs").readFileSync(0));console.log(d.changes.length, d.timestamp, d.changes.every((c,i,a)=>!i||a[i-1].last_modified>c.last_modified))' <"$H_TMP/full.json")" "1643 $V1 true"
hv() { tr -d '\r' <"$1" | grep -i "^$2:" | sed 's/^[^:]*: *//'; }
h_check "ETag is the strong version" h_eq "$(hv "$H_TMP/h.full" ETag)" "\"$V1\""
h_check "Last-Modified from the version" h_eq "$(hv "$H_TMP/h.full" Last-Modified)" "$(TZ=GMT LC_ALL=C date -d "@$((V1 / 1000))" '+%a, %d %b %Y %H:%M:%S GMT')"
h_check "Content-Type JSON" h_eq "$(hv "$H_TMP/h.full" Content-Type)" application/json
h_check "Vary: Accept-Encoding" h_eq "$(hv "$H_TMP/h.full" Vary)" Accept-Encoding
h_check "CORS" h_eq "$(hv "$H_TMP/h.full" Access-Control-Allow-Origin)" '*'
h_check "Cache-Control: server default" h_eq "$(hv "$H_TMP/h.full" Cache-Control)" max-age=30
h_check "Cache-Control: collection's cache_expires" h_eq "$(header Cache-Control "$SM")" max-age=42
h_check "Cache-Control with _expected: maximum" h_eq "$(header Cache-Control "$SM?_expected=$VS")" max-age=3600
h_check "Cache-Control with _expected=0: short" h_eq "$(header Cache-Control "$SM?_expected=0")" max-age=42
h_check "Content-Length is the body size" h_eq "$(hv "$H_TMP/h.full" Content-Length)" "$(stat -c %s "$H_TMP/full.json")"

# ---- conditional requests ---------------------------------------------------------
for inm in "\"$V1\"" "W/\"$V1\"" "\"1\", \"$V1\"" '*'; do
    out=$(curl -s -o "$H_TMP/b" -D "$H_TMP/h" -w '%{http_code} %{size_download}' -H "If-None-Match: $inm" -H 'Accept-Encoding: gzip' "$CS")
    h_check "If-None-Match: $inm -> 304 without body" h_eq "$out" "304 0"
    h_check "304 keeps ETag, Cache-Control, Vary, no Content-Encoding" h_eq "$(hv "$H_TMP/h" ETag)|$(hv "$H_TMP/h" Cache-Control)|$(hv "$H_TMP/h" Vary)|$(hv "$H_TMP/h" Content-Encoding)" "\"$V1\"|max-age=30|Accept-Encoding|"
done
h_check "If-None-Match with another version -> 200" h_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: \"$((V1 - 1))\"" "$CS")" 200
h_check "unquoted If-None-Match does not match" h_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $V1" "$CS")" 200

# ---- encodings --------------------------------------------------------------------
check_encodings() { # URL LABEL
    local url=$1 label=$2
    curl -s -o "$H_TMP/id" "$url"
    curl -s --compressed -o "$H_TMP/cmp" "$url"
    h_check "$label: curl --compressed decodes to the identity bytes" cmp -s "$H_TMP/id" "$H_TMP/cmp"
    curl -s -H 'Accept-Encoding: gzip' -D "$H_TMP/hg" -o "$H_TMP/gz" "$url"
    h_check "$label: gzip on request" h_eq "$(hv "$H_TMP/hg" Content-Encoding)" gzip
    h_check "$label: gzip decodes to the identity bytes" bash -c "gzip -dc '$H_TMP/gz' | cmp -s - '$H_TMP/id'"
    h_check "$label: gzip is smaller" test "$(stat -c %s "$H_TMP/gz")" -lt "$(stat -c %s "$H_TMP/id")"
    curl -s -H 'Accept-Encoding: zstd' -D "$H_TMP/hz" -o "$H_TMP/zs" "$url"
    h_check "$label: zstd on request" h_eq "$(hv "$H_TMP/hz" Content-Encoding)" zstd
    if command -v zstd >/dev/null; then
        h_check "$label: zstd decodes to the identity bytes" bash -c "zstd -dcq '$H_TMP/zs' | cmp -s - '$H_TMP/id'"
    fi
    h_check "$label: same ETag for every encoding" h_eq "$(hv "$H_TMP/hg" ETag)|$(hv "$H_TMP/hz" ETag)" "$(etag "$url")|$(etag "$url")"
    h_check "$label: HEAD gives the encoded length" h_eq "$(curl -s -I -H 'Accept-Encoding: zstd' "$url" | tr -d '\r' | sed -n 's/^Content-Length: //p')" "$(stat -c %s "$H_TMP/zs")"
}
check_encodings "$CS" "full changeset"
check_encodings "$CS?_since=$((V1 - 3))" "cached _since delta"
check_encodings "$SM" "2 KB changeset"
h_check "q-values: gzip preferred over zstd when asked" h_eq "$(header Content-Encoding "$CS" -H 'Accept-Encoding: zstd;q=0.5, gzip')" gzip
h_check "Firefox's Accept-Encoding gets zstd" h_eq "$(header Content-Encoding "$CS" -H 'Accept-Encoding: gzip, deflate, br, zstd')" zstd
h_check "identity when nothing acceptable" h_eq "$(header Content-Encoding "$CS" -H 'Accept-Encoding: br, gzip;q=0')" ""
h_check "identity when no Accept-Encoding" h_eq "$(header Content-Encoding "$CS" -H 'Accept-Encoding:')" ""
command -v zstd >/dev/null && h_check "the background upgrade reaches zstd level 19 size" h_wait_for 20 bash -c "[ \$(curl -s -H 'Accept-Encoding: zstd' '$CS' | wc -c) -le \$(zstd -19 -c '$H_TMP/full.json' | wc -c) ]"

# ---- _since, _limit, the horizon ----------------------------------------------------
delta=$(curl -s "$CS?_since=$((V1 - 3))")
h_check "_since: the 3 newest records" h_eq "$(echo "$delta" | node -e 'const d=JSON.parse(require("fs").readFileSync(0));console.log(d.changes.map(c=>c.last_modified-'"$V1"').join())')" "0,-1,-2"
h_check "_since accepts a quoted value" h_eq "$(curl -s "$CS?_since=%22$((V1 - 3))%22")" "$delta"
tail=$(curl -s "$CS?_since=$((V1 - 1646))" | node -e 'const d=JSON.parse(require("fs").readFileSync(0));console.log(d.changes.length, d.changes.filter(c=>c.deleted).length)')
h_check "_since before every entry: records and tombstones" h_eq "$tail" "1646 3"
h_check "_since older than the tombstone horizon: full changeset" cmp -s <(curl -s "$CS?_since=$((V1 - 2 * 86400000))") "$H_TMP/full.json"
h_check "_since=0: full changeset" cmp -s <(curl -s "$CS?_since=0") "$H_TMP/full.json"
h_check "_limit" h_eq "$(curl -s "$CS?_limit=2" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).changes.length)')" 2
h_check "_since=V: no changes" h_eq "$(curl -s "$CS?_since=$V1" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).changes.length)')" 0
h_check "bad _since: 400 errno 107" h_eq "$(curl -s "$CS?_since=x" | node -e 'const d=JSON.parse(require("fs").readFileSync(0));console.log(d.code,d.errno)')" "400 107"

# ---- monitor --------------------------------------------------------------------------
mon=$(curl -s "$MON")
h_check "monitor lists both, newest first, with Remote Settings ids and host" h_eq "$(echo "$mon" | node -e 'const d=JSON.parse(require("fs").readFileSync(0));console.log(d.timestamp, d.changes.map(c=>c.collection+"@"+c.last_modified+"@"+c.host+"@"+/^[0-9a-f-]{36}$/.test(c.id)).join())')" "$VS small@$VS@cdn.example.net@true,onecrl@$V1@cdn.example.net@true"
h_check "monitor ETag is the newest version" h_eq "$(etag "$MON")" "\"$VS\""
h_check "monitor Cache-Control" h_eq "$(header Cache-Control "$MON")|$(header Cache-Control "$MON?_expected=1")" "max-age=10|max-age=900"
h_check "monitor 304" h_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: \"$VS\"" "$MON?_expected=$VS")" 304
h_check "monitor _since" h_eq "$(curl -s "$MON?_since=$V1" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).changes.map(c=>c.collection).join())')" small
h_check "monitor collection= filter" h_eq "$(curl -s "$MON?collection=onecrl" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).changes.map(c=>c.collection).join())')" onecrl
h_check "monitor bucket= filter" h_eq "$(curl -s "$MON?bucket=nope" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).changes.length)')" 0
h_check "legacy monitor records form" h_eq "$(curl -s "$S/buckets/monitor/collections/changes/records" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).data.length)')" 2

# ---- Kinto read-only GETs -------------------------------------------------------------
RS=$S/buckets/main/collections/onecrl/records
h_check "Kinto records list: first page of paginate_by, Total-Records, Next-Page" h_eq "$(curl -s -D "$H_TMP/hr" "$RS" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).data.length)') $(hv "$H_TMP/hr" Total-Records) $(hv "$H_TMP/hr" ETag) $(hv "$H_TMP/hr" Next-Page | grep -c '_token=')" "500 1643 \"$V1\" 1"
h_check "Kinto records list 304" h_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: \"$V1\"" "$RS")" 304
h_check "Kinto records with a filter" h_eq "$(curl -s -D "$H_TMP/hr" "$RS?enabled=false&_limit=5" | node -e 'const d=JSON.parse(require("fs").readFileSync(0)).data;console.log(d.length, d.every(r=>r.enabled===false))') $(hv "$H_TMP/hr" Total-Records)" "5 true $(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).data.filter(r=>r.enabled===false).length)' "$DATA")"
h_check "Kinto bad parameters: 400 errno 107" h_eq "$(curl -s "$RS?_limit=x" | node -e 'const d=JSON.parse(require("fs").readFileSync(0));console.log(d.code, d.errno)')" "400 107"
rid=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).data[5].id)' "$DATA")
h_check "Kinto one record, ETag its last_modified" h_eq "$(curl -s -D "$H_TMP/hr" "$RS/$rid" | node -e 'const d=JSON.parse(require("fs").readFileSync(0)).data;console.log(d.id, d.last_modified)') $(hv "$H_TMP/hr" ETag)" "$rid $((V1 - 5)) \"$((V1 - 5))\""
h_check "Kinto unknown record: 404" h_eq "$(curl -s -o /dev/null -w '%{http_code}' "$RS/nope")" 404
h_check "Kinto collection" h_eq "$(curl -s "$S/buckets/main/collections/small" | node -e 'const d=JSON.parse(require("fs").readFileSync(0)).data;console.log(d.id, d.displayName)')" "small Small"
h_check "Kinto bucket" h_eq "$(curl -s "$S/buckets/main" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).data.id)')" main
h_check "Kinto root lists the trusted public key" h_eq "$(curl -s "$S/" | node -e 'const d=JSON.parse(require("fs").readFileSync(0));console.log(d.capabilities.herald_signatures.public_keys.map(k=>k.public_key).join(), d.settings.readonly)')" "$H_PUBKEY true"
if [ -d "$H_SRC/tests/node/node_modules/kinto-http" ]; then
    # Kinto's own JavaScript client, unchanged (the shims are those of
    # tests/node/kinto_client.mjs: Node 20's fetch stands in for node-fetch; it also
    # resolves the public host name of Next-Page URLs, cdn.example.net, to this server).
    KSRV=$S KNODE=$H_SRC/tests/node/package.json KSINCE=$((V1 - 3)) node --input-type=module >"$H_TMP/kinto.out" 2>&1 <<'EOF' || true
import Module, { createRequire } from "node:module";
const realFetch = globalThis.fetch;
const f = (url, ...a) => realFetch(String(url).replace("http://cdn.example.net/v1", process.env.KSRV), ...a);
globalThis.fetch = f;
const shims = { "node-fetch": Object.assign(f, { default: f, Headers, Request, Response }), "form-data": FormData, atob };
const load = Module._load;
Module._load = function (r, ...rest) { return Object.hasOwn(shims, r) ? shims[r] : load.call(this, r, ...rest); };
const mod = createRequire(process.env.KNODE)("kinto-http");
const KintoClient = mod.default ?? mod;
const c = new KintoClient(process.env.KSRV);
const info = await c.fetchServerInfo();
const coll = c.bucket("main").collection("onecrl");
const all = await coll.listRecords({ pages: Infinity });
const one = await coll.getRecord(all.data[7].id);
const since = await coll.listRecords({ since: process.env.KSINCE });
const sorted = await coll.listRecords({ sort: "id", limit: 3 });
const data = await c.bucket("main").collection("small").getData();
const ids = new Set(all.data.map((r) => r.id));
console.log([info.settings.readonly, all.data.length, ids.size, one.data.id === all.data[7].id,
  since.data.length, sorted.data.map((r) => r.id).join() === [...ids].sort().slice(0, 3).join(),
  data.displayName].join(" "));
EOF
    h_check "kinto-http reads the read server (pages, record, since, sort, collection)" h_eq "$(tail -1 "$H_TMP/kinto.out")" "true 1643 1643 true 3 true Small"
else
    h_log "tests/node/node_modules missing (npm install): kinto-http check skipped"
fi

# ---- operational endpoints ----------------------------------------------------------
h_check "lbheartbeat" h_eq "$(curl -s -w ' %{http_code}' "$S/__lbheartbeat__")" "{} 200"
h_check "version" h_eq "$(curl -s "$S/__version__" | node -e 'const d=JSON.parse(require("fs").readFileSync(0));console.log(d.name, typeof d.version, typeof d.commit, typeof d.source)')" "herald-server string string string"
curl -s "http://127.0.0.1:$P/metrics" >"$H_TMP/metrics"
for line in 'herald_snapshots 2' 'herald_redis_up 1' "herald_snapshot_records{bucket=\"main\",collection=\"onecrl\"} 1643" \
    'herald_http_requests_total{route="changeset",status="304"}' 'herald_http_responses_encoded_total{encoding="zstd"}' \
    'herald_snapshot_expired{bucket="main",collection="small"} 0' 'herald_http_not_modified_ratio 0.' \
    'herald_seconds_since_last_update ' 'herald_snapshot_update_lag_seconds{bucket="main",collection="onecrl"} ' \
    'herald_http_response_bytes_total ' 'herald_snapshot_body_bytes{bucket="main",collection="onecrl",encoding="zstd"} '; do
    h_check "metrics: $line" grep -qF "$line" "$H_TMP/metrics"
done
h_check "metrics content type" h_eq "$(header Content-Type "http://127.0.0.1:$P/metrics")" "text/plain; version=0.0.4; charset=utf-8"

# ---- errors -------------------------------------------------------------------------
h_check "unknown path: Kinto 404" h_eq "$(curl -s -w '\n%{http_code}' "$S/nowhere" | node -e 'const [b,c]=require("fs").readFileSync(0,"utf8").split("\n");const d=JSON.parse(b);console.log(d.errno,c)')" "111 404"
h_check "POST: 405 errno 115" h_eq "$(curl -s -X POST "$CS" | node -e 'const d=JSON.parse(require("fs").readFileSync(0));console.log(d.code,d.errno)')" "405 115"
h_check "OPTIONS preflight" h_eq "$(header Access-Control-Allow-Methods "$CS" -X OPTIONS)" "GET, HEAD, OPTIONS"
h_check "HEAD: headers, no body" h_eq "$(curl -s -I "$CS" -w '%{size_download}' -o /dev/null)" 0
long=$(head -c 9000 /dev/zero | tr '\0' a)
h_check "request line too long: 414" h_eq "$(curl -s -o /dev/null -w '%{http_code}' "$S/$long")" 414
h_check "header section too large: 431" h_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $long$long" "$CS")" 431

# ---- raw client: pipelining, split requests, HTTP/1.0, timeouts, cap ------------------
# raw PAUSE_MS CHUNK...: sends each chunk (JSON string escapes: \r\n) with a pause, then
# prints what came back until the server closes or RAW_WAIT ms pass, and <closed>/<open>.
# With RAW_SENT set, writes to that file how many chunks had been sent when it finished.
# Where the server must close, RAW_WAIT is CLOSE_WAIT: far above any slowness of a loaded
# machine, far below the 60 s idle timeout that would close a forgotten connection.
CLOSE_WAIT=20000
raw() {
    node -e '
const net = require("net");
const [port, pause, ...chunks] = process.argv.slice(1);
const s = net.connect(+port, "127.0.0.1");
let out = Buffer.alloc(0), closed = false, timer;
const finish = () => {
  if (process.env.RAW_SENT) require("fs").writeFileSync(process.env.RAW_SENT, `${i}/${chunks.length}`);
  process.stdout.write(out.toString("latin1") + (closed ? "<closed>" : "<open>"));
  process.exit(0);
};
s.on("data", d => { out = Buffer.concat([out, d]); });
s.on("close", () => { closed = true; clearTimeout(timer); finish(); });
s.on("error", () => {});
let i = 0;
const send = () => {
  if (i < chunks.length) { s.write(JSON.parse("\"" + chunks[i++] + "\"")); setTimeout(send, +pause); }
  else timer = setTimeout(finish, +(process.env.RAW_WAIT || 1500));
};
s.on("connect", send);' "$P" "$@"
}
statuses() { grep -ao 'HTTP/1.1 [0-9]*' | cut -d' ' -f2 | tr '\n' ' '; }
G="Host: t\r\n"
out=$(raw 0 "GET /v1/__lbheartbeat__ HTTP/1.1\r\n${G}\r\nGET /v1/buckets/main/collections/small/changeset HTTP/1.1\r\n${G}If-None-Match: \\\"$VS\\\"\r\n\r\nGET /v1/nowhere HTTP/1.1\r\n${G}\r\nGET /v1/__version__ HTTP/1.1\r\n${G}\r\n")
h_check "pipelined requests answered in order" h_eq "$(echo "$out" | statuses)" "200 304 404 200 "
h_check "pipelining keeps the connection open" h_eq "${out: -6}" "<open>"
req="GET /v1/buckets/main/collections/small/changeset HTTP/1.1\r\n${G}\r\n"
out=$(raw 20 "GET /v1/buck" "ets/main/collections/small/changeset HTTP/1.1\r\nHo" "st: t\r\n" "\r\n$req")
h_check "a request split across reads, then a second one" h_eq "$(echo "$out" | statuses)" "200 200 "
out=$(RAW_WAIT=$CLOSE_WAIT raw 0 "GET /v1/buckets/main/collections/small/changeset HTTP/1.0\r\n\r\n")
h_check "HTTP/1.0: answered and closed" h_eq "$(echo "$out" | statuses)${out: -8}" "200 <closed>"
out=$(raw 0 "GET /v1/__lbheartbeat__ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
h_check "HTTP/1.0 keep-alive announced and kept" bash -c "echo '$out' | grep -q 'Connection: keep-alive' && [ '${out: -6}' = '<open>' ]"
out=$(RAW_WAIT=$CLOSE_WAIT raw 0 "GET /v1/__lbheartbeat__ HTTP/1.1\r\n${G}Connection: close\r\n\r\nGET /v1/__version__ HTTP/1.1\r\n${G}\r\n")
h_check "Connection: close: one answer, then closed" h_eq "$(echo "$out" | statuses)${out: -8}" "200 <closed>"
out=$(RAW_WAIT=$CLOSE_WAIT raw 0 "GET / HTTP/2.0\r\n\r\n")
h_check "HTTP/2.0 request line: 505 and close" h_eq "$(echo "$out" | statuses)${out: -8}" "505 <closed>"
# 400 pipelined requests (every 40th for the whole 700 KB changeset, the rest small) to a
# client that stops reading for a second: the server flushes early, keeps what the
# socket does not take (large bodies by reference), stops reading meanwhile, keeps the
# unread requests, and answers every one, in order.
slow=$(node -e '
const net = require("net");
const [port, path] = process.argv.slice(1);
const s = net.connect(+port, "127.0.0.1");
const N = 400, want = (i) => (i % 40 === 0 ? 1643 : i % 7);
let buf = Buffer.alloc(0), n = 0, ok = true;
s.on("connect", () => {
  let all = "";
  for (let i = 0; i < N; i++)
    all += `GET ${path}${i % 40 === 0 ? "" : "?_limit=" + (i % 7)} HTTP/1.1\r\nHost: t\r\n\r\n`;
  s.write(all);
  s.pause();
  setTimeout(() => s.resume(), 1000);
});
s.on("data", (d) => {
  buf = buf.length ? Buffer.concat([buf, d]) : d;
  for (;;) {
    const end = buf.indexOf("\r\n\r\n");
    if (end < 0) break;
    const len = Number(/content-length: *([0-9]+)/i.exec(buf.toString("latin1", 0, end))[1]);
    if (buf.length < end + 4 + len) break;
    if (JSON.parse(buf.toString("utf8", end + 4, end + 4 + len)).changes.length !== want(n)) ok = false;
    buf = buf.subarray(end + 4 + len);
    n++;
  }
  if (n === N) { console.log(ok ? "in order" : "out of order"); process.exit(0); }
});
setTimeout(() => { console.log("timeout after " + n); process.exit(1); }, 30000);' "$P" /v1/buckets/main/collections/onecrl/changeset)
h_check "400 pipelined requests to a slow reader: all answered, in order" h_eq "$slow" "in order"

# A head trickled one line every 300 ms for 6 s, never completed: the 408 (header timeout
# 1 s) comes while it is still arriving, whatever the machine's speed: lines arriving do
# not extend the timeout. benchmarks/bench_timeouts.sh measures the delay.
trickle=("GET /v1/__lbheartbeat__ HTTP/1.1\r\n" "Host: t\r\n")
for i in $(seq 1 18); do trickle+=("X-$i: $i\r\n"); done
out=$(RAW_SENT=$H_TMP/sent RAW_WAIT=$CLOSE_WAIT raw 300 "${trickle[@]}")
h_check "slow request head: 408 and closed after the header timeout, however it trickles" h_eq "$(echo "$out" | statuses)${out: -8}" "408 <closed>"
h_check "... while the head was still arriving" bash -c "[ \$(cut -d/ -f1 '$H_TMP/sent') -lt \$(cut -d/ -f2 '$H_TMP/sent') ]"
out=$(RAW_WAIT=$CLOSE_WAIT raw 0 "GET /v1/__lbheartbeat__ HTTP/1.1\r\n${G}\r\n")
h_check "idle keep-alive connection closed after the idle timeout" h_eq "$(echo "$out" | statuses)${out: -8}" "200 <closed>"
# With the idle timeout the shorter one, a head under way still gets its 408 (it used to
# be closed silently as idle).
printf 'server_idle_timeout_seconds = 1\nserver_header_timeout_seconds = 2\n' >"$H_TMP/short-idle.conf"
h_start_second_server --threads 1 --config "$H_TMP/short-idle.conf"
out=$(P=$H_SRV2_PORT; RAW_WAIT=$CLOSE_WAIT raw 0 "GET /v1/__lbheartbeat__ HTTP/1.1\r\nHost: t\r\n")
h_check "idle timeout 1 s < header timeout 2 s: an incomplete head gets 408, not a silent close" h_eq "$(echo "$out" | statuses)${out: -8}" "408 <closed>"
kill -TERM "$H_SRV2_PID"
wait "$H_SRV2_PID" || true
# Each client sends a request (the listener defers accept() until data arrives). Counted
# once every connection is settled, answered (and kept: the idle timeout is 3 s) or
# closed without an answer, however long that takes (bounded by CLOSE_WAIT).
conns=$(node -e '
const net = require("net"); let served = 0, refused = 0; const N = 60;
const settled = () => { if (served + refused === N) { console.log(served, refused); process.exit(0); } };
for (let i = 0; i < N; i++) {
  const s = net.connect(+process.argv[1], "127.0.0.1");
  let got = false;
  s.on("connect", () => s.write("GET /v1/__lbheartbeat__ HTTP/1.1\r\nHost: t\r\n\r\n"));
  s.on("data", () => { if (!got) { got = true; served++; settled(); } });
  s.on("error", () => {});
  s.on("close", () => { if (!got) { refused++; settled(); } });
}
setTimeout(() => { console.log(served, refused, "unsettled"); process.exit(0); }, +process.argv[2]);' "$P" "$CLOSE_WAIT")
h_check "connection cap (40): the rest are closed at once" h_eq "$conns" "40 20"

# ---- expiry, unknown key, removal ------------------------------------------------------
VX=$(($(h_now_ms) - 2000))
pub --key "$H_TMP/k1" --bucket main --collection stale --version "$VX" --generate 3 --expires -1000
h_check "an expired snapshot is still served" h_wait_for 20 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$S/buckets/main/collections/stale/changeset')\" = 200 ]"
h_check "... and heartbeat reports it with a 503" h_eq "$(curl -s -w ' %{http_code}' "$S/__heartbeat__")" '{"collections":3,"expired":["main/stale"],"invalid":[],"redis":true,"snapshots":false} 503'
h_check "... and metrics" bash -c "curl -s http://127.0.0.1:$P/metrics | grep -qF 'herald_snapshot_expired{bucket=\"main\",collection=\"stale\"} 1'"
pub --key "$H_TMP/k1" --bucket main --collection stale --version "$((VX + 1))" --generate 3
h_check "re-signed: heartbeat 200 again" h_wait_for 20 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$S/__heartbeat__')\" = 200 ]"

pub --key "$H_TMP/k2" --bucket main --collection small --version "$((VS + 100))" --generate 1
h_check "a snapshot signed with an unknown key is logged ..." h_wait_for 20 grep -q "main/small version $((VS + 100)) does not verify" "$H_TMP/server.log"
h_check "... and never served" h_eq "$(etag "$SM")" "\"$VS\""
h_check "... the monitor keeps the verified version" h_eq "$(curl -s "$MON?collection=small" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).changes[0].last_modified)')" "$VS"
h_check "... and heartbeat names it with a 503" h_eq "$(curl -s -w ' %{http_code}' "$S/__heartbeat__")" '{"collections":3,"expired":[],"invalid":["main/small"],"redis":true,"snapshots":false} 503'
pub --key "$H_TMP/k1" --key "$H_TMP/k2" --bucket main --collection small --version "$((VS + 200))" --generate 1
h_check "signed by both keys: served" h_wait_for 20 h_served_at "$SM" "$((VS + 200))"
curl -s "$SM" >"$H_TMP/two.json"
h_check "... heartbeat 200 again" h_eq "$(curl -s -o /dev/null -w '%{http_code}' "$S/__heartbeat__")" 200
h_check "... and verifies with either key" bash -c "'$FIX' verify -q --public-key '$H_PUBKEY' --bucket main --collection small '$H_TMP/two.json' && '$FIX' verify -q --public-key '$OTHER_PUB' --bucket main --collection small '$H_TMP/two.json'"

"$FIX" remove --redis "$H_REDIS_URL" --bucket main --collection stale
h_check "a removed collection is 404" h_wait_for 20 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$S/buckets/main/collections/stale/changeset')\" = 404 ]"
h_check "... and gone from the monitor" h_eq "$(curl -s "$MON" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).changes.map(c=>c.collection).join())')" "small,onecrl"

h_finish
