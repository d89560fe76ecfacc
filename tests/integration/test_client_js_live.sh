#!/usr/bin/env bash
# The JavaScript client against a real publisher, signer and read server
# (tests/node/client_live.test.mjs): watch() long-polls the monitor (a change arrives
# through the held request, an idle wait ends in 304, abort ends the loop), and sync()
# verifies a signed monitor added by a signing proxy in front of the real server
# (freshness; expired, rolled back, unpinned, mismatched and unsigned monitors), and
# filter_expression targeting evaluated with mozjexl (tests/node/package.json).
source "$(dirname "$0")/../support/harness.sh"
if [ ! -d "$H_SRC/tests/node/node_modules/canonicalize" ] || [ ! -d "$H_SRC/tests/node/node_modules/mozjexl" ]; then
    h_log "tests/node has no npm packages: run (cd tests/node && npm install)"
    exit 1
fi
h_start_pipeline
export SRV=$H_SRV PUB=$H_PUB AUTH=$H_AUTH PUBKEY=$H_PUBKEY
h_node_suite client_live.test.mjs "JS client live (watch, signed monitor)"
h_finish
