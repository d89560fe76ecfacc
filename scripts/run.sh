#!/usr/bin/env bash
# Runs Herald locally in the foreground: a Redis with its data in ./var (append-only file,
# fsync on every write), a signing key (generated once into ./var), the publisher, the
# signer and a read server, and a demo collection. Ctrl-C stops everything.
#
# Ports: HERALD_REDIS_PORT (6390), HERALD_PUBLISHER_PORT (8889), HERALD_SERVER_PORT (8888).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

bash scripts/install-deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

REDIS_PORT=${HERALD_REDIS_PORT:-6390}
PUB_PORT=${HERALD_PUBLISHER_PORT:-8889}
SRV_PORT=${HERALD_SERVER_PORT:-8888}
VAR=$ROOT/var
mkdir -p "$VAR/redis"

if [ ! -f "$VAR/signing.key" ]; then
    build/signer/herald-signer keygen --out "$VAR/signing.key" >"$VAR/signing.pub"
fi
PUBKEY=$(cat "$VAR/signing.pub")
if [ -z "${HERALD_ADMIN_PASSWORD:-}" ]; then
    [ -f "$VAR/admin-password" ] || (umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$VAR/admin-password")
    HERALD_ADMIN_PASSWORD=$(cat "$VAR/admin-password")
fi
export HERALD_ADMIN_PASSWORD

PIDS=()
stop() {
    trap - INT TERM EXIT
    echo "stopping..." >&2
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    exit 0
}
trap stop INT TERM EXIT

wait_port() {
    for _ in $(seq 1 200); do
        (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "nothing listens on port $1" >&2
    return 1
}

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$VAR/redis" --appendonly yes \
    --appendfsync always --save "" --logfile "$VAR/redis.log" &
PIDS+=($!)
wait_port "$REDIS_PORT"
REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"

# Attachments: the publisher stores files in var/attachments, the read server serves them
# from there at /attachments/ (docs/attachments.md).
mkdir -p "$VAR/attachments"
HERALD_ATTACHMENTS_DIR="$VAR/attachments" \
    HERALD_ATTACHMENT_BASE_URL="http://127.0.0.1:$SRV_PORT/attachments/" \
    build/publisher/herald-publisher --listen "127.0.0.1:$PUB_PORT" --redis "$REDIS_URL" &
PIDS+=($!)
build/signer/herald-signer --redis "$REDIS_URL" --key "$VAR/signing.key" &
PIDS+=($!)
build/server/herald-server --listen "127.0.0.1:$SRV_PORT" --redis "$REDIS_URL" \
    --public-key "$PUBKEY" --attachments-dir "$VAR/attachments" &
PIDS+=($!)
wait_port "$PUB_PORT"
wait_port "$SRV_PORT"

PUB="http://127.0.0.1:$PUB_PORT/v1"
put() {
    curl -sf -o /dev/null -u "admin:$HERALD_ADMIN_PASSWORD" -X PUT \
        -H 'Content-Type: application/json' --data-binary "$2" "$PUB$1"
}
put /buckets/main '{"data":{},"permissions":{"read":["system.Everyone"]}}'
put /buckets/main/collections/demo '{"data":{"displayName":"Demo settings"}}'
put /buckets/main/collections/demo/records/welcome '{"data":{"message":"Hello from Herald","lang":"en"}}'
put /buckets/main/collections/demo/records/bonjour '{"data":{"message":"Bonjour de Herald — ça marche","lang":"fr"}}'
put /buckets/main/collections/demo/records/limits '{"data":{"max_items":25,"ratio":0.75,"flags":{"beta":true}}}'

cat <<INFO

Herald is running (Ctrl-C stops everything).
  publisher (Kinto API, writes):  $PUB/
  admin page:                     $PUB/admin/
  read server (changesets):       http://127.0.0.1:$SRV_PORT/v1/buckets/main/collections/demo/changeset
  monitor/changes:                http://127.0.0.1:$SRV_PORT/v1/buckets/monitor/collections/changes/changeset
  attachments:                    POST a file as multipart field "attachment" to
                                  $PUB/buckets/main/collections/demo/records/ID/attachment
  redis:                          $REDIS_URL (data in var/redis)
  admin credentials:              admin:$HERALD_ADMIN_PASSWORD
  signing public key:             $PUBKEY
Verify what the read server serves:
  build/signer/herald-signer verify --public-key $PUBKEY \\
      --url http://127.0.0.1:$SRV_PORT/v1/buckets/main/collections/demo/changeset

INFO
wait -n "${PIDS[@]}" || true
echo "a process exited; stopping the others" >&2
stop
