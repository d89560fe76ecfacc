#!/usr/bin/env bash
# Lock-step publication (server/lockstep.h): a read server serving a signed monitor only
# exposes collection versions together with a monitor that commits to them.
#
# 1. A burst: three writers import records through the publisher's batch endpoint into
#    three collections for BURST seconds, the real signer signing snapshots and monitors
#    as fast as it goes. Meanwhile tests/node/lockstep_check.mjs polls server A without
#    pause (monitor, changesets, monitor again; and a long-poll) and the C client
#    (`herald sync`) syncs all three again and again. No response pair attributable to
#    one served state may disagree: no VIOLATION from the checker, and no `uncommitted`
#    from the client while the monitor it verified is still the one served afterwards
#    (a switch between its monitor and its changeset requests is a race of two requests,
#    not a disagreement the server served). The staged-wait histogram shows versions
#    did wait.
# 2. Signed monitors stop committing to what the servers load: herald:monitor:sha (the
#    records hashes the signer puts in monitor entries) is given a hash no snapshot of
#    main/c2 has, so every monitor signed from then on names c2 with it -- to a read
#    server the same as monitor signing stopping (no monitor ever commits to the new
#    versions again), with snapshots still signed. After an edit of c1, server B
#    (server_lockstep_max_wait_seconds=2) serves c1's new version after the bound with
#    the unsigned monitor, logs it and counts it; server A stays consistent meanwhile.
#    Once the signer writes true hashes again (an edit of c2 rewrites its entry), both
#    serve a signed monitor naming the new version. (The same bound with no new monitor
#    at all, and with a monitor naming versions never loaded: tests/unit/
#    test_server_lockstep.c.)
# LOCKSTEP_A=0 runs server A without lock-step (the checks above then fail: how this
# test was shown to catch the defect).
source "$(dirname "$0")/../support/harness.sh"

BURST=${BURST:-12}
h_start_redis
h_keygen
h_start_publisher
h_start_signer
HERALD_SERVER_LOCKSTEP_MAX_WAIT_SECONDS=${LOCKSTEP_A:-30} h_start_server

MON=/buckets/monitor/collections/changes/changeset
for c in c1 c2 c3; do h_public_collection main $c >/dev/null; done
h_pub PUT /buckets/main/collections/c1/records/seed '{"data":{"n":0}}' >/dev/null
signed_at() { # URL VERSION: the monitor is signed and names main/c1 at VERSION
    curl -s "$1$MON" | h_json "(d.metadata.signatures||[]).length===1 && (d.changes.find(c=>c.collection==='c1')||{}).last_modified===$2" | grep -qx true
}
V0=$(h_etag "$H_PUB/buckets/main/collections/c1/records")
h_check "server A: signed monitor naming the first version" h_wait_for 30 signed_at "$H_SRV" "$V0"

# ---- 1. the burst ------------------------------------------------------------------
DONE=$H_TMP/burst.done
SRV=$H_SRV PUB=$H_PUB AUTH=$H_AUTH BUCKET=main COLLECTIONS=c1,c2,c3 SECONDS=$BURST DONE_FILE=$DONE \
    node "$H_SRC/tests/node/lockstep_check.mjs" >"$H_TMP/check.out" 2>"$H_TMP/check.err" &
CHECKER=$!
syncs=0 conclusive=0 uncommitted_conclusive=0 uncommitted_race=0 other=0
: >"$H_TMP/client.out"
while [ ! -f "$DONE" ] && kill -0 "$CHECKER" 2>/dev/null; do
    state=$H_TMP/state$((syncs % 4)) # three reused states and a fresh one in turn
    [ $((syncs % 4)) = 3 ] && rm -rf "$state"
    out=$("$H_BUILD/client/herald" sync "$H_SRV" --public-key "$H_PUBKEY" --state "$state" \
        --retries 1 --timeout-ms 5000 main/c1 main/c2 main/c3 2>&1) || true
    after=$(h_etag "$H_SRV$MON")
    m=$(sed -n 's/^monitor timestamp=\([0-9]*\).*/\1/p' <<<"$out")
    syncs=$((syncs + 1))
    if [ -n "$m" ] && [ "$m" = "$after" ]; then conclusive=$((conclusive + 1)); fi
    if grep -q 'status=uncommitted' <<<"$out"; then
        if [ -n "$m" ] && [ "$m" = "$after" ]; then
            uncommitted_conclusive=$((uncommitted_conclusive + 1))
            printf 'UNCOMMITTED at monitor %s (still served after):\n%s\n' "$m" "$out" >>"$H_TMP/client.out"
        else
            uncommitted_race=$((uncommitted_race + 1))
        fi
    elif grep -q 'status=' <<<"$out" && grep -v 'status=ok' <<<"$out" | grep -q 'status='; then
        other=$((other + 1))
        printf '%s\n' "$out" >>"$H_TMP/client.out"
    fi
done
wait "$CHECKER" || true
cat "$H_TMP/check.out" >&2
st() { sed -n "s/^STAT $1 //p" "$H_TMP/check.out"; }
h_log "herald sync: $syncs syncs, $conclusive with the monitor unchanged after, $uncommitted_conclusive uncommitted at an unchanged monitor, $uncommitted_race uncommitted across a switch, $other other failures"
h_check "the burst wrote records" test "$(st records_written)" -ge 50
h_check "  with no write refused" h_eq "$(st write_errors)" 0
h_check "the checker made conclusive brackets (signed monitor unchanged around them)" test "$(st brackets_conclusive)" -ge 5
h_check "  no monitor/changeset pair disagreed" h_eq "$(st violations)" 0
h_check "  long-polls were woken during the burst" test "$(st longpoll_woken)" -gt 0
h_check "herald sync ran during the burst" test "$syncs" -ge 1
h_check "  never uncommitted against the monitor still served after it" h_eq "$uncommitted_conclusive" 0
M=$(curl -s "${H_SRV%/v1}/metrics")
waited=$(sed -n 's/^herald_lockstep_wait_seconds_count //p' <<<"$M")
h_log "server A staged-wait histogram: $(grep '^herald_lockstep_wait_seconds' <<<"$M" | tr '\n' ' ')"
h_check "server A: versions waited staged (counted in /metrics)" test "${waited:-0}" -gt 0

# ---- 2. monitor signing stops: data still flows after the bound --------------------
last=$(h_etag "$H_PUB/buckets/main/collections/c1/records")
h_check "server A: signed monitor at c1's last version after the burst" h_wait_for 60 signed_at "$H_SRV" "$last"
HERALD_SERVER_LOCKSTEP_MAX_WAIT_SECONDS=2 h_start_second_server
h_check "server B: signed monitor at c1's last version" h_wait_for 30 signed_at "$H_SRV2" "$last"
h_redis HSET herald:monitor:sha main/c2 "$(printf '0%.0s' {1..64})" >/dev/null
V1=$(h_pub PUT /buckets/main/collections/c1/records/after '{"data":{"n":1}}' | h_json d.data.last_modified)
h_check "monitors commit to nothing loaded: server B serves the new version after the bound" \
    h_wait_for 60 h_served_at "$H_SRV2/buckets/main/collections/c1/changeset" "$V1"
h_check "  with the unsigned monitor" h_eq "$(curl -s "$H_SRV2$MON" | h_json '"signatures" in d.metadata')" false
h_check "  which lists it" h_eq "$(curl -s "$H_SRV2$MON" | h_json "d.changes.find(c=>c.collection==='c1').last_modified")" "$V1"
MB=$(curl -s "${H_SRV2%/v1}/metrics")
h_check "  counted (herald_lockstep_fallbacks_total)" h_eq "$(sed -n 's/^herald_lockstep_fallbacks_total //p' <<<"$MB")" 1
h_check "  herald_lockstep_fallback 1, herald_monitor_signed 0" \
    h_eq "$(sed -n 's/^herald_lockstep_fallback //p;s/^herald_monitor_signed //p' <<<"$MB" | tr '\n' ' ')" "0 1 "
h_check "  logged" grep -q "lock-step: .* within 2000 ms: serving the newest versions with the unsigned monitor" "$H_TMP/server.log"
# Server A (bound 30 s) is consistent whatever it serves now: a signed monitor naming
# the version its changeset has, or the unsigned monitor.
consistent_a() {
    local m1 v m2
    m1=$(curl -s "$H_SRV$MON")
    v=$(h_etag "$H_SRV/buckets/main/collections/c1/changeset")
    m2=$(curl -s "$H_SRV$MON")
    [ "$m1" = "$m2" ] || return 0
    h_json "!(d.metadata.signatures) || d.changes.find(c=>c.collection==='c1').last_modified===$v" <<<"$m1" | grep -qx true
}
h_check "server A stays consistent meanwhile" consistent_a

h_redis HDEL herald:monitor:sha main/c2 >/dev/null
h_pub PUT /buckets/main/collections/c2/records/after '{"data":{"n":2}}' >/dev/null
h_check "true hashes again: server B serves a signed monitor naming it" h_wait_for 30 signed_at "$H_SRV2" "$V1"
h_check "  fallback over (herald_lockstep_fallback 0)" \
    h_eq "$(curl -s "${H_SRV2%/v1}/metrics" | sed -n 's/^herald_lockstep_fallback //p')" 0
h_check "server A too" h_wait_for 60 signed_at "$H_SRV" "$V1"
h_check "server A: nothing left staged" h_eq "$(curl -s "${H_SRV%/v1}/metrics" | sed -n 's/^herald_lockstep_staged //p')" 0
h_finish
