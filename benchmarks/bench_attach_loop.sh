#!/usr/bin/env bash
# How long the publisher's event loop is held by a large attachment upload: another
# client's small request (GET /v1/__lbheartbeat__, a new connection every
# ~5 ms) is timed before and during a 100 MB upload; prints the latency distribution of
# each phase and the upload's duration. Asserts nothing (timings live here, not in
# tests). The attachments directory is on disk (not tmpfs), so fsync costs what it
# costs in production:
#
#   benchmarks/bench_attach_loop.sh [BUILD_DIR] [SIZE_MB] [ROUNDS]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
export HERALD_BUILD_DIR=$(cd "${1:-$SRC/build}" && pwd)
MB=${2:-100}
source "$SRC/tests/support/harness.sh"

DIR=$(mktemp -d "$HERALD_BUILD_DIR/bench-attach.XXXXXX")
trap 'rm -rf "$DIR"; h_cleanup' EXIT
h_start_redis
HERALD_ATTACHMENTS_DIR=$DIR/files HERALD_ATTACHMENT_MAX_SIZE_BYTES=0 h_start_publisher
A=$H_AUTH
curl -sf -u "$A" -X PUT "$H_PUB/buckets/b" >/dev/null
curl -sf -u "$A" -X PUT "$H_PUB/buckets/b/collections/c" >/dev/null
head -c $((MB * 1000000)) /dev/urandom >"$DIR/big.bin"

# probe SECONDS OUT: heartbeats, each on a new connection, ~every 5 ms, for SECONDS or
# until $DIR/stop; one "start-time latency-ms" line per request in OUT (flushed: the
# caller waits for the first line, since a Python start can take seconds while the
# disk is busy).
probe() {
    python3 - "$H_PUB_PORT" "$1" "$2" "$DIR/stop" <<'PY'
import http.client, os, sys, time
port, secs, out, stop = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
end = time.monotonic() + secs
with open(out, "w") as f:
    while time.monotonic() < end and not os.path.exists(stop):
        t = time.monotonic()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.request("GET", "/v1/__lbheartbeat__")
        c.getresponse().read()
        c.close()
        f.write("%.6f %.3f\n" % (time.time() - (time.monotonic() - t), (time.monotonic() - t) * 1000))
        f.flush()
        time.sleep(0.005)
PY
}
# stats FILE [FROM TO]: the latencies of the requests started between FROM and TO.
stats() {
    awk -v a="${2:-0}" -v b="${3:-1e12}" '$1 >= a && $1 <= b {print $2}' "$1" | sort -n | awk '{v[NR]=$1} END {printf "n=%d p50=%.2f p99=%.2f max=%.2f ms\n", NR, v[int(NR*0.5)+1], v[int(NR*0.99)+1], v[NR]}'
}

sync
echo "== heartbeat latency, idle (2 s)"
probe 2 "$DIR/idle"
stats "$DIR/idle"
for round in $(seq 1 "${3:-3}"); do
    rm -f "$DIR/stop"
    rm -f "$DIR/during"
    probe 120 "$DIR/during" &
    P=$!
    until [ -s "$DIR/during" ]; do sleep 0.05; done
    t0=$(date +%s.%N)
    curl -sf -o /dev/null -u "$A" -F "attachment=@$DIR/big.bin;filename=big$round.bin" \
        "$H_PUB/buckets/b/collections/c/records/r$round/attachment"
    t1=$(date +%s.%N)
    touch "$DIR/stop"
    wait "$P"
    echo "== round $round: ${MB} MB upload $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f s", b-a}'); heartbeat during it:"
    stats "$DIR/during" "$t0" "$t1"
    # the same bytes again would be deduplicated: make the next round's content new
    printf 'x' >>"$DIR/big.bin"
    sync
done
