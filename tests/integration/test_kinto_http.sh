#!/usr/bin/env bash
# Kinto's own JavaScript client, kinto-http from npm, unchanged, against herald-publisher:
# the Node tests in tests/node (node --test). scripts/test.sh installs them with
# `npm install` in tests/node; without node_modules this test fails rather than pass
# without having run anything.
source "$(dirname "$0")/../support/harness.sh"

NODE_DIR=$H_SRC/tests/node
if [ ! -d "$NODE_DIR/node_modules/kinto-http" ]; then
    h_log "kinto-http is not installed: run (cd tests/node && npm install)"
    exit 1
fi

h_start_redis
h_start_publisher --paginate-by 3 --account-create-principals system.Everyone

export HERALD_PUB="$H_PUB"
out=$H_TMP/node.out
if (cd "$NODE_DIR" && node --test --test-reporter=spec kinto_http.test.mjs) >"$out" 2>&1; then
    rc=0
else
    rc=1
fi
cat "$out" >&2
passed=$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$out")
failed=$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$out")
h_check "kinto-http suite ran (${passed:-0} passed, ${failed:-?} failed)" test "${passed:-0}" -gt 0
h_check "kinto-http suite passed" test "$rc" = 0
h_finish
