#!/usr/bin/env bash
# The signer's rules for what is published, end to end (publisher -> signer -> server):
# two --key files give two signature entries (the first also in metadata.signature) and
# a client pinning either key verifies; the active keys are published in Redis; only
# published collections are signed; a metadata change publishes a new version over the
# same records; unpublishing, deleting a collection, deleting a bucket and __flush__ each
# remove the snapshot and the monitor entries; consumed events leave the stream; a key
# file readable or writable by group or others is refused at start; and with a short
# signature lifetime the signer re-signs unchanged data with a new expires.
source "$(dirname "$0")/../support/harness.sh"

h_start_redis
h_keygen
KEY1_PUB=$H_PUBKEY
KEY2_PUB=$("$H_BUILD/signer/herald-signer" keygen --out "$H_TMP/second.key")
export HERALD_FLUSH_ENDPOINT_ENABLED=true
h_start_publisher
h_start_signer --key "$H_TMP/second.key"
h_start_server --public-key "$KEY2_PUB"

status() { curl -s -o /dev/null -w '%{http_code}' "$1"; }
key_id() { printf '%s' "$1" | tr -- '-_' '+/' | sed 's/$/=/' | base64 -d | sha256sum | cut -c1-16; }
mon() { h_redis ZSCORE herald:monitor "$1"; }
snap_exists() { h_redis EXISTS "herald:snap:$1"; }
expires_of() { h_redis ZSCORE herald:monitor:expires "$1"; }
src_of() { h_redis HGET herald:monitor:src "$1"; }
published() { [ -n "$(mon "$1")" ] && [ "$(snap_exists "$1")" = 1 ]; }
gone() { # MEMBER: no snapshot, no monitor entries at all
    [ -z "$(mon "$1")" ] && [ "$(snap_exists "$1")" = 0 ] && [ -z "$(expires_of "$1")" ] && [ -z "$(src_of "$1")" ]
}
# The control for gone: each of its probes sees a published collection.
all_present() { [ -n "$(mon "$1")" ] && [ "$(snap_exists "$1")" = 1 ] && [ -n "$(expires_of "$1")" ] && [ -n "$(src_of "$1")" ]; }
stream_len() { h_redis XLEN herald:changes; }
cs() { echo "$H_SRV/buckets/${1%/*}/collections/${1#*/}/changeset"; }
served_at() { [ "$(h_etag "$(cs "$1")")" = "$2" ]; }
# At version $2 or a newer one (a collection re-signed every 2 s may move on before a
# loaded read server loads $2; a newer version supersedes it there).
served_since() { local e; e=$(h_etag "$(cs "$1")"); [ -n "$e" ] && [ "$e" -ge "$2" ]; }
not_served() { [ "$(status "$(cs "$1")")" != 200 ]; }

h_pub PUT /buckets/pub '{"data":{},"permissions":{"read":["system.Everyone"]}}' >/dev/null
h_pub PUT /buckets/pub/collections/a '{"data":{"title":"A"}}' >/dev/null
h_pub PUT /buckets/pub/records/x '{"data":{}}' >/dev/null # not a collection: ignored
h_pub PUT /buckets/pub/collections/a/records/r1 '{"data":{"n":1}}' >"$H_TMP/r1"
T1=$(h_json d.data.last_modified <"$H_TMP/r1")
h_check "a published collection is signed and served" h_wait_for 20 served_at pub/a "$T1"
h_check "  (control: each probe of 'gone' sees the published collection)" all_present pub/a

# Keys.
curl -s "$(cs pub/a)" >"$H_TMP/a.json"
h_check "two keys give two signature entries, in --key order" \
    h_eq "$(h_json 'd.metadata.signatures.map(s=>s.key_id).join()' <"$H_TMP/a.json")" \
    "$(key_id "$KEY1_PUB"),$(key_id "$KEY2_PUB")"
h_check "metadata.signature is the first entry" \
    h_eq "$(h_json 'JSON.stringify(d.metadata.signature)===JSON.stringify(d.metadata.signatures[0])' <"$H_TMP/a.json")" true
for k in "$KEY1_PUB" "$KEY2_PUB"; do
    out=$("$H_BUILD/signer/herald-signer" verify --url "$(cs pub/a)" --public-key "$k" 2>&1 || true)
    h_check "a client pinning only key $(key_id "$k") verifies" \
        h_eq "$(echo "$out" | cut -d' ' -f1,6)" "OK key_id=$(key_id "$k")"
done
h_check "the active public keys are published in Redis" \
    h_eq "$(h_redis HGET herald:signer:keys "$(key_id "$KEY1_PUB")")/$(h_redis HGET herald:signer:keys "$(key_id "$KEY2_PUB")")/$(h_redis HLEN herald:signer:keys)" \
    "$KEY1_PUB/$KEY2_PUB/2"

# Only published collections: a private bucket's collection is never signed, until its
# own permissions make it readable by everyone.
h_pub PUT /buckets/priv '{"data":{}}' >/dev/null
h_pub PUT /buckets/priv/collections/secret '{"data":{}}' >/dev/null
h_pub PUT /buckets/priv/collections/secret/records/s1 '{"data":{"k":"v"}}' >/dev/null
h_pub PUT /buckets/pub/collections/a/records/r2 '{"data":{"n":2}}' >"$H_TMP/r2" # a later event
h_check "later events are signed" h_wait_for 20 served_at pub/a "$(h_json d.data.last_modified <"$H_TMP/r2")"
h_check "a private collection is not signed" gone priv/secret
h_pub PATCH /buckets/priv/collections/secret '{"permissions":{"read":["system.Everyone"]}}' >/dev/null
h_check "a collection readable by everyone in a private bucket is signed" h_wait_for 20 published priv/secret

# A metadata change publishes a new version over the same records.
V1=$(mon pub/a)
sha_of() { curl -s "$(cs "$1")" | h_json 'd.metadata.signature.head.sha256'; }
sha1=$(sha_of pub/a)
h_pub PATCH /buckets/pub/collections/a '{"data":{"title":"A, renamed"}}' >/dev/null
newer() { [ "$(mon "$1")" -gt "$2" ]; }
h_check "a metadata change publishes a new version" h_wait_for 20 newer pub/a "$V1"
V2=$(mon pub/a)
h_check "... served with the new attributes" h_wait_for 20 served_at pub/a "$V2"
h_check "... over the same records" h_eq "$(sha_of pub/a)" "$sha1"
h_check "... and the served metadata has the new title" \
    h_eq "$(curl -s "$(cs pub/a)" | h_json d.metadata.title)" "A, renamed"
h_pub PATCH /buckets/pub '{"data":{"owner":"team"}}' >/dev/null
h_check "a bucket attribute change publishes a new version too" h_wait_for 20 newer pub/a "$V2"
V3=$(mon pub/a)
h_pub PUT /buckets/pub/collections/a/records/r3 '{"data":{"n":3}}' >"$H_TMP/r3"
h_check "writes after a metadata version get timestamps above it" \
    bash -c "[ $(h_json d.data.last_modified <"$H_TMP/r3") -gt $V3 ]"

# A collection deleted and created again while the signer holds it in memory: its old
# records vanish without tombstones, so the delta alone would keep them; the record
# count check catches it and the signer reads the full state.
h_pub PUT /buckets/pub/collections/dc '{"data":{}}' >/dev/null
for r in r1 r2 r3; do h_pub PUT "/buckets/pub/collections/dc/records/$r" '{"data":{"old":true}}' >"$H_TMP/dc"; done
h_check "dc published with 3 records" h_wait_for 20 served_at pub/dc "$(h_json d.data.last_modified <"$H_TMP/dc")"
kill -STOP "$H_SIGNER_PID"
h_pub DELETE /buckets/pub/collections/dc >/dev/null
h_pub PUT /buckets/pub/collections/dc '{"data":{}}' >/dev/null
h_pub PUT /buckets/pub/collections/dc/records/r1 '{"data":{"new":true}}' >"$H_TMP/dc"
h_check "  (control: the stream probe sees the events the stopped signer has not consumed)" test "$(stream_len)" -gt 0
kill -CONT "$H_SIGNER_PID"
h_check "re-created collection is served" h_wait_for 20 served_at pub/dc "$(h_json d.data.last_modified <"$H_TMP/dc")"
h_check "... with only its new record" \
    h_eq "$(curl -s "$(cs pub/dc)" | h_json 'd.changes.map(r=>r.id+":"+JSON.stringify(r.new)).join()')" "r1:true"
h_check "... the stale copy was detected and re-read in full" \
    grep -q "pub/dc: copy has 3 records, Redis 1 after a delta read" "$H_TMP/signer.log"

# Rotation (docs/keys.md): a signer restarted with its keys in another order re-signs
# at once (its key ids are part of the source stamp), new key first; then with the new
# key only. The read server pins both keys and keeps serving.
first_key_id() { "$H_BUILD/signer/herald-signer" inspect --redis "$H_REDIS_URL" "$1" | h_json 'd.signatures.map(s=>s.key_id).join()'; }
restart_signer() { # KEYFILE [--key KEYFILE]
    kill -TERM "$H_SIGNER_PID"
    wait "$H_SIGNER_PID" 2>/dev/null || true
    local k=$1
    shift
    H_KEY_FILE=$k h_start_signer "$@"
}
ORIG_KEY=$H_KEY_FILE
V4=$(mon pub/a)
restart_signer "$H_TMP/second.key" --key "$ORIG_KEY"
swapped() { [ "$(first_key_id pub/a)" = "$(key_id "$KEY2_PUB"),$(key_id "$KEY1_PUB")" ]; }
h_check "keys swapped: re-signed at once with the new key first" h_wait_for 20 swapped
h_check "... as a new version" bash -c "[ $(mon pub/a) -gt $V4 ]"
h_check "... served" h_wait_for 20 served_at pub/a "$(mon pub/a)"
restart_signer "$H_TMP/second.key"
retired() { [ "$(first_key_id pub/a)" = "$(key_id "$KEY2_PUB")" ]; }
h_check "old key retired: only the new key signs" h_wait_for 20 retired
h_check "... and only the new key is listed in Redis" \
    h_eq "$(h_redis HKEYS herald:signer:keys)" "$(key_id "$KEY2_PUB")"
out=$("$H_BUILD/signer/herald-signer" verify --url "$(cs pub/a)" --public-key "$KEY1_PUB" 2>&1 || true)
h_check "... a client pinning only the old key now fails" h_eq "$out" "FAIL no signature by a pinned key"
out=$("$H_BUILD/signer/herald-signer" verify --url "$(cs pub/a)" --public-key "$KEY1_PUB" --public-key "$KEY2_PUB" 2>&1 || true)
h_check "... a client pinning both verifies" h_eq "${out%% *}" OK
restart_signer "$ORIG_KEY" --key "$H_TMP/second.key"

# Removal: unpublish, delete a collection, delete a bucket, __flush__.
h_pub PUT /buckets/pub/collections/b '{"data":{}}' >/dev/null
h_pub PUT /buckets/pub/collections/b/records/r '{"data":{}}' >/dev/null
h_check "second collection published" h_wait_for 20 published pub/b
h_pub PATCH /buckets/priv/collections/secret '{"permissions":{"read":[]}}' >/dev/null
h_check "unpublishing removes the snapshot and monitor entries" h_wait_for 20 gone priv/secret
h_check "... and the read server stops serving it" h_wait_for 20 not_served priv/secret
h_pub DELETE /buckets/pub/collections/b >/dev/null
h_check "deleting a collection removes its snapshot and monitor entries" h_wait_for 20 gone pub/b
h_check "... and the read server stops serving it" h_wait_for 20 not_served pub/b
monitor_lists() { curl -s "$H_SRV/buckets/monitor/collections/changes/changeset" | h_json "d.changes.some(c=>c.bucket+'/'+c.collection==='$1')"; }
h_check "... and the monitor/changes list no longer has it" h_eq "$(monitor_lists pub/b)" false
h_pub PUT /buckets/other '{"data":{},"permissions":{"read":["system.Everyone"]}}' >/dev/null
h_pub PUT /buckets/other/collections/c1 '{"data":{}}' >/dev/null
h_pub PUT /buckets/other/collections/c2 '{"data":{}}' >/dev/null
h_check "a bucket's two collections published" h_wait_for 20 bash -c \
    "[ -n \"\$(redis-cli -p $H_REDIS_PORT ZSCORE herald:monitor other/c1)\" ] && [ -n \"\$(redis-cli -p $H_REDIS_PORT ZSCORE herald:monitor other/c2)\" ]"
h_pub DELETE /buckets/other >/dev/null
both_gone() { gone other/c1 && gone other/c2; }
h_check "deleting a bucket removes every one of its snapshots" h_wait_for 20 both_gone
h_pub POST /__flush__ >/dev/null
if [ "$H_STATUS" = 202 ] || [ "$H_STATUS" = 200 ]; then
    h_check "__flush__ removes every snapshot" h_wait_for 20 gone pub/a
    h_check "... and monitor/changes is empty" h_wait_for 20 bash -c \
        "[ \"\$(curl -s '$H_SRV/buckets/monitor/collections/changes/changeset' | node -e 'console.log(JSON.parse(require(\"fs\").readFileSync(0)).changes.length)')\" = 0 ]"
else
    h_check "__flush__ is enabled on the test publisher (HERALD_FLUSH_ENDPOINT_ENABLED)" h_eq "$H_STATUS" 202
fi

stream_empty() { [ "$(stream_len)" = 0 ] && [ "$(h_redis XPENDING herald:changes signers | head -1)" = 0 ]; }
h_check "consumed events leave the stream" h_wait_for 10 stream_empty

# Key files: refused when group or others may read or write them.
for mode in 0640 0620 0604 0602 0644; do
    cp "$H_TMP/second.key" "$H_TMP/k$mode"
    chmod "$mode" "$H_TMP/k$mode"
    rc=0
    out=$(timeout 10 "$H_BUILD/signer/herald-signer" --redis "$H_REDIS_URL" --key "$H_TMP/k$mode" 2>&1) || rc=$?
    h_check "a key file with mode $mode is refused at start" \
        bash -c "[ $rc = 1 ] && [[ \"\$1\" == *'accessible by group or others'* ]]" _ "$out"
done

# Freshness: a signer with a 4 s lifetime re-signs (new version, new expires) unchanged
# data when 2 s remain, over the same records.
kill -TERM "$H_SIGNER_PID"
wait "$H_SIGNER_PID" 2>/dev/null || true
h_pub PUT /buckets/fresh '{"data":{},"permissions":{"read":["system.Everyone"]}}' >/dev/null
h_pub PUT /buckets/fresh/collections/f '{"data":{}}' >/dev/null
h_pub PUT /buckets/fresh/collections/f/records/r '{"data":{"v":1}}' >/dev/null
t_start=$(date +%s%3N)
HERALD_SIGNATURE_LIFETIME_SECONDS=4 HERALD_SIGNATURE_RESIGN_SECONDS=2 HERALD_SIGNER_SWEEP_SECONDS=1 \
    h_start_signer
h_check "fresh/f published with the short lifetime" h_wait_for 20 published fresh/f
head_of() { "$H_BUILD/signer/herald-signer" inspect --redis "$H_REDIS_URL" fresh/f | h_json "d.signatures[0].head.$1"; }
Va=$(head_of timestamp)
Ea=$(head_of expires)
Sa=$(head_of sha256)
t_read=$(date +%s%3N)
h_check "expires is the signing time + the lifetime" \
    bash -c "[ $Ea -ge $((t_start + 4000)) ] && [ $Ea -le $((t_read + 4000)) ]"
resigned() { [ "$(head_of expires)" -gt "$Ea" ]; }
h_check "re-signed before it expires, with no write" h_wait_for 10 resigned
h_check "the re-signed snapshot has a new version" bash -c "[ $(head_of timestamp) -gt $Va ]"
h_check "... over the same records" h_eq "$(head_of sha256)" "$Sa"
h_check "... and expires stays in the future" bash -c "[ $(head_of expires) -gt $(date +%s%3N) ]"
Vb=$(mon fresh/f)
h_check "the read server serves the re-signed version (or a later re-signing)" h_wait_for 20 served_since fresh/f "$Vb"

h_finish
