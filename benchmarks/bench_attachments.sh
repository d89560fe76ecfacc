#!/usr/bin/env bash
# bench_attachments.sh -- attachments (issue 12): downloads from herald-server against
# nginx serving the same files with sendfile, upload throughput against the disk's own
# direct-write speed, and edit -> served on a read server with its own directory.
#
# Needs: nginx, wrk, redis-server, curl, dd; a Release build in $HERALD_BUILD_DIR
# (default build/). The one command:
#   HERALD_BUILD_DIR=build-rel benchmarks/bench_attachments.sh [SECONDS per wrk run, default 5]
# Compare builds of herald-server in the same run (e.g. main's and this branch's):
#   BENCH_BUILDS="main:/path/to/main/build-rel this:build-rel" HERALD_BUILD_DIR=build-rel ...
# BENCH_ROUNDS (default 3): each (server, size) is measured that many times, the
# servers interleaved in every round (a shared machine's load changes over a run); the
# table has the median round of each. BENCH_DOWNLOADS_ONLY=1: part 1 only. BENCH_PIN=1:
# servers on CPU 0, the client on CPU 1 (below).
#
#  1. Downloads: a 1 MB and a 50 MB attachment, wrk (1 thread, 4 keep-alive
#     connections) against herald-server (1 worker thread, sharing the publisher's
#     attachments_dir) and nginx (worker_processes 1, sendfile on, tcp_nopush on, the
#     same files): like for like, one worker each, keep-alive on both; requests/s,
#     MB/s and CPU time per GB served (utime+stime from /proc): of the server's
#     worker thread, of its whole process, of the client (wrk) and server + client.
#  2. Upload: a 200 MB file POSTed with curl to the publisher (multipart, streamed to
#     disk, fsync'd) in MB/s, against `dd if=/dev/zero bs=1M oflag=direct` to the same
#     file system.
#  3. Edit -> served: the time from the start of a 50 MB upload until a client has the
#     whole file, checked, from a read server with its own directory (it fetches from
#     the first read server on the miss, checks the SHA-256, stores, serves).
# Timings vary with the machine; this is not a test.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${HERALD_BUILD_DIR:-$SRC/build}
DUR=${1:-5}
BUILDS=${BENCH_BUILDS:-"this:$BUILD"}
ROUNDS=${BENCH_ROUNDS:-3}
for c in nginx wrk redis-server curl dd; do
    command -v "$c" >/dev/null || { echo "bench_attachments: needs $c" >&2; exit 1; }
done
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-attach.XXXXXX")
chmod 755 "$TMP"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
now() { date +%s.%N; }
HZ=$(getconf CLK_TCK)
# BENCH_PIN=1: the servers compared on CPU 0, wrk on CPU 1 (taskset). Unpinned, a run
# mixes rounds where the two share a CPU and rounds where they do not (bimodal 50 MB
# rounds: 16 and 24 req/s for both servers), and the server's share of the loopback's
# softirq work with them.
PIN_SRV=() PIN_CLI=()
if [ "${BENCH_PIN:-0}" = 1 ]; then
    command -v taskset >/dev/null || { echo "bench_attachments: BENCH_PIN needs taskset" >&2; exit 1; }
    PIN_SRV=(taskset -c 0) PIN_CLI=(taskset -c 1)
fi

RPORT=$(port) PPORT=$(port) S2PORT=$(port) NPORT=$(port)
redis-server --port "$RPORT" --save '' --appendonly no >/dev/null &
PIDS+=($!)
wait_port "$RPORT"
export HERALD_ADMIN_PASSWORD=bench
FILES=$TMP/files
"$BUILD/publisher/herald-publisher" --listen "127.0.0.1:$PPORT" --redis "redis://127.0.0.1:$RPORT/0" \
    --attachments-dir "$FILES" --attachment-max-size-bytes 0 --log-level warn 2>"$TMP/pub.log" &
PIDS+=($!)
wait_port "$PPORT"
KEY=A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg # no snapshots are needed to serve files
# One herald-server per build compared, each 1 worker thread, sharing the directory.
NAMES=() HPIDS=() HPORTS=()
for b in $BUILDS; do
    p=$(port)
    "${PIN_SRV[@]}" "${b#*:}/server/herald-server" --listen "127.0.0.1:$p" --redis "redis://127.0.0.1:$RPORT/0" \
        --public-key "$KEY" --threads 1 --attachments-dir "$FILES" --log-level warn 2>>"$TMP/srv.log" &
    PIDS+=($!)
    NAMES+=("herald ${b%%:*}") HPIDS+=($!) HPORTS+=("$p")
    wait_port "$p"
done
SPORT=${HPORTS[0]}
"$BUILD/server/herald-server" --listen "127.0.0.1:$S2PORT" --redis "redis://127.0.0.1:$RPORT/0" \
    --public-key "$KEY" --threads 1 --attachments-dir "$TMP/files2" \
    --attachment-origin "http://127.0.0.1:$SPORT/attachments/" --log-level warn 2>"$TMP/srv2.log" &
PIDS+=($!)
wait_port "$S2PORT"
mkdir -p "$TMP/nginx/logs"
cat >"$TMP/nginx/nginx.conf" <<NGX
worker_processes 1;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$NPORT;
        location /attachments/ {
            alias $FILES/;
            add_header Cache-Control "public, max-age=31536000, immutable";
        }
    }
}
NGX
"${PIN_SRV[@]}" nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" 2>>"$TMP/nginx/logs/stderr" &
NPID=$!
PIDS+=($NPID)
wait_port "$NPORT"

P=http://admin:bench@127.0.0.1:$PPORT/v1
curl -sf -X PUT "$P/buckets/b" -o /dev/null
curl -sf -X PUT "$P/buckets/b/collections/c" -o /dev/null
upload() { curl -sf -F "attachment=@$1" "$P/buckets/b/collections/c/records/$2/attachment" | python3 -c 'import json,sys; print(json.load(sys.stdin)["location"])'; }
head -c 1000000 /dev/urandom >"$TMP/1m.bin"
head -c 50000000 /dev/urandom >"$TMP/50m.bin"
L1=$(upload "$TMP/1m.bin" one)
L50=$(upload "$TMP/50m.bin" fifty)
for l in "$L1" "$L50"; do
    cmp -s <(curl -s "http://127.0.0.1:$SPORT/attachments/$l") <(curl -s "http://127.0.0.1:$NPORT/attachments/$l") ||
        { echo "bench_attachments: herald and nginx serve different bytes" >&2; exit 1; }
done

# CPU ticks (utime+stime) of every thread of PID, "tid ticks" a line.
thread_ticks() { for t in /proc/"$1"/task/*; do echo "${t##*/} $(cut -d')' -f2 "$t/stat" | awk '{print $12 + $13}')"; done; }
# wrk_run PID URL SIZE: prints "req/s MB/s worker process client total" (CPU s/GB each).
# On loopback the receiver's TCP work (softirq) is charged to whichever process runs
# when it is done, server or client, so the server's own figure moves with scheduling:
# the client's CPU (wrk, from the shell's `times`) and the sum are printed beside it.
# "worker" is the server's busiest thread (herald-server's one worker; nginx's worker
# is one thread), "process" every thread (herald-server's sync and compressor too).
wrk_run() {
    local pid=$1 url=$2 out rps
    "${PIN_CLI[@]}" wrk -t1 -c4 -d1s "$url" >/dev/null 2>&1 # warm-up
    thread_ticks "$pid" | sort >"$TMP/t0"
    out=$(
        "${PIN_CLI[@]}" wrk -t1 -c4 -d"${DUR}s" "$url"
        times
    )
    thread_ticks "$pid" | sort >"$TMP/t1"
    rps=$(awk '/^Requests\/sec/{print $2}' <<<"$out")
    # times: the shell's line, then its children's (wrk): "0m1.234s 0m0.567s"
    local client
    client=$(tail -1 <<<"$out" | awk '{n = 0; for (i = 1; i <= 2; i++) {split($i, a, /[ms]/); n += a[1] * 60 + a[2]} print n}')
    join "$TMP/t0" "$TMP/t1" | awk -v r="$rps" -v d="$DUR" -v s="$3" -v hz="$HZ" -v cl="$client" '
        {x = $3 - $2; all += x; if (x > top) top = x}
        END {gb = r * d * s / 1e9; if (gb <= 0) gb = 1e-9
             printf "%.1f %.1f %.3f %.3f %.3f %.3f\n", r, r * s / 1e6, top / hz / gb, all / hz / gb,
                 cl / gb, (all / hz + cl) / gb}'
}
NGW=$(pgrep -P "$NPID" | head -1)
ALL_NAMES=("nginx" "${NAMES[@]}") ALL_PIDS=("$NGW" "${HPIDS[@]}") ALL_PORTS=("$NPORT" "${HPORTS[@]}")
echo "== downloads (wrk -t1 -c4 keep-alive, ${DUR}s x $ROUNDS rounds, interleaved; 1 worker each; median round)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); pinned: ${BENCH_PIN:-0}"
for f in "1MB $L1 1000000" "50MB $L50 50000000"; do
    set -- $f
    for r in $(seq "$ROUNDS"); do
        for i in "${!ALL_NAMES[@]}"; do
            echo "$i $(wrk_run "${ALL_PIDS[$i]}" "http://127.0.0.1:${ALL_PORTS[$i]}/attachments/$2" "$3")" >>"$TMP/dl-$1"
        done
    done
done
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo "CPU s/GB: worker = the server's busiest thread (herald: its worker; nginx: its worker),"
echo "process = all its threads, client = wrk, total = process + client (loopback: the"
echo "receiver's TCP work is charged to whichever side runs, so compare totals too)"
printf '| %-14s | %-5s | %8s | %7s | %6s | %7s | %6s | %6s | %s\n' server size req/s MB/s worker process client total "rounds (req/s)"
printf '|%s|\n' "----------------|-------|----------|---------|--------|---------|--------|--------|---------------"
for f in 1MB 50MB; do
    for i in "${!ALL_NAMES[@]}"; do
        # the median round by req/s, and every round's req/s
        med=$(awk -v i="$i" '$1 == i {print $2, $3, $4, $5, $6, $7}' "$TMP/dl-$f" | sort -n | awk '{a[NR]=$0} END{print a[int((NR+1)/2)]}')
        all=$(awk -v i="$i" '$1 == i {printf "%s%s", s, $2; s=" "}' "$TMP/dl-$f")
        set -- $med
        printf '| %-14s | %-5s | %8s | %7s | %6s | %7s | %6s | %6s | %s\n' "${ALL_NAMES[$i]}" "$f" "$1" "$2" "$3" "$4" "$5" "$6" "$all"
    done
done

if [ "${BENCH_DOWNLOADS_ONLY:-0}" = 1 ]; then exit 0; fi
echo "== upload (200 MB, median of 3)"
head -c 200000000 /dev/urandom >"$TMP/200m.bin"
rates=()
for i in 1 2 3; do
    t0=$(now)
    curl -sf -o /dev/null -F "attachment=@$TMP/200m.bin;filename=u$i.bin" "$P/buckets/b/collections/c/records/up$i/attachment"
    t1=$(now)
    rates+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", 200/(b-a)}')")
    rm -f "$FILES"/*/"$(sha256sum "$TMP/200m.bin" | cut -d' ' -f1)" # a new file each time
done
UP=$(printf '%s\n' "${rates[@]}" | sort -n | sed -n 2p)
DD=$(dd if=/dev/zero of="$FILES/dd.test" bs=1M count=200 oflag=direct 2>&1 | awk '/copied/{print $(NF-1), $NF}')
rm -f "$FILES/dd.test"
printf 'publisher upload: %s MB/s   dd oflag=direct: %s\n' "$UP" "$DD"

echo "== edit -> served (50 MB, read server with its own directory, fetch on miss)"
head -c 50000000 /dev/urandom >"$TMP/e.bin"
H=$(sha256sum "$TMP/e.bin" | cut -d' ' -f1)
t0=$(now)
L=$(upload "$TMP/e.bin" edit)
t1=$(now)
curl -sf "http://127.0.0.1:$S2PORT/attachments/$L" -o "$TMP/got"
t2=$(now)
[ "$(sha256sum "$TMP/got" | cut -d' ' -f1)" = "$H" ] || { echo "bench_attachments: wrong bytes" >&2; exit 1; }
awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN{printf "upload acknowledged %.3f s; downloaded, checked, from the other read server at %.3f s\n", b-a, c-a}'
