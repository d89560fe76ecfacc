#!/usr/bin/env bash
# Runs benchmarks/bench_signer.c against a real herald-signer: starts a private Redis
# (append-only file, fsync on every write, as in production) on a free loopback port and
# a signer with a fresh key, runs the benchmark, stops both. Nothing is left behind.
#
#   benchmarks/bench_signer.sh [BUILD_DIR] [bench_signer options...]
#
# BUILD_DIR defaults to ./build (it must hold signer/herald-signer and
# benchmarks/bench_signer). Options go to bench_signer, e.g. --sizes 100,1000 --edits 100.
# Signer settings can be passed through the environment (HERALD_SNAPSHOT_ZSTD_LEVEL, ...).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
[ $# -gt 0 ] && shift
BENCH_NAME=bench_signer
source "$SRC/benchmarks/bench_lib.sh"

port=$(free_port)
start_redis "$port" "${REDIS_DURABLE[@]}"

"$BUILD/signer/herald-signer" keygen --out "$TMP/key" >/dev/null
"$BUILD/signer/herald-signer" --redis "redis://127.0.0.1:$port/0" --key "$TMP/key" \
    --log-level "${HERALD_BENCH_SIGNER_LOG_LEVEL:-warn}" 2>"$TMP/signer.log" &
PIDS+=($!)

"$BUILD/benchmarks/bench_signer" --redis "redis://127.0.0.1:$port/0" \
    --data "$SRC/../shared/data/onecrl.json" "$@"
