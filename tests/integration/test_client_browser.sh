#!/usr/bin/env bash
# The JavaScript client in headless Chromium (issue 15): Debian's chromium driven by
# playwright-core (tests/node/client_browser.mjs). A page loads clients/js/src unbundled,
# syncs OneCRL (/work/shared/data/onecrl.json, imported through the publisher) from a
# real read server into IndexedDB, verifies it, reloads, syncs a one-record delta, and
# refuses a tampered answer from tests/node/client_proxy.mjs, keeping its verified copy.
# Prints the sync time and bytes of the full and the delta sync (measured, never
# asserted). Labelled nosan (a browser; nothing of ours is instrumented in it).
source "$(dirname "$0")/../support/harness.sh"

DATA=$H_SRC/../shared/data/onecrl.json
[ -f "$DATA" ] || DATA=/work/shared/data/onecrl.json
if [ ! -d "$H_SRC/tests/node/node_modules/playwright-core" ]; then
    h_log "playwright-core is not installed: run (cd tests/node && npm install)"
    exit 1
fi
CHROMIUM=/usr/lib/chromium/chromium
[ -x "$CHROMIUM" ] || CHROMIUM=$(command -v chromium || true)
h_check "Debian's chromium is installed (scripts/install-deps.sh)" test -n "$CHROMIUM"

h_start_pipeline

P_PORT=$(h_free_port)
MODE=$H_TMP/proxy.mode
echo pass >"$MODE"
node "$H_SRC/tests/node/client_proxy.mjs" "$P_PORT" "http://127.0.0.1:$H_SRV_PORT/v1" "$MODE" "$H_TMP/proxy.reqs" \
    2>>"$H_TMP/proxy.log" &
H_PIDS+=("$!")
h_wait_port "$P_PORT" 20 "$!" "$H_TMP/proxy.log"

out=$H_TMP/browser.out
rc=0
SRV=$H_SRV PUB=$H_PUB AUTH=$H_AUTH PROXY="http://127.0.0.1:$P_PORT/v1" MODE_FILE=$MODE PUBKEY=$H_PUBKEY \
    DATA=$DATA CHROMIUM=$CHROMIUM HOME=$H_TMP timeout 120 node "$H_SRC/tests/node/client_browser.mjs" >"$out" 2>&1 || rc=$?
cat "$out" >&2
h_check "the browser scenario ran its checks" test "$(grep -c '^CHECK ok' "$out")" -ge 15
h_check "no browser check failed" h_eq "$(grep -c '^CHECK FAIL' "$out" || true)" 0
h_check "the driver exited 0" h_eq "$rc" 0
h_finish
