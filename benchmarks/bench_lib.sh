# bench_lib.sh -- what the shell benchmarks share (sourced, after `set -euo pipefail`, by
# bench_publisher.sh, bench_signer.sh, bench_server.sh, bench_login.sh and
# bench_schema_put.sh): a private temporary directory
# $TMP, removed on exit unless BENCH_KEEP_TMP=1 (or HERALD_BENCH_KEEP is set); the
# processes in PIDS stopped on exit; free loopback ports; a private Redis.
#
# BENCH_NAME (set before sourcing) names the caller in messages.

TMP=$(mktemp -d "${TMPDIR:-/tmp}/herald-bench.XXXXXX")
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ "${BENCH_KEEP_TMP:-0}" = 1 ] || [ -n "${HERALD_BENCH_KEEP:-}" ]; then
        echo "$BENCH_NAME: files kept in $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT

# A TCP port on 127.0.0.1 that nothing answers on.
free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 40000))
        (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo "$p"; return 0; }
    done
    echo "$BENCH_NAME: no free port" >&2
    return 1
}

# wait_port PORT: until something listens on 127.0.0.1:PORT (at most a minute).
wait_port() {
    for _ in $(seq 1 600); do
        (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0
        sleep 0.1
    done
    echo "$BENCH_NAME: nothing listens on $1" >&2
    return 1
}

# start_redis PORT [OPTION...]: a redis-server on 127.0.0.1:PORT working in $TMP (no RDB
# snapshots, log in $TMP/redis.log) with the extra OPTIONs; returns once it answers PING.
start_redis() {
    local port=$1
    shift
    redis-server --port "$port" --bind 127.0.0.1 --dir "$TMP" --save "" --daemonize no \
        --logfile "$TMP/redis.log" "$@" &
    PIDS+=($!)
    for _ in $(seq 1 100); do
        redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "$BENCH_NAME: redis on port $port did not start" >&2
    return 1
}

# The production setting for the write benchmarks: append-only file, fsync on every write.
REDIS_DURABLE=(--appendonly yes --appendfsync always)

# start_publisher PORT REDIS_PORT [LOG]: $BUILD's herald-publisher on 127.0.0.1:PORT over
# the Redis of REDIS_PORT, logging warnings to LOG ($TMP/publisher.log); the environment
# (HERALD_ADMIN_PASSWORD, settings) is the caller's. Sets PUB_PID; returns once it listens.
start_publisher() {
    HERALD_LOG_LEVEL=${HERALD_LOG_LEVEL:-warn} "$BUILD/publisher/herald-publisher" \
        --listen "127.0.0.1:$1" --redis "redis://127.0.0.1:$2/0" 2>>"${3:-$TMP/publisher.log}" &
    PUB_PID=$!
    PIDS+=("$PUB_PID")
    wait_port "$1"
}
