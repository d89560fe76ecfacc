#!/usr/bin/env bash
# Redis losing its script cache (SCRIPT FLUSH, as after a restart or a failover) while
# the signer is connected: its next EVALSHA gets NOSCRIPT and herald_redis_script_eval
# runs the script by its text instead, so the edit is still signed and served.
source "$(dirname "$0")/../support/harness.sh"

h_start_redis
h_keygen
h_start_publisher
h_start_signer
h_start_server

put() { curl -s -o /dev/null -w '%{http_code}' -u "$H_AUTH" -X PUT -H 'Content-Type: application/json' --data-binary "$2" "$H_PUB$1"; }
served() { curl -s "$H_SRV/buckets/b/collections/c/changeset?_expected=0" | grep -q "\"$1\""; }

h_check "setup" h_eq "$(put /buckets/b '{"data":{},"permissions":{"read":["system.Everyone"]}}')$(put /buckets/b/collections/c '{"data":{}}')$(put /buckets/b/collections/c/records/r1 '{"data":{"x":1}}')" 201201201
h_check "first record is served" h_wait_for 20 served r1
h_check "the script cache is flushed" h_eq "$(h_redis SCRIPT FLUSH)" OK
READ_SHA=$(cat "$H_SRC/lib/lua/common.lua" "$H_SRC/lib/lua/signer_read.lua" | sha1sum | cut -c1-40)
h_check "the signer's read script is gone" h_eq "$(h_redis SCRIPT EXISTS "$READ_SHA")" 0
h_check "an edit after the flush" h_eq "$(put /buckets/b/collections/c/records/r2 '{"data":{"x":2}}')" 201
h_check "is signed and served all the same" h_wait_for 20 served r2
h_check "the signer's read script is cached again (by EVAL)" h_eq "$(h_redis SCRIPT EXISTS "$READ_SHA")" 1
h_finish
