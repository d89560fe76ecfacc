#!/usr/bin/env bash
# Jump deltas (docs/incremental.md, "Jump deltas"): with every version it stores, the
# signer rewrites the delta of each of its last stored versions so that it leads straight
# to the new one. A read server that fell behind (here: stopped with SIGSTOP while six
# versions are published: an update, a deletion, a creation, a deletion and re-creation,
# a collection attribute change, another update) catches up in one step from the version
# it holds, instead of building every version in between:
#   - the delta stored under the old base leads from it to the newest version;
#   - the resumed server builds exactly one version from a delta, the newest, refuses
#     none, and serves it;
#   - a fresh read server, from the full blob, serves the same bytes (full changeset and
#     _since the old base), and a client's verification accepts it.
source "$(dirname "$0")/../support/harness.sh"

h_start_redis
h_keygen
h_start_publisher
h_start_signer --consumer jump
h_start_server

h_check "setup" h_eq "$(h_public_collection jump c)" 201201
R=/buckets/jump/collections/c/records
CS=/buckets/jump/collections/c/changeset
for i in 0 1 2 3 4 5; do
    h_check "create r$i" h_eq "$(h_put "$R/r$i" "{\"data\":{\"n\":$i}}")" 201
done
stored() { h_redis ZSCORE herald:monitor jump/c; }
# The version stored once the signer has caught up with everything written so far.
settled() { # -> prints the version once the records timestamp is published
    local ts
    ts=$(h_redis GET "herald:ts:/buckets/jump/collections/c:record")
    h_wait_for 20 bash -c "[ \"\$(redis-cli -p $H_REDIS_PORT ZSCORE herald:monitor jump/c)\" -ge $ts ]" &&
        stored
}
B=$(settled)
h_check "the read server serves the base version" h_wait_for 20 h_served_at "$H_SRV$CS" "$B"

kill -STOP "$H_SRV_PID"
edit() { # WHAT METHOD PATH [BODY]: one write, then wait until the signer stored it
    local code
    if [ "$2" = DELETE ]; then
        code=$(curl -s -o /dev/null -w '%{http_code}' -u "$H_AUTH" -X DELETE "$H_PUB$3")
    else
        code=$(h_put "$3" "$4")
    fi
    h_check "$1 ($code)" test "$code" -lt 300
    settled >/dev/null
}
edit "update r1" PUT "$R/r1" '{"data":{"n":11}}'
edit "update r2" PUT "$R/r2" '{"data":{"n":2,"x":"gone next"}}'
edit "delete r2" DELETE "$R/r2"
edit "create r6" PUT "$R/r6" '{"data":{"n":6}}'
edit "delete r3" DELETE "$R/r3"
edit "re-create r3" PUT "$R/r3" '{"data":{"n":33}}'
edit "collection attributes" PUT /buckets/jump/collections/c '{"data":{"x":1}}'
edit "update r4" PUT "$R/r4" '{"data":{"n":44}}'
V=$(stored)
h_check "  (control: several versions stored since the base)" test "$V" -gt "$B"

# The delta under the base: from B straight to V.
meta() { # BASE -> "base timestamp" of the delta stored under BASE
    h_redis --raw GET "herald:snapdelta:jump/c:$1" | head -c -1 | node -e '
        const b = require("fs").readFileSync(0);
        if (b.slice(0, 4).toString() !== "HSD1") { console.log("none"); process.exit(0); }
        const m = JSON.parse(b.slice(8, 8 + b.readUInt32BE(4)).toString());
        console.log(`${m.base} ${m.timestamp}`);'
}
h_check "the delta stored under the base leads to the newest version" h_eq "$(meta "$B")" "$B $V"

n0=$(wc -l <"$H_TMP/server.log")
kill -CONT "$H_SRV_PID"
h_check "the resumed server serves the newest version" h_wait_for 20 h_served_at "$H_SRV$CS" "$V"
built=$(tail -n +$((n0 + 1)) "$H_TMP/server.log" | grep -o "jump/c version [0-9]* built from a delta" |
    awk '{print $3}' | tr '\n' ' ')
h_log "     versions built from deltas after the resume: $built"
h_check "it got there in one delta, the jump from the base" h_eq "$built" "$V "
h_check "no delta was refused" bash -c "! grep -q 'delta for jump/c refused' '$H_TMP/server.log'"

h_start_second_server
h_check "a fresh server (full blob) serves the newest version" h_wait_for 20 h_served_at "$H_SRV2$CS" "$V"
same() { # QUERY
    curl -s "$H_SRV$CS$1" >"$H_TMP/a.json"
    curl -s "$H_SRV2$CS$1" >"$H_TMP/b.json"
    test -s "$H_TMP/a.json" && cmp -s "$H_TMP/a.json" "$H_TMP/b.json"
}
h_check "full changeset: byte for byte the same as from the full blob" same "?_expected=$V"
h_check "_since the base: the same bytes" same "?_expected=$V&_since=$B"
h_check "  (control: the _since answer has the deletions)" grep -q '"deleted":true' "$H_TMP/a.json"
out=$(h_verify "$H_SRV$CS" "$H_PUBKEY")
h_log "     $out"
h_check "herald-signer verify accepts the served changeset" bash -c "grep -q '^OK' <<<'$out'"

h_finish
