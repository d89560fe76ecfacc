#!/usr/bin/env bash
# bench_server.sh -- herald-server against nginx serving the same response bytes.
#
# One command, run by hand (not in CI):  HERALD_BUILD_DIR=build bash benchmarks/bench_server.sh
# Writes benchmarks/results/server.md (BENCH_OUT) and prints it. Loopback only; every
# loop is bounded. Needs: nginx (nginx-light), wrk, valgrind, strace, redis-server,
# node, curl, taskset, and a build of herald-server and benchmarks/server_fixture.
#
# Workload: ../shared/data/onecrl.json (1,643 real records). Collections of ~2 KB and
# ~20 KB full changesets are its first records; the monitor lists 3 collections. The
# snapshots are written to Redis by server_fixture, signed as the signer does; nginx
# serves the exact bytes herald-server returns, saved as static files, with its own
# ETags (If-None-Match against them), open_file_cache on (BENCH_NGINX_FILE_CACHE=0 for
# nginx's defaults, where every request opens the file: ~5 syscalls per request instead
# of ~2), access log off, and the same extra headers (Cache-Control, Vary, CORS) so
# responses are the same size.
#
# Measured:
#  1. wrk, closed loop, keep-alive, alternating Herald/nginx runs (BENCH_ROUNDS each,
#     median reported), 1 worker/thread (server pinned to CPU 1, wrk to CPU 0) then 2
#     (unpinned), at 50 and 500 connections: 304 poll of monitor/changes, 200 full
#     changeset of 2 KB and 20 KB, 200 _since delta; plus one pipelined run (16 deep).
#     requests/s, p50/p99 latency, server CPU µs per request from /proc/<pid>/stat.
#  2. Deterministic, 1 worker: user-space instructions per request (callgrind counters
#     zeroed after start-up and warm-up, dumped after exactly BENCH_N requests sent by
#     server_load.js) and syscalls per request (strace -c -f attached after warm-up).
#  3. Memory: herald-server RSS with 100 collections x 1k records; RSS growth with 10k
#     idle keep-alive connections, Herald and nginx.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${HERALD_BUILD_DIR:-$SRC/build}
DUR=${BENCH_DURATION:-5}
ROUNDS=${BENCH_ROUNDS:-3}
NREQ=${BENCH_N:-20000}
OUT=${BENCH_OUT:-$SRC/benchmarks/results/server.md}
DATA=${BENCH_DATA:-$SRC/../shared/data/onecrl.json}
FILE_CACHE=${BENCH_NGINX_FILE_CACHE:-1}
SERVER=$BUILD/server/herald-server
FIX=$BUILD/benchmarks/server_fixture
LOAD=$SRC/benchmarks/server_load.js

for c in nginx wrk valgrind callgrind_control strace redis-server redis-cli node curl taskset; do
    command -v "$c" >/dev/null || { echo "bench_server: $c is missing (scripts/install-deps.sh with HERALD_DEPS_EXTRA=1)" >&2; exit 1; }
done
[ -x "$SERVER" ] && [ -x "$FIX" ] || { echo "bench_server: build herald-server and server_fixture in $BUILD first" >&2; exit 1; }
[ -f "$DATA" ] || { echo "bench_server: $DATA not found (BENCH_DATA)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge 10500 ] || echo "bench_server: ulimit -n is $(ulimit -n); the 10k connection test needs 10500 per process" >&2

LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
BENCH_NAME=bench_server
source "$SRC/benchmarks/bench_lib.sh"
chmod 755 "$TMP" # nginx workers run as nobody
log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

stop() { # PID: TERM and wait
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# ---- data ---------------------------------------------------------------------------
REDIS_PORT=$(free_port)
start_redis "$REDIS_PORT" --appendonly no
REDIS=redis://127.0.0.1:$REDIS_PORT/0
PUB=$("$FIX" keygen --out "$TMP/key")

# The first records of the data set (Kinto list shape): "count N", or as many as make a
# changeset of about "bytes N" (records plus ~800 bytes of signed metadata).
subset() { node -e '
const d = JSON.parse(require("fs").readFileSync(process.argv[1])), a = d.data || d;
let k = +process.argv[3];
if (process.argv[2] === "bytes") { let n = 800; k = 0; while (k < a.length && n < +process.argv[3]) n += JSON.stringify(a[k++]).length + 1; }
process.stdout.write(JSON.stringify({ data: a.slice(0, k) }));' "$DATA" "$1" "$2" >"$3"; }
subset bytes 2048 "$TMP/r2k.json"
subset bytes 20480 "$TMP/r20k.json"
subset count 1000 "$TMP/r1k.json" # the RSS test
V0=$(($(date +%s%3N) - 60000))
publish() { "$FIX" publish --redis "$REDIS" --key "$TMP/key" "$@"; }
publish --bucket main --collection onecrl --version "$V0" --records "$DATA"
publish --bucket main --collection crl2k --version $((V0 + 1)) --records "$TMP/r2k.json"
publish --bucket main --collection crl20k --version $((V0 + 2)) --records "$TMP/r20k.json"
VM=$((V0 + 2))

# ---- servers ------------------------------------------------------------------------
HPORT=$(free_port)
NPORT=$(free_port)
WWW=$TMP/www
mkdir -p "$WWW" "$TMP/nginx/logs"

start_herald() { # THREADS [PREFIX...]: starts herald-server, sets HPID
    local threads=$1
    shift
    "$@" "$SERVER" --listen "127.0.0.1:$HPORT" --redis "$REDIS" --public-key "$PUB" \
        --threads "$threads" --log-level warn 2>>"$TMP/herald.log" &
    HPID=$!
    PIDS+=("$HPID")
    wait_port "$HPORT"
    # Loaded, and every background recompression finished (it would count as load).
    for _ in $(seq 1 1200); do
        m=$(curl -s "http://127.0.0.1:$HPORT/metrics" || true)
        grep -qx 'herald_snapshots_loaded 1' <<<"$m" && grep -qx 'herald_encode_pending 0' <<<"$m" && return 0
        sleep 0.1
    done
    echo "bench_server: herald-server did not load" >&2
    return 1
}
write_nginx_conf() { # WORKERS MASTER(on/off)
    cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes $1;
master_process $2;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
worker_rlimit_nofile 30000;
events { worker_connections 25000; }
http {
    access_log off;
    default_type application/json;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000000;
    keepalive_timeout 120s;
    $([ "$FILE_CACHE" = 1 ] && echo "open_file_cache max=1000 inactive=600s; open_file_cache_valid 3600s;")
    server {
        listen 127.0.0.1:$NPORT reuseport backlog=4096;
        location / {
            root $WWW;
            etag on;
            add_header Cache-Control "max-age=60";
            add_header Vary "Accept-Encoding";
            add_header Access-Control-Allow-Origin "*";
            add_header Access-Control-Expose-Headers "Content-Length, Expires, Alert, Retry-After, Last-Modified, Total-Records, ETag, Pragma, Cache-Control, Backoff, Next-Page";
        }
    }
}
EOF
}
start_nginx() { # WORKERS [PREFIX...]: sets NPID (the master, or the only process)
    local workers=$1 master=on
    shift
    [ $# -gt 0 ] && master=off # under valgrind/strace: one process
    write_nginx_conf "$workers" "$master"
    "$@" nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" 2>>"$TMP/nginx/logs/stderr" &
    NPID=$!
    PIDS+=("$NPID")
    wait_port "$NPORT"
}
# PIDs whose CPU time counts: the process and its children (nginx workers).
proc_ticks() {
    local t=0 p
    for p in "$1" $(pgrep -P "$1" || true); do
        [ -r "/proc/$p/stat" ] || continue
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    done
    echo "$t"
}
rss_kb() { # PID [children too]
    local t=0 p
    for p in "$1" $(pgrep -P "$1" || true); do
        t=$((t + $(awk '/^VmRSS/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0)))
    done
    echo "$t"
}

# The response bytes nginx will serve: exactly what Herald answers.
log "saving herald-server's responses for nginx"
start_herald 1
MONP=/v1/buckets/monitor/collections/changes/changeset
P2K=/v1/buckets/main/collections/crl2k/changeset
P20K=/v1/buckets/main/collections/crl20k/changeset
DELTA="$P20K?_since=$((V0 + 2 - 3))"
save() { mkdir -p "$(dirname "$WWW$2")" && curl -sf "http://127.0.0.1:$HPORT$1" -o "$WWW$2"; }
save "$MONP?_expected=$VM" "$MONP"
save "$P2K?_expected=1" "$P2K"
save "$P20K?_expected=1" "$P20K"
save "$DELTA" /delta/crl20k
SIZE_MON=$(stat -c %s "$WWW$MONP")
SIZE_2K=$(stat -c %s "$WWW$P2K")
SIZE_20K=$(stat -c %s "$WWW$P20K")
SIZE_DELTA=$(stat -c %s "$WWW/delta/crl20k")
stop "$HPID"
start_nginx 1
NETAG=$(curl -s -D - -o /dev/null "http://127.0.0.1:$NPORT$MONP" | tr -d '\r' | sed -n 's/^ETag: //p')
for f in "$MONP" "$P2K" "$P20K" /delta/crl20k; do
    curl -s "http://127.0.0.1:$NPORT$f" | cmp -s - "$WWW$f" || { echo "bench_server: nginx does not serve $f as saved" >&2; exit 1; }
done
stop "$NPID"
log "sizes: monitor $SIZE_MON B, changesets $SIZE_2K B and $SIZE_20K B, delta $SIZE_DELTA B; nginx ETag $NETAG"

# Scenarios: name | herald target | herald header | nginx target | nginx header
SCEN=(
    "304 poll monitor/changes|$MONP?_expected=$VM|If-None-Match: \"$VM\"|$MONP|If-None-Match: $NETAG"
    "200 changeset ${SIZE_2K} B|$P2K?_expected=$((V0 + 1))||$P2K|"
    "200 changeset ${SIZE_20K} B|$P20K?_expected=$VM||$P20K|"
    "200 _since delta ${SIZE_DELTA} B|$DELTA||/delta/crl20k|"
)

cat >"$TMP/pipeline.lua" <<'EOF'
-- 16 requests per write, answered in order (wrk counts each response).
local depth = 16
init = function(args)
  local r = {}
  for i = 1, depth do r[i] = wrk.format(nil) end
  req = table.concat(r)
end
request = function() return req end
EOF

# run_wrk PORT TARGET HEADER CONNS THREADS PID PIPELINE -> "rps p50_ms p99_ms cpu_us_per_req"
run_wrk() {
    local port=$1 target=$2 header=$3 conns=$4 threads=$5 pid=$6 pipe=$7 pin=()
    local args=(-t"$threads" -c"$conns" -d"${DUR}s" --latency)
    [ -n "$header" ] && args+=(-H "$header")
    [ "$pipe" = 1 ] && args+=(-s "$TMP/pipeline.lua")
    [ "$threads" = 1 ] && pin=(taskset -c 0)
    local t0 t1
    t0=$(proc_ticks "$pid")
    "${pin[@]}" wrk "${args[@]}" "http://127.0.0.1:$port$target" >"$TMP/wrk.out" 2>&1
    t1=$(proc_ticks "$pid")
    awk -v ticks=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        /requests in/ { n = $1 }
        /Requests\/sec/ { rps = $2 }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        /Non-2xx/ { bad = $NF }
        END { if (bad) print "bench_server: " bad " non-2xx/3xx responses" > "/dev/stderr";
              printf "%.0f %.3f %.3f %.2f\n", rps, p50, p99, n ? ticks * 1e6 / hz / n : 0 }' "$TMP/wrk.out"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

ROWS=()
bench_config() { # WORKERS
    local workers=$1 pin=() threads=1
    [ "$workers" = 1 ] && pin=(taskset -c 1) || threads=2
    start_herald "$workers" "${pin[@]}"
    start_nginx "$workers" "${pin[@]}"
    local s name ht hh nt nh conns r
    for s in "${SCEN[@]}" "pipelined 304 poll (16 deep)|$MONP?_expected=$VM|If-None-Match: \"$VM\"|$MONP|If-None-Match: $NETAG|p"; do
        IFS='|' read -r name ht hh nt nh pipe <<<"$s"
        [ "${pipe:-}" = p ] && [ "$workers" != 1 ] && continue
        for conns in 50 500; do
            [ "${pipe:-}" = p ] && [ "$conns" = 500 ] && continue
            : >"$TMP/h.runs"
            : >"$TMP/n.runs"
            for r in $(seq 1 "$ROUNDS"); do
                run_wrk "$HPORT" "$ht" "$hh" "$conns" "$threads" "$HPID" "$([ "${pipe:-}" = p ] && echo 1 || echo 0)" >>"$TMP/h.runs"
                run_wrk "$NPORT" "$nt" "$nh" "$conns" "$threads" "$NPID" "$([ "${pipe:-}" = p ] && echo 1 || echo 0)" >>"$TMP/n.runs"
            done
            local hr hp50 hp99 hcpu nr np50 np99 ncpu
            hr=$(awk '{print $1}' "$TMP/h.runs" | median); nr=$(awk '{print $1}' "$TMP/n.runs" | median)
            hp50=$(awk '{print $2}' "$TMP/h.runs" | median); np50=$(awk '{print $2}' "$TMP/n.runs" | median)
            hp99=$(awk '{print $3}' "$TMP/h.runs" | median); np99=$(awk '{print $3}' "$TMP/n.runs" | median)
            hcpu=$(awk '{print $4}' "$TMP/h.runs" | median); ncpu=$(awk '{print $4}' "$TMP/n.runs" | median)
            ROWS+=("| $name | $workers | $conns | $hr | $nr | $(ratio "$hr" "$nr") | $hp50 / $hp99 | $np50 / $np99 | $(ratio "$hp99" "$np99") | $hcpu | $ncpu | $(ratio "$hcpu" "$ncpu") |")
            log "$name, $workers worker(s), $conns conns: herald $hr/s p99 $hp99 ms ${hcpu} µs; nginx $nr/s p99 $np99 ms ${ncpu} µs"
        done
    done
    stop "$HPID"
    stop "$NPID"
}

log "throughput runs: ${DUR}s each, $ROUNDS rounds, alternating"
bench_config 1
bench_config 2

# ---- deterministic: instructions and syscalls per request -------------------------
# load PORT TARGET HEADER N [PIPELINE]: exactly N requests over 10 connections.
load() {
    local args=(--port "$1" --path "$2" --connections 10 --requests "$4" --pipeline "${5:-1}")
    [ -n "$3" ] && args+=(--header "$3")
    node "$LOAD" "${args[@]}" >>"$TMP/load.log"
}
callgrind_ir() { # PID PORT TARGET HEADER -> instructions per request
    local pid=$1
    load "$2" "$3" "$4" 2000
    callgrind_control -z "$pid" >/dev/null
    load "$2" "$3" "$4" "$NREQ"
    rm -f "$TMP"/cg.out.*
    callgrind_control -d "$pid" >/dev/null
    local f
    f=$(ls -t "$TMP"/cg.out.* | head -1)
    awk -v n="$NREQ" '/^summary:/ { printf "%.0f\n", $2 / n }' "$f"
}
strace_calls() { # PID PORT TARGET HEADER PIPELINE -> syscalls per request
    local pid=$1
    load "$2" "$3" "$4" 2000 "$5"
    strace -c -f -p "$pid" -o "$TMP/strace.out" 2>/dev/null &
    local sp=$!
    sleep 1 # attached
    load "$2" "$3" "$4" "$NREQ" "$5"
    kill -INT "$sp"
    wait "$sp" 2>/dev/null || true
    awk -v n="$NREQ" '$NF == "total" { printf "%.2f\n", $4 / n }' "$TMP/strace.out"
}

DET=()
log "callgrind: $NREQ requests per scenario"
start_herald 1 valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out.%p"
start_nginx 1 valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out.%p"
declare -A HIR NIR HSC NSC
for s in "${SCEN[@]}"; do
    IFS='|' read -r name ht hh nt nh <<<"$s"
    HIR[$name]=$(callgrind_ir "$HPID" "$HPORT" "$ht" "$hh")
    NIR[$name]=$(callgrind_ir "$NPID" "$NPORT" "$nt" "$nh")
    log "$name: herald ${HIR[$name]} instructions/request, nginx ${NIR[$name]}"
done
stop "$HPID"
stop "$NPID"

log "strace -c: $NREQ requests per scenario"
start_herald 1
start_nginx 1
NWORKER=$(pgrep -P "$NPID" | head -1)
for s in "${SCEN[@]}" "pipelined 304 poll (16 deep)|$MONP?_expected=$VM|If-None-Match: \"$VM\"|$MONP|If-None-Match: $NETAG|16"; do
    IFS='|' read -r name ht hh nt nh pipe <<<"$s"
    HSC[$name]=$(strace_calls "$HPID" "$HPORT" "$ht" "$hh" "${pipe:-1}")
    NSC[$name]=$(strace_calls "$NWORKER" "$NPORT" "$nt" "$nh" "${pipe:-1}")
    log "$name: herald ${HSC[$name]} syscalls/request, nginx ${NSC[$name]}"
done
for s in "${SCEN[@]}" "pipelined 304 poll (16 deep)"; do
    name=${s%%|*}
    DET+=("| $name | ${HIR[$name]:--} | ${NIR[$name]:--} | $( [ -n "${HIR[$name]:-}" ] && ratio "${HIR[$name]}" "${NIR[$name]}" || echo -) | ${HSC[$name]} | ${NSC[$name]} | $(ratio "${HSC[$name]}" "${NSC[$name]}") |")
done

# ---- memory -------------------------------------------------------------------------------
log "10k idle keep-alive connections"
H0=$(rss_kb "$HPID")
N0=$(rss_kb "$NPID")
node "$LOAD" --port "$HPORT" --path /v1/__lbheartbeat__ --idle 10000 --hold 8 >"$TMP/idle-h.log" &
IDLE=$!
for _ in $(seq 1 100); do grep -q ready "$TMP/idle-h.log" && break; sleep 0.1; done
H1=$(rss_kb "$HPID")
HC=$(curl -s "http://127.0.0.1:$HPORT/metrics" | awk '$1 == "herald_http_connections" { print $2 }')
wait "$IDLE" || true
node "$LOAD" --port "$NPORT" --path "$P2K" --idle 10000 --hold 8 >"$TMP/idle-n.log" &
IDLE=$!
for _ in $(seq 1 100); do grep -q ready "$TMP/idle-n.log" && break; sleep 0.1; done
N1=$(rss_kb "$NPID")
wait "$IDLE" || true
stop "$HPID"
stop "$NPID"

log "RSS with 100 collections x 1k records"
redis-cli -p "$REDIS_PORT" flushall >/dev/null
for i in $(seq 1 100); do
    publish --bucket rss --collection "c$i" --version $((V0 + 1000 + i)) --records "$TMP/r1k.json" --no-notify
done
start_herald 2
sleep 1
RSS=$(rss_kb "$HPID")
SNAP=$(curl -s "http://127.0.0.1:$HPORT/metrics" | awk '/^herald_snapshot_body_bytes/ && /encoding="identity"/ { s += $2 } END { print s }')
stop "$HPID"

# ---- report -----------------------------------------------------------------------------
mkdir -p "$(dirname "$OUT")"
{
    echo "# herald-server vs nginx"
    echo
    echo "Generated by \`benchmarks/bench_server.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), load average before the run: $LOADAVG."
    echo "wrk on loopback, keep-alive, ${DUR} s per run, median of $ROUNDS alternating runs; 1 worker: server on CPU 1, wrk on CPU 0; 2 workers: unpinned (wrk -t2 shares the 2 CPUs)."
    echo "nginx $(nginx -v 2>&1 | sed 's/.*\///') serves the same bytes as static files ($([ "$FILE_CACHE" = 1 ] && echo "open_file_cache, " || echo "no open_file_cache, ")sendfile, access_log off, same extra headers)."
    echo
    echo "## Throughput, latency, CPU"
    echo
    echo "| scenario | workers | conns | Herald req/s | nginx req/s | ratio | Herald p50 / p99 ms | nginx p50 / p99 ms | p99 ratio | Herald CPU µs/req | nginx CPU µs/req | CPU ratio |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "## Deterministic (1 worker, $NREQ requests over 10 keep-alive connections, start-up excluded)"
    echo
    echo "| scenario | Herald instructions/req | nginx instructions/req | ratio | Herald syscalls/req | nginx syscalls/req | ratio |"
    echo "|---|---|---|---|---|---|---|"
    printf '%s\n' "${DET[@]}"
    echo
    echo "## Memory"
    echo
    echo "| measure | Herald | nginx |"
    echo "|---|---|---|"
    echo "| RSS, 100 collections x 1k records (identity changesets: $((SNAP / 1024)) KiB) | $((RSS / 1024)) MiB (target ≤ $(((3 * SNAP / 1024 + 32 * 1024) / 1024)) MiB) | - |"
    echo "| RSS growth, 10k idle keep-alive connections ($HC counted by Herald) | $(((H1 - H0) / 1024)) MiB ($(((H1 - H0) * 1024 / 10000)) B/conn) | $(((N1 - N0) / 1024)) MiB ($(((N1 - N0) * 1024 / 10000)) B/conn) |"
    echo
    echo "Targets (issue 5): instructions/req ≤ 0.4x nginx; ≤ 2.5 syscalls/req; CPU/req ≤ 0.8x nginx; req/s ≥ nginx; p99 ≤ 2 ms at 50 connections and ≤ nginx at 500; RSS ≤ 3x snapshot bytes + 32 MB."
} >"$OUT"
cat "$OUT"
