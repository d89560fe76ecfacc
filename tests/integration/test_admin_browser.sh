#!/usr/bin/env bash
# The admin page at /v1/admin/ in Debian's headless Chromium (playwright-core from npm,
# no browser download; tests/node/admin_browser.test.mjs): review cycle with a diff,
# an attachment uploaded with a progress bar and downloaded from the read server,
# approval served signed by a read server (checked by `herald verify` and verify_snapshot.js), decline and rollback, an edit conflict;
# history per collection and record with filters checked against the API, the
# permissions and group members editors with their conflicts, accounts (creation,
# refusal, own password change); XSS payloads (records, principals, history), keyboard
# navigation, axe-core on every screen. Screenshots of every step go to
# $H_TMP/screenshots (kept when the test fails, or with H_KEEP_TMP=1).
source "$(dirname "$0")/../support/harness.sh"

h_need_kinto_http
for need in "$H_SRC/tests/node/node_modules/playwright-core" "$H_SRC/tests/node/node_modules/axe-core"; do
    [ -d "$need" ] || { h_log "$need missing: run (cd tests/node && npm install)"; exit 1; }
done
CHROMIUM=${HERALD_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || { h_log "no Chromium at $CHROMIUM: scripts/install-deps.sh installs Debian's chromium"; exit 1; }
h_start_redis
h_keygen
H_SRV_PORT=$(h_free_port) # the page asks this read server what clients get
FILES=$H_TMP/files # attachments: written by the publisher, served by the read server
h_start_publisher --signer-to-review-enabled true --account-create-principals system.Everyone \
    --admin-read-server-url "http://127.0.0.1:$H_SRV_PORT" \
    --attachments-dir "$FILES" --attachment-base-url "http://127.0.0.1:$H_SRV_PORT/attachments/"
h_start_signer
h_start_server --attachments-dir "$FILES"
mkdir -p "$H_TMP/screenshots"
export HERALD_PUB="$H_PUB" HERALD_SRV="$H_SRV" HERALD_PUBKEY="$H_PUBKEY" HERALD_CHROMIUM="$CHROMIUM"
export HERALD_CLI="$H_BUILD/client/herald"
export HERALD_ADMIN_SHOTS=${HERALD_ADMIN_SHOTS:-$H_TMP/screenshots}
h_node_suite admin_browser.test.mjs "admin page in Chromium"
h_check "a screenshot per step" test "$(ls "$HERALD_ADMIN_SHOTS" | wc -l)" -ge 20
h_log "screenshots: $HERALD_ADMIN_SHOTS"
h_finish
