#!/usr/bin/env bash
# fuzz/run.sh [SECONDS] [TARGET...] -- build the libFuzzer targets with clang and run each
# for SECONDS (default 30) on a temporary copy of its seed corpus (fuzz/corpus/<target>),
# so the committed corpora never churn.
#
# Targets: http listing jcs snapshot changeset jsonschema multipart attachpath monitor client delta jscan (default: all, one after the other).
# Environment:
#   HERALD_FUZZ_BUILD  build directory (default <repo>/build-fuzz)
#   HERALD_FUZZ_JOBS   targets run at once (default 1; each uses one core, <= 2 GB)
#   HERALD_FUZZ_KEEP   if set, a directory to copy each grown corpus into (<dir>/<target>)
#
# Prints one summary line per target (executions, corpus growth, findings) and exits
# non-zero if any target found a crash, a timeout, an out-of-memory or a leak, or
# failed to run. Findings are kept in <build>/artifacts/<target>/ with the full log in
# <build>/logs/<target>.log; docs/fuzzing.md says how to turn them into regression
# tests.
set -uo pipefail

secs=${1:-30}
shift || true
case "$secs" in
'' | *[!0-9]*)
    echo "usage: $0 [SECONDS] [TARGET...]" >&2
    exit 2
    ;;
esac
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${HERALD_FUZZ_BUILD:-$root/build-fuzz}
jobs=${HERALD_FUZZ_JOBS:-1}
all_targets=(http listing jcs snapshot changeset jsonschema multipart attachpath monitor client delta jscan)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")

declare -A dict=([http]=http [listing]=listing [jcs]=json [snapshot]=json [changeset]=json [jsonschema]=json [multipart]=multipart [attachpath]=attachpath [monitor]=json [client]=client [delta]=json [jscan]=json)
for t in "${targets[@]}"; do
    if [ -z "${dict[$t]:-}" ]; then
        echo "unknown target '$t' (one of: ${all_targets[*]})" >&2
        exit 2
    fi
done

echo "== building fuzz targets in $build"
if ! CC=${CC:-clang} cmake -S "$root/fuzz" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    >"$build.configure.log" 2>&1; then
    cat "$build.configure.log" >&2
    exit 1
fi
rm -f "$build.configure.log"
if ! cmake --build "$build" -j"$(nproc)" >/dev/null; then
    cmake --build "$build" -j1 >&2 # show the errors
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/herald-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$build/logs"

# Runs one target; writes its summary line to $work/<target>.summary.
run_target() {
    local t=$1
    local corpus=$work/corpus-$t
    local art=$build/artifacts/$t
    local log=$build/logs/$t.log
    mkdir -p "$corpus" "$art"
    cp "$root/fuzz/corpus/$t/." "$corpus/" -r 2>/dev/null
    local seeds
    seeds=$(find "$corpus" -type f | wc -l)
    local before
    before=$(find "$art" -type f | wc -l)
    # First the inputs past runs found (tests/fuzz-regressions/<target>/): libFuzzer runs
    # the files given as arguments once each and fails on the first crash.
    local regdir=$root/tests/fuzz-regressions/$t
    local nreg=0 regstatus=ok
    if [ -d "$regdir" ]; then
        local regs=()
        mapfile -t regs < <(find "$regdir" -type f ! -name '.*' | sort)
        nreg=${#regs[@]}
        if [ "$nreg" -gt 0 ] && ! "$build/fuzz_$t" -rss_limit_mb=2048 -timeout=10 "${regs[@]}" \
            >"$build/logs/$t.regressions.log" 2>&1; then
            regstatus="FAILED (see $build/logs/$t.regressions.log)"
        fi
    fi
    # ASan/UBSan must stop at the first report; leaks are findings too.
    ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1} \
        UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
        "$build/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
        -dict="$root/fuzz/dict/${dict[$t]}.dict" -print_final_stats=1 \
        -artifact_prefix="$art/" "$corpus" >"$log" 2>&1
    local rc=$?
    local execs
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
    [ -z "$execs" ] && execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
    local after
    after=$(find "$art" -type f | wc -l)
    local found=$((after - before))
    local size
    size=$(find "$corpus" -type f | wc -l)
    local status=ok
    if [ $rc -ne 0 ] || [ $found -gt 0 ]; then
        status="FAILED (exit $rc)"
        [ $found -eq 0 ] && found=1
    fi
    printf 'fuzz_%-10s %s: %s execs in %ss, corpus %s -> %s, %s finding(s)%s; %s regression input(s) %s\n' \
        "$t" "$status" "${execs:-0}" "$secs" "$seeds" "$size" "$found" \
        "$([ "$status" = ok ] || echo " (see $log and $art/)")" "$nreg" "$regstatus" \
        >"$work/$t.summary"
    [ "$regstatus" = ok ] || status=failed
    if [ -n "${HERALD_FUZZ_KEEP:-}" ]; then
        mkdir -p "$HERALD_FUZZ_KEEP/$t"
        cp "$corpus/." "$HERALD_FUZZ_KEEP/$t/" -r
    fi
    [ "$status" = ok ]
}

echo "== running ${targets[*]} for ${secs}s each ($jobs at a time)"
failed=0
running=0
for t in "${targets[@]}"; do
    run_target "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n || failed=1
        running=$((running - 1))
    fi
done
while [ "$running" -gt 0 ]; do
    wait -n || failed=1
    running=$((running - 1))
done

echo "== summary"
for t in "${targets[@]}"; do
    cat "$work/$t.summary" 2>/dev/null || {
        echo "fuzz_$t FAILED: no summary"
        failed=1
    }
done
exit $failed
