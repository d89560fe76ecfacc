#!/usr/bin/env bash
# Collection JSON schemas through kinto-http (tests/node/kinto_http_schema.test.mjs),
# against a publisher with experimental_collection_schema_validation on. Without
# tests/node/node_modules this test fails rather than pass without having run anything.
source "$(dirname "$0")/../support/harness.sh"

NODE_DIR=$H_SRC/tests/node
if [ ! -d "$NODE_DIR/node_modules/kinto-http" ]; then
    h_log "kinto-http is not installed: run (cd tests/node && npm install)"
    exit 1
fi

h_start_redis
export HERALD_EXPERIMENTAL_COLLECTION_SCHEMA_VALIDATION=true
h_start_publisher

export HERALD_PUB="$H_PUB"
out=$H_TMP/node.out
if (cd "$NODE_DIR" && node --test --test-reporter=spec kinto_http_schema.test.mjs) >"$out" 2>&1; then
    rc=0
else
    rc=1
fi
cat "$out" >&2
passed=$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$out")
failed=$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$out")
h_check "kinto-http schema tests ran (${passed:-0} passed, ${failed:-?} failed)" test "${passed:-0}" -gt 0
h_check "kinto-http schema tests passed" test "$rc" = 0
h_finish
