#!/usr/bin/env bash
# Runs every test: installs what is missing, builds with warnings as errors, runs the
# Criterion unit tests and the integration tests (which start their own Redis and
# services on free loopback ports). `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

BUILD=${HERALD_BUILD:-build}
cmake -S . -B "$BUILD" -DHERALD_WERROR=ON ${HERALD_CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD" -j"$(nproc)"

if [ -f tests/node/package.json ]; then
    (cd tests/node && npm install --no-audit --no-fund --silent)
fi

ctest --test-dir "$BUILD" --output-on-failure -j"$(nproc)" --timeout 900
