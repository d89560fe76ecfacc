#!/usr/bin/env bash
# Repeats the two login probes of issue 18 against a real herald-publisher (a private
# Redis and publisher on free loopback ports, one account 'alice' created through the
# API) and prints what it sees; it asserts nothing.
#
#   1. timing: wrong passwords for the existing 'alice' and for unknown accounts,
#      interleaved, N of each (median, ms). Each try comes with a fresh
#      X-Forwarded-For address and the publisher trusts one proxy, so the throttle does
#      not step in (a publisher without throttle ignores the header).
#   2. 300 concurrent guesses of alice's password from one address: how many got
#      401/429/503, the publisher's RSS before and after, the time taken, and the
#      CPU the publisher spent.
#
#   benchmarks/bench_login.sh [BUILD_DIR] [N]
#
# BUILD_DIR defaults to ./build (publisher/herald-publisher); N to 15. Needs node.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
N=${2:-15}
BENCH_NAME=bench_login
source "$SRC/benchmarks/bench_lib.sh"

rport=$(free_port)
start_redis "$rport" "${REDIS_DURABLE[@]}"

pport=$(free_port)
export HERALD_ADMIN_PASSWORD=bench-admin
export HERALD_ACCOUNT_CREATE_PRINCIPALS=system.Everyone
export HERALD_TRUSTED_FORWARDED_FOR_DEPTH=1
start_publisher "$pport" "$rport"
PID=$PUB_PID
URL="http://127.0.0.1:$pport/v1"
rss() { awk '/^VmRSS/ { printf "%.1f MB", $2 / 1024 }' "/proc/$PID/status"; }
cpu_ms() { awk '{ print ($14 + $15) * 1000 / '"$(getconf CLK_TCK)"' }' "/proc/$PID/stat"; }

curl -s -o /dev/null -X PUT -H 'Content-Type: application/json' \
    --data '{"data":{"password":"alice-pw"}}' "$URL/accounts/alice"

echo "== probe 1: wrong password, existing vs unknown account ($N each, interleaved)"
: >"$TMP/known"
: >"$TMP/unknown"
for i in $(seq 1 "$N"); do
    curl -s -o /dev/null -w '%{time_total}\n' -u "alice:guess$i" \
        -H "X-Forwarded-For: 10.2.0.$i" "$URL/buckets" >>"$TMP/known"
    curl -s -o /dev/null -w '%{time_total}\n' -u "nobody$i:guess$i" \
        -H "X-Forwarded-For: 10.3.0.$i" "$URL/buckets" >>"$TMP/unknown"
done
median() { sort -g "$1" | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f ms", m * 1000 }'; }
echo "existing account: median $(median "$TMP/known")"
echo "unknown account:  median $(median "$TMP/unknown")"

echo "== probe 2: 300 concurrent guesses of alice's password from one address"
echo "RSS before: $(rss)"
c0=$(cpu_ms)
node "$SRC/tests/node/login_load.cjs" "$URL/buckets" 300 alice guess
c1=$(cpu_ms)
echo "RSS after:  $(rss)"
echo "publisher CPU: $(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }') ms"
echo "== then the real password from another address"
curl -s -o /dev/null -w 'status %{http_code}, %{time_total} s\n' -u alice:alice-pw \
    -H 'X-Forwarded-For: 10.9.9.9' "$URL/"
