#!/usr/bin/env bash
# Kinto's own JavaScript client, kinto-http from npm, unchanged, against herald-publisher:
# the Node tests in tests/node (node --test). scripts/test.sh installs them with
# `npm install` in tests/node; without node_modules this test fails rather than pass
# without having run anything.
source "$(dirname "$0")/../support/harness.sh"

h_need_kinto_http

h_start_redis
h_start_publisher --paginate-by 3 --account-create-principals system.Everyone

export HERALD_PUB="$H_PUB"
h_node_suite kinto_http.test.mjs "kinto-http suite"
h_finish
