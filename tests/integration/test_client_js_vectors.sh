#!/usr/bin/env bash
# The JavaScript client's own suite (tests/node/client_vectors.test.mjs): the shared
# vectors of tests/vectors/ (the C library runs them in test_client_vectors), the
# canonical JSON cases, and the memory and Node directory stores. Needs only Node.
source "$(dirname "$0")/../support/harness.sh"
h_node_suite client_vectors.test.mjs "JS client vectors"
h_finish
