#!/usr/bin/env bash
# How long the publisher and the read server take to act on their request-head and idle
# timeouts, and the publisher on SIGTERM. Prints figures, asserts nothing: the
# integration tests check the same behaviour by order of events and lower bounds
# (test_publisher_http.sh, test_server_endpoints.sh), never by how fast it happens.
#  - publisher, header timeout 2 s: from the connect to the 408, for a head sent
#    incomplete at once;
#  - publisher, idle timeout 1 s: from the answer to the silent close of a kept-alive
#    connection;
#  - publisher, SIGTERM: from the signal to the close of an idle kept-alive connection;
#  - read server, header timeout 1 s: from the connect to the 408, for a head trickled
#    one line every 300 ms.
#
#   benchmarks/bench_timeouts.sh [BUILD_DIR] [ROUNDS]
#
# Starts its own Redis and services on free loopback ports (tests/support/harness.sh).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
export HERALD_BUILD_DIR=$(cd "${1:-$SRC/build}" && pwd)
ROUNDS=${2:-3}
source "$SRC/tests/support/harness.sh"

h_start_redis
h_keygen
h_start_publisher --publisher_header_timeout_seconds 2 --publisher_idle_timeout_seconds 1

# ms_until_eof REQUEST: connects, sends REQUEST (printf format), waits for the close;
# prints the milliseconds from the connect, and from the end of the first answer.
ms_until_eof() {
    local t0 t1 line
    t0=$(h_now_ms)
    exec 3<>"/dev/tcp/127.0.0.1/$H_PUB_PORT"
    # shellcheck disable=SC2059
    printf "$1" >&3
    t1=
    while IFS= read -r -t 20 line <&3; do
        [ -n "$t1" ] || [ "$line" != $'\r' ] || t1=$(h_now_ms) # end of the answer's head
    done
    local t2
    t2=$(h_now_ms)
    exec 3<&-
    echo "$((t2 - t0)) ${t1:+$((t2 - t1))}"
}

echo "publisher (header timeout 2 s, idle timeout 1 s):"
for i in $(seq 1 "$ROUNDS"); do
    set -- $(ms_until_eof 'GET /v1/ HTTP/1.1\r\nHost: x\r\n')
    echo "  round $i: incomplete head answered 408 and closed $1 ms after the connect"
done
for i in $(seq 1 "$ROUNDS"); do
    # The close is taken when `read` meets EOF (the body has no final newline, so the
    # last line and EOF come together).
    set -- $(ms_until_eof 'GET /v1/__lbheartbeat__ HTTP/1.1\r\nHost: x\r\n\r\n')
    echo "  round $i: idle kept-alive connection closed ${2:-?} ms after its answer's head"
done

echo "publisher (default settings), SIGTERM:"
H_PUB_PORT=
h_start_publisher
for i in $(seq 1 "$ROUNDS"); do
    exec 3<>"/dev/tcp/127.0.0.1/$H_PUB_PORT"
    printf 'GET /v1/__lbheartbeat__ HTTP/1.1\r\nHost: x\r\n\r\n' >&3
    sleep 0.3 # answered and idle
    t0=$(h_now_ms)
    kill -TERM "$H_PUB_PID"
    timeout 20 cat <&3 >/dev/null || true
    echo "  round $i: idle kept-alive connection closed $(($(h_now_ms) - t0)) ms after the signal"
    exec 3<&-
    wait "$H_PUB_PID" || true
    H_PUB_PORT=
    [ "$i" = "$ROUNDS" ] || h_start_publisher
done

printf 'server_header_timeout_seconds = 1\n' >"$H_TMP/server.conf"
h_start_server --threads 1 --config "$H_TMP/server.conf"
echo "read server (header timeout 1 s):"
for i in $(seq 1 "$ROUNDS"); do
    ms=$(node -e '
const s = require("net").connect(+process.argv[1], "127.0.0.1");
const t0 = process.hrtime.bigint();
let n = 0, timer;
const line = () => { s.write(n++ ? `X-${n}: t\r\n` : "GET /v1/__lbheartbeat__ HTTP/1.1\r\nHost: t\r\n"); timer = setTimeout(line, 300); };
s.on("connect", line);
s.on("error", () => {});
s.on("close", () => { clearTimeout(timer); console.log((Number(process.hrtime.bigint() - t0) / 1e6).toFixed(0)); });' "$H_SRV_PORT")
    echo "  round $i: trickled head answered 408 and closed $ms ms after the connect"
done
