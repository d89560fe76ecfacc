#!/usr/bin/env bash
# Installs what Herald needs on a Debian 12 machine, and only what is missing.
# Commands are checked rather than package names where another source may provide them
# (Node.js and npm come from outside Debian on our machines, and Debian's npm conflicts).
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

pkgs=(build-essential cmake pkg-config curl redis-server
      libevent-dev libhiredis-dev libsodium-dev libzstd-dev libjansson-dev zlib1g-dev
      libpcre2-dev json-schema-test-suite libtest-json-schema-acceptance-perl
      libcriterion-dev clang libclang-rt-14-dev wrk zstd
      varnish lintian dpkg-dev systemd redis-sentinel)
# The client library (client/): HTTPS through libcurl.
pkgs+=(libcurl4-openssl-dev)
# Attachment bundles (publisher/bundle.c): zip files written with libzip.
pkgs+=(libzip-dev)
# Test origins and helpers (tests/support/slow_origin.py, the attachment tests' servers).
pkgs+=(python3)
# Browser tests (test_client_browser.sh, test_admin_browser.sh): Debian's Chromium,
# driven by playwright-core from npm (which never downloads a browser of its own).
pkgs+=(chromium)
# Optional extras for benchmarks and fuzzing, asked for with HERALD_DEPS_EXTRA=1.
if [ "${HERALD_DEPS_EXTRA:-0}" = 1 ]; then
    pkgs+=(nginx-light valgrind strace)
fi

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
