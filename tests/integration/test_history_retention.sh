#!/usr/bin/env bash
# History retention (issue 11): the log of a bucket stays within its bounds
# (history_max_entries per bucket, history_auto_trim_max_count per listed user and
# bucket, history_max_age_seconds), trimmed by the writes themselves a few entries at a
# time, never by scanning the whole log; other users' entries are untouched.
source "$(dirname "$0")/../support/harness.sh"

h_start_redis
export HERALD_ACCOUNT_CREATE_PRINCIPALS=system.Everyone
export HERALD_BUCKET_CREATE_PRINCIPALS=system.Authenticated
h_start_publisher --history-max-entries 30 --history-auto-trim-max-count 5 \
    --history-auto-trim-user-ids "account:bot"
A=$H_AUTH
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
put() { code -u "$1" -X PUT -H 'Content-Type: application/json' --data-binary "${3:-{\}}" "$H_PUB$2"; }
for u in bot human; do put x /accounts/$u "{\"data\":{\"password\":\"pw-$u\"}}" >/dev/null; done
BOT=bot:pw-bot HUM=human:pw-human

h_check "bucket created" h_eq "$(put $HUM /buckets/b '{"permissions":{"write":["account:bot"]}}')" 201
put $HUM /buckets/b/collections/c >/dev/null
for i in $(seq 1 12); do put $BOT /buckets/b/collections/c/records/bot$i >/dev/null; done
for i in $(seq 1 8); do put $HUM /buckets/b/collections/c/records/hum$i >/dev/null; done
hist() { curl -s -u "$HUM" "$H_PUB/buckets/b/history?$1" | h_json "$2"; }
h_check "per-user trimming: the service account keeps its 5 newest entries" \
    h_eq "$(hist 'user_id=account:bot' 'd.data.map(e=>e.record_id).join()')" "bot12,bot11,bot10,bot9,bot8"
h_check "... human entries untouched (bucket, collection, 8 records)" \
    h_eq "$(hist 'user_id=account:human' 'd.data.length')" 10
h_check "... and Redis holds no more than that" h_eq "$(h_redis ZCARD herald:hist:b)/$(h_redis HLEN herald:histe:b)" "15/15"

for i in $(seq 9 40); do put $HUM /buckets/b/collections/c/records/hum$i >/dev/null; done
h_check "max entries per bucket: 30 kept" h_eq "$(h_redis ZCARD herald:hist:b)/$(h_redis HLEN herald:histe:b)" "30/30"
h_check "... the newest ones" h_eq "$(hist '_limit=1' 'd.data[0].record_id')/$(hist '_sort=last_modified&_limit=1' 'd.data[0].record_id')" "hum40/hum11"
h_check "... the bot's index follows the trimming" h_eq "$(h_redis ZCARD herald:histu:b:account:bot)" 0

# Maximum age: a second publisher on the same Redis with a 5 s bound. The checks that
# want an entry still young (served, not yet trimmed) need the next request within 5 s
# of its write: 1 s was missed under a loaded machine's slow curls.
kill "$H_PUB_PID"
wait "$H_PUB_PID" 2>/dev/null || true
H_PUB_PORT= h_start_publisher --history-max-age-seconds 5
sleep 5.2
h_check "max age: expired entries are hidden on read" h_eq "$(hist '' 'd.data.length')" 0
put $HUM /buckets/b/collections/c/records/old >/dev/null
h_check "... a write trims at most 16 of them (30 + 1 - 16)" h_eq "$(h_redis ZCARD herald:hist:b)" 15
h_check "... the new entry is served" h_eq "$(hist '' 'd.data.map(e=>e.record_id).join()')" "old"
sleep 5.2
put $HUM /buckets/b/collections/c/records/new >/dev/null
put $HUM /buckets/b/collections/c/records/new2 >/dev/null
h_check "... the next writes trim the rest" h_eq "$(h_redis ZCARD herald:hist:b)/$(h_redis HLEN herald:histe:b)" "2/2"
h_check "... the new entries are served" h_eq "$(hist '' 'd.data.map(e=>e.record_id).join()')" "new2,new"
h_finish
