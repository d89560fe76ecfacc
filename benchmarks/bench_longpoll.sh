#!/usr/bin/env bash
# bench_longpoll.sh -- how many long-poll clients one read server holds, and how fast an
# edit reaches all of them (issue 14).
#
# One command, run by hand (not in CI):  HERALD_BUILD_DIR=build bash benchmarks/bench_longpoll.sh
# Writes benchmarks/results/longpoll.md (BENCH_OUT) and prints it. Loopback only; every
# wait is bounded in time. Needs: redis-server, redis-cli, curl, and a build of the
# three programs and benchmarks/longpoll_client.
#
# The whole chain runs: Redis (append-only, fsync always), herald-publisher,
# herald-signer, one herald-server (--threads 2). The open-file limit here is 20,000 per
# process (hard), so:
#  1. BENCH_CLIENTS (19,000) long-polls of the monitor changeset (If-None-Match: the
#     current version, Prefer: wait=60), spread over BENCH_PROCS (4) longpoll_client
#     processes, each from its own source address 127.0.0.2, .3, ... (each under the
#     limit, each far from exhausting its address's ephemeral ports). Once the server's
#     herald_long_poll_held gauge shows them all: server RSS per held connection
#     (VmRSS with them minus before), the kernel's TCP memory, and the server's CPU over
#     BENCH_IDLE seconds (10) while they wait. Then one record PUT through the publisher:
#     for each client, the time from the PUT's acknowledgement (the curl that sent it
#     returned) to the complete 200, as p50/p99/max (CLOCK_REALTIME on both sides).
#     That time includes the signer (consume, sign, store, notify) and the server's
#     load and verify of the new snapshot, and (lock-step, server/lockstep.h) the signed
#     monitor naming it: the server serves the new version only together with it; the
#     spread (last answer - first answer) is the fan-out alone. BENCH_PERF=1 prints a
#     perf profile of the server during the fan-out.
#  2. BENCH_ZSTD_CLIENTS (10,000) long-polls with Accept-Encoding: zstd of a collection
#     whose zstd changeset is ~80 KB; an edit; every client gets the whole zstd body.
#     The server's peak RSS (VmHWM, reset through /proc/PID/clear_refs before the edit)
#     against clients x body size: a copy per client would show as the latter.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${HERALD_BUILD_DIR:-$SRC/build}
NCLI=${BENCH_CLIENTS:-19000}
NPROC=${BENCH_PROCS:-4}
NZSTD=${BENCH_ZSTD_CLIENTS:-10000}
IDLE=${BENCH_IDLE:-10}
OUT=${BENCH_OUT:-$SRC/benchmarks/results/longpoll.md}
CLIENT=$BUILD/benchmarks/longpoll_client
export HERALD_ADMIN_PASSWORD=bench-s3cret
AUTH="admin:$HERALD_ADMIN_PASSWORD"

for c in redis-server redis-cli curl; do
    command -v "$c" >/dev/null || { echo "bench_longpoll: $c is missing" >&2; exit 1; }
done
for b in "$CLIENT" "$BUILD/server/herald-server" "$BUILD/publisher/herald-publisher" "$BUILD/signer/herald-signer"; do
    [ -x "$b" ] || { echo "bench_longpoll: build $b first" >&2; exit 1; }
done
HARD=$(ulimit -Hn)
ulimit -n "$HARD"
PER=$(((NCLI + NPROC - 1) / NPROC))
[ "$HARD" -gt $((NCLI + 100)) ] || { echo "bench_longpoll: the open-file limit ($HARD) is below $NCLI + 100 for the server" >&2; exit 1; }
[ "$HARD" -gt $((PER + 100)) ] || { echo "bench_longpoll: $PER clients per process exceed the limit $HARD" >&2; exit 1; }

BENCH_NAME=bench_longpoll
source "$SRC/benchmarks/bench_lib.sh"
log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

RPORT=$(free_port)
start_redis "$RPORT" "${REDIS_DURABLE[@]}"
REDIS=redis://127.0.0.1:$RPORT/0
PPORT=$(free_port)
start_publisher "$PPORT" "$RPORT"
PUB=http://127.0.0.1:$PPORT/v1
PUBKEY=$("$BUILD/signer/herald-signer" keygen --out "$TMP/key")
HERALD_LOG_LEVEL=warn "$BUILD/signer/herald-signer" --redis "$REDIS" --key "$TMP/key" 2>>"$TMP/signer.log" &
PIDS+=($!)
SPORT=$(free_port)
HERALD_LOG_LEVEL=warn "$BUILD/server/herald-server" --listen "127.0.0.1:$SPORT" --redis "$REDIS" \
    --public-key "$PUBKEY" --threads 2 2>>"$TMP/server.log" &
SPID=$!
PIDS+=("$SPID")
wait_port "$SPORT"
SRV=http://127.0.0.1:$SPORT

put() { curl -s -m 30 -o /dev/null -w '%{http_code}' -u "$AUTH" -X "${3:-PUT}" -H 'Content-Type: application/json' --data-binary "$2" "$PUB$1"; }
metric() { curl -s -m 10 "$SRV/metrics" | sed -n "s/^$1 //p"; }
etag() { curl -s -m 10 -D - -o /dev/null "$@" | tr -d '\r' | sed -n 's/^[Ee][Tt]ag: *"\([0-9]*\)"/\1/p'; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$SPID/status"; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$SPID/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SPID/stat"; }
cpu_us() { awk '{ print $14, $15 }' "/proc/$SPID/stat"; } # user, system (ticks)
tcp_mem_pages() { sed -n 's/^TCP: .* mem \([0-9]*\).*/\1/p' /proc/net/sockstat; }
# until_eq SECONDS EXPECTED COMMAND...: until COMMAND prints EXPECTED (bounded).
until_eq() {
    local deadline=$((SECONDS + $1)) want=$2
    shift 2
    until [ "$("$@")" = "$want" ]; do
        [ $SECONDS -lt $deadline ] || { log "timeout waiting for $* = $want (last: $("$@"))"; return 1; }
        sleep 0.2
    done
}
# edit PATH BODY: PUT through the publisher; prints the acknowledgement time (ns,
# CLOCK_REALTIME): taken before curl starts plus curl's total time, so process start-up
# counts against the latency reported (never for it).
edit() {
    local t0 tt code
    t0=$(date +%s%N)
    read -r code tt < <(curl -s -m 30 -o /dev/null -w '%{http_code} %{time_total}\n' -u "$AUTH" -X PUT \
        -H 'Content-Type: application/json' --data-binary "$2" "$PUB$1")
    [ "$code" = 201 ] || [ "$code" = 200 ] || { log "edit $1: HTTP $code"; return 1; }
    awk -v a="$t0" -v b="$tt" 'BEGIN { printf "%.0f\n", a + b * 1e9 }'
}
# stats ACK_NS FILE...: p50/p99/max/min ms from ACK_NS to each 200, and the count.
stats() {
    local ack=$1
    shift
    cat "$@" | awk -v a="$ack" '$2 == 200 { printf "%.3f\n", ($1 - a) / 1e6 }' | sort -n >"$TMP/lat"
    awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "n=0"; exit }
        i50 = int(NR * 0.50 + 0.999); i99 = int(NR * 0.99 + 0.999)
        printf "n=%d min=%.1f p50=%.1f p99=%.1f max=%.1f spread=%.1f\n", NR, v[1], v[i50], v[i99], v[NR], v[NR] - v[1] }' "$TMP/lat"
}
field() { sed -n "s/.*\b$1=\([-0-9.]*\).*/\1/p" <<<"$2"; }
# lockstep_wait: versions served after waiting staged for a committing signed monitor
# (server/lockstep.h), their summed wait and the fallbacks, since start.
lockstep_wait() {
    curl -s -m 10 "$SRV/metrics" | awk '/^herald_lockstep_wait_seconds_count / { n = $2 }
        /^herald_lockstep_wait_seconds_sum / { s = $2 } /^herald_lockstep_fallbacks_total / { f = $2 }
        END { printf "%d versions, %.0f ms waited in all, %d fallbacks", n, s * 1000, f }'
}

log "setup: bucket b, collections m (small) and big (~100 records of 1 KB random text)"
put /buckets/b '{"data":{},"permissions":{"read":["system.Everyone"]}}' >/dev/null
put /buckets/b/collections/m '{"data":{}}' >/dev/null
put /buckets/b/collections/big '{"data":{}}' >/dev/null
put /buckets/b/collections/m/records/r0 '{"data":{"n":0}}' >/dev/null
for batch in 0 1 2 3; do
    {
        printf '{"defaults":{"method":"PUT"},"requests":['
        for i in $(seq 0 24); do
            [ "$i" = 0 ] || printf ','
            printf '{"path":"/buckets/b/collections/big/records/r%d","body":{"data":{"t":"%s"}}}' \
                $((batch * 25 + i)) "$(head -c 768 /dev/urandom | base64 -w0)"
        done
        printf ']}'
    } >"$TMP/batch.json"
    [ "$(put /batch "@$TMP/batch.json" POST)" = 200 ] || { log "batch $batch failed"; exit 1; }
done
MON=/v1/buckets/monitor/collections/changes/changeset
BIG=/v1/buckets/b/collections/big/changeset
big_ts=$(redis-cli -p "$RPORT" GET 'herald:ts:/buckets/b/collections/big:record')
until_eq 60 "$big_ts" etag "$SRV$BIG"
sleep 2 # the background zstd upgrade of the new bodies

# ---- 1. 19,000 long-polls of the monitor ---------------------------------------------
m=$(etag "$SRV$MON")
rss0=$(rss_kb)
tcp0=$(tcp_mem_pages)
log "phase 1: $NCLI long-polls of the monitor (version $m) from $NPROC processes; server RSS $rss0 kB"
cpids=()
for i in $(seq 1 "$NPROC"); do
    n=$PER
    [ $((i * PER)) -le "$NCLI" ] || n=$((NCLI - (i - 1) * PER))
    "$CLIENT" --port "$SPORT" --source "127.0.0.$((i + 1))" --n "$n" --path "$MON" --etag "$m" \
        --wait 60 --timeout 150 --out "$TMP/mon.$i" 2>>"$TMP/client.log" &
    cpids+=($!)
done
t_start=$SECONDS
until_eq 120 "$NCLI" metric herald_long_poll_held
log "all $NCLI held after $((SECONDS - t_start)) s"
sleep 1
rss1=$(rss_kb)
tcp1=$(tcp_mem_pages)
conns=$(metric herald_http_connections)
fds=$(ls "/proc/$SPID/fd" | wc -l)
c0=$(cpu_ticks)
sleep "$IDLE"
c1=$(cpu_ticks)
hz=$(getconf CLK_TCK)
idle_cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" -v s="$IDLE" 'BEGIN { printf "%.2f", (b - a) / hz / s * 100 }')
per_conn=$(awk -v a="$rss0" -v b="$rss1" -v n="$NCLI" 'BEGIN { printf "%.0f", (b - a) * 1024 / n }')
log "held: RSS $rss1 kB ($per_conn B per connection), idle CPU $idle_cpu % over $IDLE s"
if [ "${BENCH_PERF:-0}" = 1 ]; then # a profile of the server during the fan-out
    perf record -q -o "$TMP/perf.data" -p "$SPID" 2>/dev/null &
    PERF_PID=$!
    sleep 1
fi
read -r u0 s0 < <(cpu_us)
ack=$(edit /buckets/b/collections/m/records/r1 '{"data":{"n":1}}')
for p in "${cpids[@]}"; do wait "$p" || log "a client process reported failures (see $TMP/client.log)"; done
read -r u1 s1 < <(cpu_us)
us_per=$(awk -v u="$((u1 - u0))" -v s="$((s1 - s0))" -v hz="$hz" -v n="$NCLI" 'BEGIN { printf "%.1f", (u + s) * 1e6 / hz / n }')
fan_cpu=$(awk -v u="$((u1 - u0))" -v s="$((s1 - s0))" -v hz="$hz" -v n="$NCLI" \
    'BEGIN { printf "%.0f ms user + %.0f ms system = %.1f us per answer", u * 1000 / hz, s * 1000 / hz, (u + s) * 1e6 / hz / n }')
log "server CPU for the fan-out (load and verify included): $fan_cpu"
if [ -n "${PERF_PID:-}" ]; then
    kill -INT "$PERF_PID"
    wait "$PERF_PID" || true
    # (head closes the pipe early: without '|| true', pipefail ended the run here)
    { perf report -i "$TMP/perf.data" --stdio --sort dso,sym 2>/dev/null | grep -v '^#' | head -40 >&2; } || true
fi
mon_stats=$(stats "$ack" "$TMP"/mon.*)
ls_mon=$(lockstep_wait)
log "monitor: $mon_stats"
cat "$TMP/client.log" >&2

# Let phase 1's connections go (the clients exited: the server sees EOF).
until_eq 60 0 metric herald_long_poll_held
sleep 2

# ---- 2. 10,000 zstd long-polls of a ~80 KB changeset ---------------------------------
v=$(etag "$SRV$BIG")
zlen=$(curl -s -m 10 -H 'Accept-Encoding: zstd' "$SRV$BIG" | wc -c)
ilen=$(curl -s -m 10 "$SRV$BIG" | wc -c)
ZPROC=$(((NZSTD + 4999) / 5000))
ZPER=$(((NZSTD + ZPROC - 1) / ZPROC))
log "phase 2: $NZSTD zstd long-polls of big (version $v, zstd $zlen B, identity $ilen B)"
cpids=()
for i in $(seq 1 "$ZPROC"); do
    n=$ZPER
    [ $((i * ZPER)) -le "$NZSTD" ] || n=$((NZSTD - (i - 1) * ZPER))
    "$CLIENT" --port "$SPORT" --source "127.0.0.$((i + 11))" --n "$n" --path "$BIG" --etag "$v" \
        --wait 60 --zstd --timeout 150 --out "$TMP/big.$i" 2>>"$TMP/client2.log" &
    cpids+=($!)
done
until_eq 120 "$NZSTD" metric herald_long_poll_held
sleep 1
zrss0=$(rss_kb)
echo 5 >"/proc/$SPID/clear_refs" 2>/dev/null || log "cannot reset VmHWM (not the owner?)"
hwm0=$(hwm_kb)
ack=$(edit /buckets/b/collections/big/records/r0 '{"data":{"t":"edited"}}')
for p in "${cpids[@]}"; do wait "$p" || log "a zstd client process reported failures (see $TMP/client2.log)"; done
hwm1=$(hwm_kb)
zrss1=$(rss_kb)
big_stats=$(stats "$ack" "$TMP"/big.*)
ls_big=$(lockstep_wait)
nzlen=$(curl -s -m 10 -H 'Accept-Encoding: zstd' "$SRV$BIG" | wc -c)
# The zstd body is re-compressed at the best level in the background after a new version
# arrives, so early answers carry the first (level 3) body and later ones the upgrade.
full=$(cat "$TMP"/big.* | awk '$2 == 200 && $3 > 0 { n++ } END { print n + 0 }')
sizes=$(cat "$TMP"/big.* | awk '$2 == 200 { c[$3]++ } END { for (s in c) printf "%s%d B x %d", (k++ ? ", " : ""), s, c[s] }')
log "zstd: $big_stats; $full bodies ($sizes); HWM $hwm0 -> $hwm1 kB"
cat "$TMP/client2.log" >&2

# ---- report ----------------------------------------------------------------------------
mkdir -p "$(dirname "$OUT")"
copy_mb=$(awk -v n="$NZSTD" -v z="$nzlen" 'BEGIN { printf "%.0f", n * z / 1048576 }')
grow_mb=$(awk -v a="$hwm0" -v b="$hwm1" 'BEGIN { printf "%.1f", (b - a) / 1024 }')
page=$(getconf PAGESIZE)
tcp_per=$(awk -v a="$tcp0" -v b="$tcp1" -v n="$NCLI" -v p="$page" 'BEGIN { printf "%.0f", (b - a) * p / n }')
{
    echo "# Long-poll benchmark (bench_longpoll.sh)"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores shared with other work (load average $(cut -d' ' -f1-3 /proc/loadavg) at the end), loopback, one herald-server --threads 2, open-file limit $HARD per process."
    echo
    echo "## 1. $NCLI clients long-polling the monitor ($NPROC load processes, 127.0.0.2-$((NPROC + 1)))"
    echo
    echo "| measure | value |"
    echo "|---|---|"
    echo "| held (gauge), open connections, server fds | $NCLI, $conns, $fds |"
    echo "| server RSS before / while holding | $rss0 kB / $rss1 kB |"
    echo "| **server RSS per held connection** | **$per_conn B** |"
    echo "| kernel TCP memory per connection (both ends, /proc/net/sockstat) | $tcp_per B |"
    echo "| **server CPU while holding, idle** ($IDLE s) | **$idle_cpu %** of one core |"
    echo "| 200s received | $(field n "$mon_stats") of $NCLI |"
    echo "| **edit acknowledged -> client has its 200: p50 / p99 / max** | **$(field p50 "$mon_stats") / $(field p99 "$mon_stats") / $(field max "$mon_stats") ms** |"
    echo "| first answer (the chain: signer + server load and verify) | $(field min "$mon_stats") ms |"
    echo "| fan-out (last answer - first answer) | $(field spread "$mon_stats") ms |"
    echo "| server CPU from the edit to the last answer (snapshot load included) | $fan_cpu |"
    echo "| lock-step since start: versions served after waiting staged for their signed monitor | $ls_mon |"
    echo
    echo "## 2. $NZSTD clients, Accept-Encoding: zstd, collection changeset ($nzlen B zstd, $ilen B identity)"
    echo
    echo "| measure | value |"
    echo "|---|---|"
    echo "| complete zstd bodies received (sizes: the first encoding, then the background upgrade) | $full of $NZSTD ($sizes) |"
    echo "| edit acknowledged -> 200: p50 / p99 / max | $(field p50 "$big_stats") / $(field p99 "$big_stats") / $(field max "$big_stats") ms |"
    echo "| server RSS holding / after | $zrss0 kB / $zrss1 kB |"
    echo "| **server peak RSS growth during the fan-out** (VmHWM) | **$grow_mb MB** |"
    echo "| what one copy per client would take ($NZSTD x $nzlen B) | $copy_mb MB |"
    echo "| lock-step since start (as above) | $ls_big |"
    echo
    echo "## On paper: one server holding 1,000,000 (a raised open-file limit)"
    echo
    awk -v pc="$per_conn" -v us="$us_per" -v t=2 'BEGIN {
        printf "- Server memory: 1,000,000 x %d B = %.0f MB of RSS, plus the kernel'"'"'s socket state (an idle\n", pc, pc * 1e6 / 1048576
        printf "  established TCP socket with empty queues is ~2 KB of slab: ~2 GB; buffers are only\n"
        printf "  allocated while data is queued).\n"
        printf "- Notification: %.1f us of server CPU per answer measured here (mostly the kernel'"'"'s loopback\n", us
        printf "  send and receive path) -> %.1f s of CPU for 1,000,000 answers: %.1f s with %d worker threads,\n", us, us / t, t
        printf "  %.2f s with 16 (workers share nothing but the set; each answers its own waiters).\n", us / 16
        printf "  On a real NIC the receiver'"'"'s half of that cost is not the server'"'"'s.\n"
        printf "- The registry costs one lookup per distinct (collection, version) waited on per publish,\n"
        printf "  whatever the number of waiters; idle cost is the 250 ms sweep of one wheel slot per worker.\n"
    }'
} >"$OUT"
cat "$OUT"
