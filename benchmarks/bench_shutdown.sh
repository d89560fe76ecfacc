#!/usr/bin/env bash
# How long the read server takes over each step of a SIGTERM. Prints figures, asserts
# nothing; test_server_sigterm.sh checks the same steps by order of events:
#  - an idle keep-alive connection: from SIGTERM to its EOF;
#  - a 12 MB response read at 3 MB/s by a client with an 8 KB receive buffer
#    (tests/support/slowread.pl): from the reader's last byte to the server's exit;
#  - a reader that stalls, with server_drain_timeout_seconds = 2: from SIGTERM to exit.
#
#   benchmarks/bench_shutdown.sh [BUILD_DIR]
#
# The snapshot is written by benchmarks/server_fixture, signed as the signer would.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
export HERALD_BUILD_DIR=$(cd "${1:-$SRC/build}" && pwd)
source "$SRC/tests/support/harness.sh"
FIX=$H_BUILD/benchmarks/server_fixture

h_start_redis
H_PUBKEY=$("$FIX" keygen --out "$H_TMP/k")
V=$(($(h_now_ms) - 1000))
"$FIX" publish --redis "$H_REDIS_URL" --key "$H_TMP/k" --bucket b --collection big --version "$V" \
    --generate 240 --record-bytes 50000
PATH_CS="/v1/buckets/b/collections/big/changeset?_expected=$V"

# serve DRAIN: a server with that drain bound, once it serves the snapshot.
serve() {
    echo "server_drain_timeout_seconds = $1" >"$H_TMP/server.conf"
    H_SRV_PORT=
    h_start_server --threads 2 --config "$H_TMP/server.conf"
    h_wait_for 60 h_served_at "$H_SRV/buckets/b/collections/big/changeset?_expected=0" "$V"
}
slowread() { perl "$SRC/tests/support/slowread.pl" "$H_SRV_PORT" "$PATH_CS" "$@"; }

serve 60
exec 5<>"/dev/tcp/127.0.0.1/$H_SRV_PORT"
printf 'GET /v1/__version__ HTTP/1.1\r\nHost: t\r\n\r\n' >&5
read -r -t 5 _ <&5
slowread 3000000 /dev/null >"$H_TMP/slow.out" &
slow=$!
sleep 0.7
t0=$(h_now_ms)
kill -TERM "$H_SRV_PID"
timeout 20 cat <&5 >/dev/null || true
echo "idle keep-alive connection closed $(($(h_now_ms) - t0)) ms after SIGTERM"
exec 5<&-
wait "$slow" || true
t1=$(h_now_ms)
wait "$H_SRV_PID" || true
echo "server exited $(($(h_now_ms) - t1)) ms after the slow reader's last byte ($(cat "$H_TMP/slow.out"): status, received, length)"

serve 2
slowread 2000 /dev/null 5 >/dev/null &
stalled=$!
sleep 0.5
t0=$(h_now_ms)
kill -TERM "$H_SRV_PID"
wait "$H_SRV_PID" || true
echo "with a stalled reader and a 2 s drain bound, the server exited $(($(h_now_ms) - t0)) ms after SIGTERM"
wait "$stalled" || true
