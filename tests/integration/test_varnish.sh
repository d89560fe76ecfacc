#!/usr/bin/env bash
# Herald behind a real HTTP cache: Debian's varnishd, running docs/varnish.vcl (only its
# backend ports changed) on loopback in front of two read servers fed by one pipeline.
# Pollers behave as Remote Settings clients do: they learn the monitor's version from a
# push broadcast (here a file), read monitor/changes with `_expected=<that version>`,
# and fetch a collection that changed with `_expected=<its version>` and `_since=<the
# version they hold>`, verifying every body with `herald-signer verify`, as a client does.
#
# Measures and checks: the hit ratio (varnishstat MAIN.cache_hit / cache_miss); that each
# new version is fetched from a read server once (varnishncsa's backend log, by URL);
# If-None-Match through the cache (304); what Varnish does with Herald's 304s (a stale
# entry revalidated with If-None-Match, MAIN.fetch_304); no body served with another
# version's ETag; every body verifies.
source "$(dirname "$0")/../support/harness.sh"

for cmd in varnishd varnishadm varnishstat varnishncsa; do
    command -v "$cmd" >/dev/null || { h_log "FAIL - $cmd missing (scripts/install-deps.sh installs varnish)"; exit 1; }
done

h_start_pipeline
h_start_second_server
h_check "bucket and collection created" h_eq "$(h_public_collection main certs)" 201201
for i in 1 2 3; do h_put "/buckets/main/collections/certs/records/r$i" "{\"data\":{\"n\":$i}}" >/dev/null; done
V1=$(h_etag "$H_PUB/buckets/main/collections/certs/records" -u "$H_AUTH")
CS_PATH=/buckets/main/collections/certs/changeset
MON_PATH=/buckets/monitor/collections/changes/changeset
h_check "read server 1 serves V1" h_wait_for 30 h_served_at "$H_SRV$CS_PATH" "$V1"
h_check "read server 2 serves V1" h_wait_for 30 h_served_at "$H_SRV2$CS_PATH" "$V1"

# --- varnish -------------------------------------------------------------------------
# varnishd compiles the VCL and runs its worker as an unprivileged user: what it reads
# must be world-readable, and the directories above it searchable (mktemp -d is 0700).
chmod 755 "$H_TMP"
VDIR=$H_TMP/varnish
VPORT=$(h_free_port)
sed -e "s/\.port = \"8888\";/.port = \"$H_SRV_PORT\";/" -e "s/\.port = \"8890\";/.port = \"$H_SRV2_PORT\";/" \
    "$H_SRC/docs/varnish.vcl" >"$H_TMP/herald.vcl"
chmod 644 "$H_TMP/herald.vcl"
h_check "the VCL names both read servers' ports" \
    bash -c "grep -q '\"$H_SRV_PORT\"' '$H_TMP/herald.vcl' && grep -q '\"$H_SRV2_PORT\"' '$H_TMP/herald.vcl'"
varnishd -F -n "$VDIR" -a "127.0.0.1:$VPORT" -f "$H_TMP/herald.vcl" -s malloc,64m \
    -T "127.0.0.1:$(h_free_port)" >>"$H_TMP/varnish.log" 2>&1 &
H_PIDS+=($!)
h_wait_port "$VPORT" 30 "$!" "$H_TMP/varnish.log"
V="http://127.0.0.1:$VPORT/v1"
# backend.list: one line per backend (boot.read1, boot.read2) and one for the director.
healthy() { [ "$(varnishadm -n "$VDIR" backend.list 2>/dev/null | grep -cE '^boot\.read[12] .* healthy ')" = 2 ]; }
h_check "varnish sees both read servers healthy" h_wait_for 30 healthy
# Every request Varnish sends to a read server: status, URL, and the If-None-Match it
# carried (to see which conditional requests reach the origin).
varnishncsa -n "$VDIR" -b -F '%s %U%q inm=%{If-None-Match}i' >"$H_TMP/backend.txt" 2>>"$H_TMP/varnish.log" &
H_PIDS+=($!)
sleep 1

stat() { varnishstat -n "$VDIR" -1 -f "MAIN.$1" | awk '{print $2}'; }

# The push channel: the monitor version clients are told about (Remote Settings' megaphone
# broadcast), written once both read servers serve it.
PUSH=$H_TMP/push
monitor_version() { h_etag "$1$MON_PATH"; }
broadcast() {
    local m
    m=$(monitor_version "$H_SRV")
    h_wait_for 30 h_served_at "$H_SRV2$MON_PATH" "$m"
    echo "$m" >"$PUSH.tmp" && mv "$PUSH.tmp" "$PUSH"
}
broadcast

# poller N: until $H_TMP/stop exists. Each fetch's verdict goes to poller.N.log.
poller() {
    local n=$1 state=$H_TMP/poller.$1.state log=$H_TMP/poller.$1.log
    local m mon held=0 want out
    # A failed request is a failed poll, not the end of the poller.
    set +e +o pipefail
    trap - ERR
    while [ ! -e "$H_TMP/stop" ]; do
        m=$(cat "$PUSH")
        mon=$(curl -s -H 'Accept-Encoding: identity' "$V$MON_PATH?_expected=$m")
        want=$(printf '%s' "$mon" | grep -o '{[^{}]*"collection":"certs"[^{}]*}' |
            grep -o '"last_modified":[0-9]*' | cut -d: -f2)
        if [ -n "$want" ] && [ "$want" -gt "$held" ]; then
            out=$(h_verify "$V$CS_PATH?_expected=$want" "$H_PUBKEY" --state "$state")
            echo "$want $out" >>"$log"
            case $out in OK*) held=$(echo "$out" | sed 's/.*timestamp=\([0-9]*\).*/\1/') ;; esac
        fi
        sleep 0.1
    done
}
NPOLL=8
rm -f "$H_TMP/stop"
pollers=()
for n in $(seq 1 $NPOLL); do
    poller "$n" &
    pollers+=($!)
done

# Three new versions, a few seconds apart: each is published, served by both read
# servers, then broadcast; the pollers fetch it through the cache.
versions=("$V1")
sleep 3
for i in 1 2 3; do
    h_put "/buckets/main/collections/certs/records/r$i" "{\"data\":{\"n\":$i,\"round\":$i}}" >/dev/null
    v=$(h_etag "$H_PUB/buckets/main/collections/certs/records" -u "$H_AUTH")
    h_wait_for 30 h_served_at "$H_SRV$CS_PATH" "$v"
    h_wait_for 30 h_served_at "$H_SRV2$CS_PATH" "$v"
    broadcast
    versions+=("$v")
    sleep 3
done
touch "$H_TMP/stop"
for p in "${pollers[@]}"; do wait "$p" || true; done

hits=$(stat cache_hit)
misses=$(stat cache_miss)
h_log "pollers: $NPOLL, requests through varnish: $(stat client_req), cache_hit $hits, cache_miss $misses," \
    "hit ratio $(awk -v h="$hits" -v m="$misses" 'BEGIN { printf "%.3f", h / (h + m) }')," \
    "backend requests $(stat backend_req)"
h_check "most polls are answered by the cache (hit ratio above 0.8)" \
    awk -v h="$hits" -v m="$misses" 'BEGIN { exit !(h + m > 0 && h / (h + m) > 0.8) }'

fetched=$(cat "$H_TMP"/poller.*.log | wc -l)
h_log "changeset fetches verified by the pollers: $fetched"
h_check "every poller fetched all 4 versions" h_eq "$fetched" $((NPOLL * 4))
h_check "every body fetched through the cache verifies (herald-signer verify)" \
    bash -c "! grep -hv ' OK bucket=main collection=certs ' $H_TMP/poller.*.log"
h_check "  and is the version the monitor announced" \
    bash -c "! awk '{ split(\$5, t, \"=\"); if (t[2] != \$1) bad = 1 } END { exit !bad }' $H_TMP/poller.*.log"
sleep 1 # varnishncsa writes a request once it is complete
per_version=()
for v in "${versions[@]}"; do
    per_version+=("$(grep -c "^200 /v1$CS_PATH?_expected=$v" "$H_TMP/backend.txt" || true)")
done
h_log "backend fetches of each version's changeset (V1 V2 V3 V4): ${per_version[*]}"
h_check "each version's changeset is fetched from a read server once" h_eq "${per_version[*]}" "1 1 1 1"
mon_fetches=$(grep -c "^200 /v1$MON_PATH?_expected=$(cat "$PUSH")" "$H_TMP/backend.txt" || true)
h_check "the last monitor version is fetched from a read server once" h_eq "$mon_fetches" 1

# --- If-None-Match through the cache --------------------------------------------------
last=${versions[3]}
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
h_check "If-None-Match with the current ETag, cached entry: 304" \
    h_eq "$(code -H "If-None-Match: \"$last\"" "$V$CS_PATH?_expected=$last")" 304
h_check "If-None-Match with an old ETag: 200" \
    h_eq "$(code -H "If-None-Match: \"$V1\"" "$V$CS_PATH?_expected=$last")" 200
before=$(grep -c . "$H_TMP/backend.txt" || true)
h_check "If-None-Match on an entry not cached yet: 304 (varnish fetches, then answers)" \
    h_eq "$(code -H "If-None-Match: \"$last\"" "$V$CS_PATH?_expected=$last&probe=1")" 304
sleep 1
h_check "  the origin got the fetch without the client's If-None-Match" \
    bash -c "tail -n +$((before + 1)) '$H_TMP/backend.txt' | grep -q '^200 .*probe=1 inm=-$'"

# --- Herald's 304s: revalidation of an expired entry ----------------------------------
# A collection whose answers may be cached for 1 s (its cache_expires attribute).
h_put /buckets/main/collections/fast '{"data":{"cache_expires":1}}' >/dev/null
h_put /buckets/main/collections/fast/records/a '{"data":{"x":1}}' >/dev/null
FV=$(h_etag "$H_PUB/buckets/main/collections/fast/records" -u "$H_AUTH")
FAST=/buckets/main/collections/fast/changeset
h_wait_for 30 h_served_at "$H_SRV$FAST" "$FV"
h_wait_for 30 h_served_at "$H_SRV2$FAST" "$FV"
h_check "read servers send max-age=1 for it" \
    bash -c "curl -s -D - -o /dev/null '$H_SRV$FAST' | tr -d '\r' | grep -qi '^cache-control: .*max-age=1\b'"
f304=$(stat fetch_304)
curl -s -o /dev/null "$V$FAST"
sleep 2.5
# Expired but in grace: served from the cache while Varnish revalidates it with the origin.
for _ in 1 2 3; do
    curl -s -D "$H_TMP/fast.h" -o "$H_TMP/fast.json" "$V$FAST"
    sleep 1.5
done
h_check "Varnish revalidated the expired entry: the read server answered 304 (MAIN.fetch_304)" \
    bash -c "[ $(stat fetch_304) -gt $f304 ]"
# (varnishncsa logs the status of the refreshed entry, 200, for a fetch answered 304.)
h_check "  with the stored ETag in If-None-Match" grep -qF "/v1$FAST inm=\\\"$FV\\\"" "$H_TMP/backend.txt"
h_check "  and the refreshed entry still verifies" bash -c \
    "'$H_BUILD/signer/herald-signer' verify --url '$V$FAST' --public-key '$H_PUBKEY' | grep -q '^OK .*timestamp=$FV '"
h_check "  its ETag is the body's timestamp" h_eq \
    "$(tr -d '\r' <"$H_TMP/fast.h" | sed -n 's/^[Ee][Tt]ag: *"\([0-9]*\)"/\1/p')" "$(h_json d.timestamp <"$H_TMP/fast.json")"
h_log "Herald 304s received by Varnish (MAIN.fetch_304): $(stat fetch_304);" \
    "backend requests with an If-None-Match: $(grep -vc 'inm=-$' "$H_TMP/backend.txt" || true)," \
    "all for the expired entry: $(grep -v 'inm=-$' "$H_TMP/backend.txt" | grep -vcF "/v1$FAST inm=" || true) other(s)"

# --- ETag and body agree through the cache --------------------------------------------
# `_expected` is only a cache key: a URL first fetched when V1 was current holds V1 until
# its max-age ends, one never fetched before gets the current version. Either way the
# ETag must name the body's version, and the body verify.
for v in "${versions[@]}"; do
    curl -s -H 'Accept-Encoding: gzip' --compressed -D "$H_TMP/cs.h" -o "$H_TMP/cs.json" "$V$CS_PATH?_expected=$v"
    etag=$(tr -d '\r' <"$H_TMP/cs.h" | sed -n 's/^[Ee][Tt]ag: *"\([0-9]*\)"/\1/p')
    ts=$(h_json d.timestamp <"$H_TMP/cs.json")
    h_check "_expected=$v through the cache (gzip): ETag $etag is the body's timestamp, not older than $v" \
        bash -c "[ '$etag' = '$ts' ] && [ '$ts' -ge '$v' ]"
done
out=$(h_verify "$V$CS_PATH?_expected=$V1" "$H_PUBKEY")
h_check "  the body cached for _expected=$V1 verifies" bash -c "echo '$out' | grep -q '^OK .*timestamp=$V1 '"

# --- Long-poll through the cache ------------------------------------------------------
# Passed to a read server and held there until the version changes (docs/varnish.vcl).
LV=$(h_etag "$V$FAST")
curl -s -D "$H_TMP/lp.h" -o "$H_TMP/lp.json" -H "If-None-Match: \"$LV\"" -H 'Prefer: wait=20' \
    "$V$FAST" &
LP=$!
sleep 1.5
h_check "a long-poll through Varnish is held, not answered from the cache" kill -0 "$LP"
h_put /buckets/main/collections/fast/records/b '{"data":{"x":2}}' >/dev/null
LV2=$(h_etag "$H_PUB/buckets/main/collections/fast/records" -u "$H_AUTH")
wait "$LP"
h_check "  answered 200 with the new version once it is published" h_eq \
    "$(tr -d '\r' <"$H_TMP/lp.h" | sed -n '1s/^HTTP[^ ]* \([0-9]*\).*/\1/p') $(h_json d.timestamp <"$H_TMP/lp.json")" "200 $LV2"
h_check "  with Preference-Applied from the read server" grep -qi '^Preference-Applied: wait=20' "$H_TMP/lp.h"

h_finish
