#!/usr/bin/env bash
# Kinto's JavaScript client, kinto-http from npm, unchanged, uploads and removes
# attachments (addAttachment/removeAttachment): tests/node/kinto_http_attachments.test.mjs.
source "$(dirname "$0")/../support/harness.sh"

h_need_kinto_http
h_start_redis
export HERALD_ATTACHMENTS_DIR=$H_TMP/files HERALD_ATTACHMENT_BASE_URL=http://cdn.example/attachments
h_start_publisher
export HERALD_PUB="$H_PUB"
h_node_suite kinto_http_attachments.test.mjs "kinto-http attachments"
h_finish
