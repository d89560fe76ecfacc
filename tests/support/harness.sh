# Shared by the integration and fault tests (sourced, not run). Starts a real Redis and
# the real Herald programs on free loopback ports in a private temporary directory,
# and stops everything on exit. Each service's stderr goes to $H_TMP/<name>.log, and
# h_finish fails the test if any log holds a sanitizer report.
#
# Needs: HERALD_BUILD_DIR (the CMake build directory), redis-server, redis-cli, curl.
set -euo pipefail
# A failing command ends the test (set -e); say which one, so no failure is silent.
trap 'h_log "FAIL - command failed with status $? at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND"; H_FAILED=$((H_FAILED + 1))' ERR

H_SRC=${HERALD_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
H_BUILD=${HERALD_BUILD_DIR:-$H_SRC/build}
H_TMP=$(mktemp -d "${TMPDIR:-/tmp}/herald-test.XXXXXX")
H_PIDS=()
H_FAILED=0
H_CHECKS=0
export HERALD_ADMIN_PASSWORD=${HERALD_ADMIN_PASSWORD:-s3cret-test}
H_AUTH="admin:$HERALD_ADMIN_PASSWORD"

h_log() { printf '%s\n' "$*" >&2; }

# Talking to the services: the publisher's API, ETags, JSON fields, verify.
source "$(dirname "${BASH_SOURCE[0]}")/client.sh"
# What the signer tests check: announced snapshots against the log of writes.
source "$(dirname "${BASH_SOURCE[0]}")/states.sh"

h_cleanup() {
    local pid
    for pid in "${H_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${H_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ "${H_KEEP_TMP:-0}" = 1 ] || [ "$H_FAILED" != 0 ]; then
        h_log "logs kept in $H_TMP"
    else
        rm -rf "$H_TMP"
    fi
}
trap h_cleanup EXIT

# A free TCP port on 127.0.0.1 (nothing answers a connect to it), below Linux's
# ephemeral range (32768 and up by default), where outgoing connections would take it.
h_free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 12000))
        if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# h_wait_port PORT [SECONDS] [PID LOG]: until something listens on 127.0.0.1:PORT. With
# PID, that process must still be alive once the port answers (another program may have
# taken the port in the meantime), and LOG's tail is shown if it is not.
h_wait_port() {
    local deadline=$((SECONDS + ${2:-20})) pid=${3:-} log=${4:-}
    while [ $SECONDS -lt $deadline ]; do
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            h_log "process $pid exited before listening on port $1"
            [ -n "$log" ] && tail -5 "$log" >&2
            return 1
        fi
        if (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null; then
            sleep 0.05
            if [ -z "$pid" ] || kill -0 "$pid" 2>/dev/null; then return 0; fi
        fi
        sleep 0.05
    done
    h_log "nothing listens on port $1"
    return 1
}

h_start_redis() {
    H_REDIS_PORT=${H_REDIS_PORT:-$(h_free_port)}
    mkdir -p "$H_TMP/redis"
    redis-server --port "$H_REDIS_PORT" --bind 127.0.0.1 --dir "$H_TMP/redis" \
        --appendonly yes --appendfsync always --save "" --daemonize no --enable-debug-command local \
        --logfile "$H_TMP/redis.log" &
    H_REDIS_PID=$!
    H_PIDS+=("$H_REDIS_PID")
    H_REDIS_URL="redis://127.0.0.1:$H_REDIS_PORT/0"
    local deadline=$((SECONDS + 20))
    until redis-cli -p "$H_REDIS_PORT" ping >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || { h_log "redis did not start"; return 1; }
        sleep 0.05
    done
    # The answer must come from our Redis, not from another one on a reused port.
    kill -0 "$H_REDIS_PID" 2>/dev/null || { h_log "redis exited: $(tail -2 "$H_TMP/redis.log")"; return 1; }
}

h_redis() { redis-cli -p "$H_REDIS_PORT" "$@"; }

h_keygen() {
    H_KEY_FILE=$H_TMP/signing.key
    H_PUBKEY=$("$H_BUILD/signer/herald-signer" keygen --out "$H_KEY_FILE")
}

h_start_publisher() {
    H_PUB_PORT=${H_PUB_PORT:-$(h_free_port)}
    "$H_BUILD/publisher/herald-publisher" --listen "127.0.0.1:$H_PUB_PORT" \
        --redis "$H_REDIS_URL" "$@" 2>>"$H_TMP/publisher.log" &
    H_PUB_PID=$!
    H_PIDS+=("$H_PUB_PID")
    H_PUB="http://127.0.0.1:$H_PUB_PORT/v1"
    h_wait_port "$H_PUB_PORT" 20 "$H_PUB_PID" "$H_TMP/publisher.log"
}

h_start_signer() {
    "$H_BUILD/signer/herald-signer" --redis "$H_REDIS_URL" --key "$H_KEY_FILE" "$@" \
        2>>"$H_TMP/signer.log" &
    H_SIGNER_PID=$!
    H_PIDS+=("$H_SIGNER_PID")
}

# h_exec_server PORT [ARGS...]: becomes a read server on 127.0.0.1:PORT logging to
# server.log; run it with & (exec, so that $! is the server itself).
h_exec_server() {
    local port=$1
    shift
    exec "$H_BUILD/server/herald-server" --listen "127.0.0.1:$port" --redis "$H_REDIS_URL" \
        --public-key "$H_PUBKEY" "$@" 2>>"$H_TMP/server.log"
}

# h_spawn_server PORT [ARGS...]: h_exec_server in the background, stopped on exit;
# returns once it listens, with its pid in H_SPAWNED_PID.
h_spawn_server() {
    h_exec_server "$@" &
    H_SPAWNED_PID=$!
    H_PIDS+=("$H_SPAWNED_PID")
    h_wait_port "$1" 20 "$H_SPAWNED_PID" "$H_TMP/server.log"
}

# h_start_server [ARGS...]: the read server, on H_SRV_PORT if set (a restart keeps its
# port), else on a free port; sets H_SRV (its /v1 URL), H_SRV_PORT and H_SRV_PID.
h_start_server() {
    H_SRV_PORT=${H_SRV_PORT:-$(h_free_port)}
    H_SRV="http://127.0.0.1:$H_SRV_PORT/v1"
    h_spawn_server "$H_SRV_PORT" "$@"
    H_SRV_PID=$H_SPAWNED_PID
}

# h_start_second_server [ARGS...]: another read server beside the first, on its own free
# port; sets H_SRV2, H_SRV2_PORT and H_SRV2_PID and leaves H_SRV* to the first, so that
# h_start_server still (re)starts the first one. Both log to server.log.
h_start_second_server() {
    H_SRV2_PORT=${H_SRV2_PORT:-$(h_free_port)}
    H_SRV2="http://127.0.0.1:$H_SRV2_PORT/v1"
    h_spawn_server "$H_SRV2_PORT" "$@"
    H_SRV2_PID=$H_SPAWNED_PID
}

# h_start_pipeline [SERVER ARGS...]: the whole chain most tests run on: Redis, a signing
# key, the publisher, the signer and one read server (given SERVER ARGS).
h_start_pipeline() {
    h_start_redis
    h_keygen
    h_start_publisher
    h_start_signer
    h_start_server "$@"
}

# h_check NAME CONDITION-COMMAND...: records one assertion.
h_check() {
    local name=$1
    shift
    H_CHECKS=$((H_CHECKS + 1))
    if "$@"; then
        h_log "ok   - $name"
    else
        h_log "FAIL - $name"
        H_FAILED=$((H_FAILED + 1))
    fi
}

h_eq() { [ "$1" = "$2" ] || { h_log "     expected [$2]"; h_log "     got      [$1]"; return 1; }; }

# h_need_kinto_http: ends the test as failed unless tests/node has its npm packages
# (scripts/test.sh runs `npm install` there): a test that ran nothing must not pass.
h_need_kinto_http() {
    if [ ! -d "$H_SRC/tests/node/node_modules/kinto-http" ]; then
        h_log "kinto-http is not installed: run (cd tests/node && npm install)"
        exit 1
    fi
}

# h_node_suite FILE WHAT: runs the Node tests of tests/node/FILE (node --test), shows
# their output, and records two checks: that some ran, and that all passed.
h_node_suite() {
    local out=$H_TMP/node.out rc passed failed
    if (cd "$H_SRC/tests/node" && node --test --test-reporter=spec "$1") >"$out" 2>&1; then
        rc=0
    else
        rc=1
    fi
    cat "$out" >&2
    passed=$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$out")
    failed=$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$out")
    h_check "$2 ran (${passed:-0} passed, ${failed:-?} failed)" test "${passed:-0}" -gt 0
    h_check "$2 passed" test "$rc" = 0
}

# h_wait_for SECONDS COMMAND...: until COMMAND succeeds.
h_wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.05
    done
}

# The services' logs must not contain sanitizer reports; prints the summary line.
h_finish() {
    local f
    for f in "$H_TMP"/*.log; do
        [ -f "$f" ] || continue
        if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$f"; then
            h_log "FAIL - sanitizer report in $(basename "$f")"
            H_FAILED=$((H_FAILED + 1)) H_CHECKS=$((H_CHECKS + 1))
        fi
        # Secrets are never logged: the admin password, nor any signing key's seed.
        if grep -qF -- "$HERALD_ADMIN_PASSWORD" "$f" ||
            { [ -n "${H_KEY_FILE:-}" ] && [ -f "$H_KEY_FILE" ] && grep -qF -- "$(head -c 43 "$H_KEY_FILE")" "$f"; }; then
            h_log "FAIL - a secret appears in $(basename "$f")"
            H_FAILED=$((H_FAILED + 1)) H_CHECKS=$((H_CHECKS + 1))
        fi
    done
    echo "$((H_CHECKS - H_FAILED)) passed, $H_FAILED failed"
    trap - ERR # the verdict below is not a failing command to report
    [ "$H_FAILED" = 0 ]
}
