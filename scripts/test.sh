#!/usr/bin/env bash
# Runs every test: installs what is missing, then
#   1. builds with warnings as errors and runs the Criterion unit tests and the
#      integration tests (which start their own Redis and services on loopback ports);
#   2. builds again with AddressSanitizer + UndefinedBehaviorSanitizer
#      (-fno-sanitize-recover=all) and runs the same suite but for the tests labelled
#      "nosan" (the Debian package, the HTTP cache, the login timing comparison); a
#      sanitizer report fails the
#      test that printed it (CTest FAIL_REGULAR_EXPRESSION, and the integration harness
#      scans every service's stderr).
#   3. builds the libFuzzer targets with clang and runs each for HERALD_FUZZ_SECONDS
#      (default 30) from the committed corpora; any crash fails the run (fuzz/run.sh).
# `.ci/run` calls exactly this. HERALD_SANITIZE=0 skips stage 2 and HERALD_FUZZ_SECONDS=0
# stage 3 (for quick local runs).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

if [ -f tests/node/package.json ]; then
    (cd tests/node && npm install --no-audit --no-fund --silent)
fi

run_suite() { # BUILD_DIR [CMAKE ARGS...]; CTEST_ARGS: more ctest arguments
    local dir=$1
    shift
    echo "== $dir: build" >&2
    cmake -S . -B "$dir" -DHERALD_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j"$(nproc)"
    echo "== $dir: tests" >&2
    # shellcheck disable=SC2086 # CTEST_ARGS is a list of words
    ctest --test-dir "$dir" --output-on-failure -j"$(nproc)" --timeout 900 ${CTEST_ARGS:-}
}

run_suite "${HERALD_BUILD:-build}"
if [ "${HERALD_SANITIZE:-1}" != 0 ]; then
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    CTEST_ARGS="-LE nosan" \
        run_suite build-asan -DSANITIZER=address,undefined
fi
if [ "${HERALD_FUZZ_SECONDS:-30}" != 0 ]; then
    echo "== fuzz: ${HERALD_FUZZ_SECONDS:-30} s per target" >&2
    bash fuzz/run.sh "${HERALD_FUZZ_SECONDS:-30}"
fi
