#!/usr/bin/env bash
# Settings from one table per program (issue 10): a typo in a --config file stops the
# program with "FILE:LINE: unknown setting 'x' (did you mean 'y'?)"; the same file
# without the typo is read (positive control: the server listens where it says); an
# unknown HERALD_* variable is named in a warning; --help lists the settings.
source "$(dirname "$0")/../support/harness.sh"

h_start_redis
h_keygen
SRV=$H_BUILD/server/herald-server

# exits ERR-FILE CMD...: CMD stops by itself (within 10 s) with a non-zero status.
exits() {
    local err=$1 rc=0
    shift
    timeout 10 "$@" 2>"$err" >/dev/null || rc=$?
    [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]
}

PORT=$(h_free_port)
printf '# a typo\nserver_listn = 127.0.0.1:%s\n' "$PORT" >"$H_TMP/typo.conf"
h_check "server: a typo in the config file stops it" \
    exits "$H_TMP/typo.err" "$SRV" --config "$H_TMP/typo.conf" --public-key "$H_PUBKEY" --redis "$H_REDIS_URL"
h_check "server: the message names file, line and the closest setting" \
    grep -qF "$H_TMP/typo.conf:2: unknown setting 'server_listn' (did you mean 'server_listen'?)" "$H_TMP/typo.err"

printf 'kinto.zzz_qqq = 1\n' >"$H_TMP/far.conf"
h_check "server: a name close to none stops it too, without a guess" \
    exits "$H_TMP/far.err" "$SRV" --config "$H_TMP/far.conf" --public-key "$H_PUBKEY"
h_check "server: ... and the message has no guess" \
    bash -c "grep -qF \"far.conf:1: unknown setting 'zzz_qqq'\" '$H_TMP/far.err' && ! grep -q 'did you mean' '$H_TMP/far.err'"

# Positive control: the same file with the right name is read.
printf '# no typo\nserver_listen = 127.0.0.1:%s\n' "$PORT" >"$H_TMP/good.conf"
HERALD_SERVER_LISTN=x "$SRV" --config "$H_TMP/good.conf" --public-key "$H_PUBKEY" \
    --redis "$H_REDIS_URL" 2>>"$H_TMP/server.log" &
H_PIDS+=("$!")
h_check "server: the correct file is read (listens on its port)" h_wait_port "$PORT" 20 "$!" "$H_TMP/server.log"
h_check "server: an unknown HERALD_* variable is named in a warning" \
    grep -q 'WARN.*unknown environment variable HERALD_SERVER_LISTN .*did you mean HERALD_SERVER_LISTEN' "$H_TMP/server.log"

printf 'paginate_bye = 10\n' >"$H_TMP/pub.conf"
h_check "publisher: a typo in the config file stops it" \
    exits "$H_TMP/pub.err" "$H_BUILD/publisher/herald-publisher" --config "$H_TMP/pub.conf"
h_check "publisher: ... with the closest setting" \
    grep -qF "pub.conf:1: unknown setting 'paginate_bye' (did you mean 'paginate_by'?)" "$H_TMP/pub.err"

printf 'signer_sweep_secnds = 10\n' >"$H_TMP/signer.conf"
h_check "signer: a typo in the config file stops it" \
    exits "$H_TMP/signer.err" "$H_BUILD/signer/herald-signer" --key "$H_KEY_FILE" --config "$H_TMP/signer.conf"
h_check "signer: ... with the closest setting" \
    grep -qF "signer.conf:1: unknown setting 'signer_sweep_secnds' (did you mean 'signer_sweep_seconds'?)" "$H_TMP/signer.err"

for p in server/herald-server publisher/herald-publisher signer/herald-signer; do
    h_check "$p --help lists its settings" bash -c "'$H_BUILD/$p' --help | grep -q 'HERALD_REDIS_URL'"
done
h_finish
