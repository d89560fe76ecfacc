#!/usr/bin/env bash
# How long the publisher's event loop stalls while the attachment GC runs
# (publisher/attachment_gc.h): a store of FILES files (half of them referenced by
# records, half orphans) and a pass every second; a small request
# (GET /v1/__lbheartbeat__, a new connection every ~2 ms) is timed for SECONDS; prints
# the latency distribution and the longest one. Asserts nothing (timings live here).
#
#   benchmarks/bench_attach_gc.sh [BUILD_DIR] [FILES] [SECONDS]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
export HERALD_BUILD_DIR=$(cd "${1:-$SRC/build}" && pwd)
N=${2:-50000}
SECS=${3:-8}
source "$SRC/tests/support/harness.sh"

DIR=$(mktemp -d "$HERALD_BUILD_DIR/bench-gc.XXXXXX")
trap 'rm -rf "$DIR"; h_cleanup' EXIT
h_start_redis
# The store and the records, written directly (an upload each would take minutes).
python3 - "$DIR/files" "$N" "$DIR/redis.txt" <<'PY'
import hashlib, os, sys
d, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.makedirs(d + "/tmp", exist_ok=True)
with open(out, "w") as f:
    for i in range(n):
        h = hashlib.sha256(b"f%d" % i).hexdigest()
        os.makedirs("%s/%s" % (d, h[:2]), exist_ok=True)
        with open("%s/%s/%s" % (d, h[:2], h), "wb") as g:
            g.write(b"f%d" % i)
        if i % 2 == 0:
            rec = '{"id":"r%d","last_modified":1,"attachment":{"hash":"%s","size":%d}}' % (i, h, len(b"f%d" % i))
            f.write('HSET herald:objs:/buckets/b/collections/c%d:record r%d %s\n' % (i % 100, i, rec.replace('"', '\\"').join('""')))
PY
h_redis <"$DIR/redis.txt" >/dev/null
HERALD_ATTACHMENTS_DIR=$DIR/files HERALD_ATTACHMENT_GC_INTERVAL_SECONDS=1 h_start_publisher
sleep 1
python3 - "$H_PUB_PORT" "$SECS" <<'PY'
import http.client, sys, time
port, secs = int(sys.argv[1]), float(sys.argv[2])
lat = []
end = time.monotonic() + secs
while time.monotonic() < end:
    t = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    c.request("GET", "/v1/__lbheartbeat__")
    c.getresponse().read()
    c.close()
    lat.append((time.monotonic() - t) * 1000)
    time.sleep(0.002)
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print("requests %d  p50 %.2f ms  p99 %.2f ms  max %.2f ms" % (len(lat), q(0.5), q(0.99), lat[-1]))
PY
curl -s "${H_PUB%/v1}/metrics" | grep '^herald_attachment_files\|^herald_attachment_orphans' || true
