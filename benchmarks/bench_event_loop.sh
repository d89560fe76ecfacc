#!/usr/bin/env bash
# How free the event loops stay under work they must not wait for. Prints figures, asserts
# nothing (the integration tests check the behaviour by order of events instead):
#  - the publisher's __lbheartbeat__ round trip while 16 argon2id checks run on its
#    password workers (tests/support/loop_probe.cjs; test_publisher_api.sh checks the
#    heartbeat is answered while checks are pending);
#  - the CPU share of each server holding 90 connections at a limit of 64 descriptors
#    (test_fd_limit.sh checks it is under half a busy loop's).
#
#   benchmarks/bench_event_loop.sh [BUILD_DIR] [ROUNDS]
#
# Starts its own Redis and services on free loopback ports (tests/support/harness.sh).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
export HERALD_BUILD_DIR=$(cd "${1:-$SRC/build}" && pwd)
ROUNDS=${2:-5}
source "$SRC/tests/support/harness.sh"

h_start_redis
h_keygen
HERALD_TRUSTED_FORWARDED_FOR_DEPTH=1 h_start_publisher # the probe sends from distinct addresses
[ "$(h_put /accounts/bob '{"data":{"password":"bob-pw"}}')" = 201 ] || { h_log "cannot create the account"; exit 1; }

echo "publisher __lbheartbeat__ during 16 argon2id checks (ms):"
for i in $(seq 1 "$ROUNDS"); do
    out=$(node "$SRC/tests/support/loop_probe.cjs" "$H_PUB_PORT" bob 16)
    echo "  round $i: ${out##*latency_ms=} ms (${out%% *} when answered)"
done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# cpu_at_limit NAME PORT PID: the CPU share of PID over 1 s while 90 connections wait.
cpu_at_limit() {
    node -e '
const net = require("net"), all = [];
for (let i = 0; i < 90; i++) {
  const s = net.connect(+process.argv[1], "127.0.0.1"); s.on("error", () => {}); all.push(s);
  s.on("connect", () => s.write("GET /v1/__lbheartbeat__ HTTP/1.1\r\nHost: t\r\n\r\n"));
}
setTimeout(() => { all.forEach((s) => s.destroy()); process.exit(0); }, 2500);' "$2" &
    local holder=$! t1 t2
    sleep 1
    t1=$(ticks "$3")
    sleep 1
    t2=$(ticks "$3")
    wait "$holder"
    echo "$1 at the descriptor limit: $(((t2 - t1) * 100 / $(getconf CLK_TCK)))% of a core"
}
PORT=$(h_free_port)
(ulimit -n 64 && exec "$H_BUILD/publisher/herald-publisher" --listen "127.0.0.1:$PORT" \
    --redis "$H_REDIS_URL" 2>>"$H_TMP/limited-publisher.log") &
PID=$!
H_PIDS+=("$PID")
h_wait_port "$PORT" 20 "$PID"
cpu_at_limit publisher "$PORT" "$PID"
PORT=$(h_free_port)
(ulimit -n 64 && exec "$H_BUILD/server/herald-server" --listen "127.0.0.1:$PORT" \
    --redis "$H_REDIS_URL" --public-key "$H_PUBKEY" --threads 1 2>>"$H_TMP/limited-server.log") &
PID=$!
H_PIDS+=("$PID")
h_wait_port "$PORT" 20 "$PID"
cpu_at_limit server "$PORT" "$PID"
