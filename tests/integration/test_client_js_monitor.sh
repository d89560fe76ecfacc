#!/usr/bin/env bash
# The JavaScript client's signed-monitor verifier (tests/node/client_monitor.test.mjs):
# monitors signed in the test with fresh WebCrypto Ed25519 keys, valid and frozen
# (expired), rolled back, an entry removed/added/changed, a collection version the
# monitor does not commit to, an unpinned key, the wrong prefix. Needs only Node and
# the npm package "canonicalize" (tests/node/package.json).
source "$(dirname "$0")/../support/harness.sh"
h_node_suite client_monitor.test.mjs "JS signed monitor"
h_finish
