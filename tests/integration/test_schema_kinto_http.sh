#!/usr/bin/env bash
# Collection JSON schemas through kinto-http (tests/node/kinto_http_schema.test.mjs),
# against a publisher with experimental_collection_schema_validation on. Without
# tests/node/node_modules this test fails rather than pass without having run anything.
source "$(dirname "$0")/../support/harness.sh"

h_need_kinto_http

h_start_redis
export HERALD_EXPERIMENTAL_COLLECTION_SCHEMA_VALIDATION=true
h_start_publisher

export HERALD_PUB="$H_PUB"
h_node_suite kinto_http_schema.test.mjs "kinto-http schema tests"
h_finish
