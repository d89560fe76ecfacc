#!/usr/bin/env bash
# A _since older than the signer's tombstone cut-off gets the full changeset, never a
# delta that silently lacks deletions -- whatever horizon the read server was given.
# The signer writes the cut-off it applied into each blob ("tombstones_since"); before
# that, the read server estimated it from its own horizon setting and clock, so a
# server configured with a longer horizon than the signer's (here: the default 30 days
# against the signer's 1 s) answered such a _since with a delta missing the deletion.
source "$(dirname "$0")/../support/harness.sh"

h_start_redis
h_keygen
h_start_publisher
HERALD_TOMBSTONE_HORIZON_SECONDS=1 h_start_signer
h_start_server

R=/buckets/b/collections/c/records
h_check "setup" h_eq "$(h_public_collection b c)$(h_put $R/a '{"data":{"n":1}}')$(h_put $R/b '{"data":{"n":2}}')" 201201201201
t0=$(h_redis GET 'herald:ts:/buckets/b/collections/c:record')
curl -s -o /dev/null -u "$H_AUTH" -X DELETE "$H_PUB$R/a"
changes() { curl -s "$H_SRV/buckets/b/collections/c/changeset?_expected=$1${2:+&_since=$2}" | node -e 'const d=JSON.parse(require("fs").readFileSync(0,"utf8"));console.log(d.changes.map(c=>c.id+(c.deleted?"-":"")).sort().join(","))'; }
served() { h_served_at "$H_SRV/buckets/b/collections/c/changeset?_expected=0" "$1"; }
t1=$(h_redis GET 'herald:ts:/buckets/b/collections/c:record')
h_check "the deletion is served" h_wait_for 20 served "$t1"
h_check "  as a tombstone in the delta since before it" h_eq "$(changes "$t1" "$t0")" "a-"

# Past the signer's horizon, the next version drops the tombstone.
sleep 1.5
h_check "write after the horizon" h_eq "$(h_put $R/c '{"data":{"n":3}}')" 201
t2=$(h_redis GET 'herald:ts:/buckets/b/collections/c:record')
h_check "the new version is served" h_wait_for 20 served "$t2"
# The version is announced (and served, from its delta) before its full blob is stored
# (docs/incremental.md): the cut-off is read from the blob of that version.
blob() { "$H_BUILD/signer/herald-signer" inspect --redis "$H_REDIS_URL" b/c | node -e "console.log(JSON.parse(require('fs').readFileSync(0,'utf8')).$1)"; }
blob_at() { [ "$(blob timestamp)" = "$1" ]; }
h_check "  its full blob is stored" h_wait_for 20 blob_at "$t2"
cut=$(blob tombstones_since)
h_log "deleted at $t1, cut-off $cut, version $t2"
h_check "the blob states the cut-off: after the deletion, before the new version" bash -c "[ $cut -ge $t1 ] && [ $cut -lt $t2 ]"
h_check "_since before the cut-off: the full changeset (b and c), not a delta lacking a's deletion" h_eq "$(changes "$t2" "$t0")" "b,c"
h_check "_since at the cut-off: the delta" h_eq "$(changes "$t2" "$cut")" "c"
h_finish
