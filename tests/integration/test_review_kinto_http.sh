#!/usr/bin/env bash
# Kinto's JavaScript client (kinto-http from npm) drives a full review cycle against
# herald-publisher with review enabled; the signed destination is read from a read
# server and verified (tests/node/review.test.mjs).
source "$(dirname "$0")/../support/harness.sh"

h_need_kinto_http
h_start_redis
h_keygen
h_start_publisher --signer-to-review-enabled true --account-create-principals system.Everyone
h_start_signer
h_start_server
export HERALD_PUB="$H_PUB" HERALD_SRV="$H_SRV" HERALD_PUBKEY="$H_PUBKEY"
h_node_suite review.test.mjs "kinto-http review cycle"
h_finish
