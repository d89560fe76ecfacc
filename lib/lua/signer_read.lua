-- signer_read: one consistent state of a collection, or what changed in it since the
-- signer's cached copy, and the version to publish it as.
--
-- Scripts run atomically, so everything returned is one state: no write lands between
-- reading the records and reading the timestamp (no torn snapshot).
--
-- The signer keeps each collection's records in memory (signer/cache.c). It passes the
-- records timestamp its copy reflects as ARGV[6] ("since"), and gets back only the
-- records and tombstones with last_modified > since (from the herald:mod ZSET), plus the
-- number of live records so it can check that its copy, once updated, matches Redis.
-- Every write raises the list timestamp strictly, so everything written after the copy
-- was taken has last_modified > since. When since is above the records timestamp (Redis
-- went back in time: restored, flushed), or is -1 (no copy), the whole state is returned.
--
-- KEYS[1] herald:objs:/buckets/B/collections/C:record   KEYS[2] herald:ts:...:record
-- KEYS[3] herald:tomb:...:record                         KEYS[4] herald:monitor
-- KEYS[5] herald:objs:/buckets/B:collection              KEYS[6] herald:objs::bucket
-- KEYS[7] herald:perm:/buckets/B   KEYS[8] herald:perm:/buckets/B/collections/C
-- KEYS[9] herald:monitor:src (HASH member -> source stamp of the published version)
-- KEYS[10] herald:mod:/buckets/B/collections/C:record
-- KEYS[11] herald:snap:pending (HASH member -> a version announced before its full blob
--          was stored: while it is there, the collection is signed again, as for a re-sign,
--          unless it is ARGV[8])
-- ARGV[1] bucket id  ARGV[2] collection id  ARGV[3] monitor member "B/C"
-- ARGV[4] tombstone horizon: in a full state, tombstones with last_modified <= this are
--         not returned
-- ARGV[5] "1" to produce a state even when nothing changed (re-sign)
-- ARGV[6] since: the records timestamp of the caller's copy, or "-1" for the full state
-- ARGV[7] the signer's key ids, comma-separated: part of the source stamp, so that a
--         signer started with another set of keys re-signs every collection at once
--
-- Returns {status, V, bucket json, collection json, records {id, json, ...},
--          tombstones {id, lm, ...}, source stamp, kind, live record count}
-- status: "gone" (bucket or collection missing), "unpublished" (not readable by
-- system.Everyone), "unchanged" (already published as is; {status, P}), or "ok".
-- kind: "full" (every live record; tombstones within the horizon) or "delta" (records
-- and tombstones with last_modified > since, whatever the horizon: a delete must reach
-- the copy even when its tombstone is already old).
-- V: the records timestamp T when records changed since the published version P;
-- otherwise (metadata or key change, re-sign) max(now, T + 1, P + 1), and T is set to V so
-- that every later write gets a timestamp above the version published here. Either way
-- the records timestamp is V when this returns "ok": the state returned is the one at V.
local bjson = redis.call('HGET', KEYS[6], ARGV[1])
local cjson_ = redis.call('HGET', KEYS[5], ARGV[2])
if not bjson or not cjson_ then
    return {'gone'}
end

local function everyone_reads(permkey)
    local raw = redis.call('HGET', permkey, 'read')
    if not raw then
        return false
    end
    local ok, list = pcall(cjson.decode, raw)
    if not ok or type(list) ~= 'table' then
        return false
    end
    for _, p in ipairs(list) do
        if p == 'system.Everyone' then
            return true
        end
    end
    return false
end
local bucket_public = everyone_reads(KEYS[7])
if not bucket_public and not everyone_reads(KEYS[8]) then
    return {'unpublished'}
end
-- Read servers serve the bucket's attributes (Kinto's GET of the bucket) only when the
-- bucket itself is readable by everyone; a published collection in a private bucket
-- carries an empty object instead, and its bucket is not found on the read servers.
if not bucket_public then
    bjson = '{}'
end

-- Any change to the (served) bucket attributes, the collection's attributes, or the
-- signing keys changes this stamp; so does the bucket becoming public or private.
local src = redis.sha1hex(bjson .. '\0' .. cjson_ .. '\0' .. ARGV[7])
local T = tonumber(redis.call('GET', KEYS[2]) or '0')
local P = tonumber(redis.call('ZSCORE', KEYS[4], ARGV[3]) or '0')
local V
if T > P then
    V = T
elseif ARGV[5] == '1' or redis.call('HGET', KEYS[9], ARGV[3]) ~= src or
    (redis.call('HGET', KEYS[11], ARGV[3]) or ARGV[8]) ~= ARGV[8] then
    V = math.max(herald_now_ms(), T + 1, P + 1)
    redis.call('SET', KEYS[2], string.format('%d', V))
else
    return {'unchanged', string.format('%d', P)}
end

local since = tonumber(ARGV[6])
local live = redis.call('HLEN', KEYS[1])
local vs = string.format('%d', V)
if since >= 0 and since <= T then
    local recs, tombs = {}, {}
    local changed = redis.call('ZRANGEBYSCORE', KEYS[10], '(' .. ARGV[6], '+inf', 'WITHSCORES')
    for i = 1, #changed, 2 do
        local json = redis.call('HGET', KEYS[1], changed[i])
        if json then
            recs[#recs + 1] = changed[i]
            recs[#recs + 1] = json
        else
            tombs[#tombs + 1] = changed[i]
            tombs[#tombs + 1] = changed[i + 1]
        end
    end
    return {'ok', vs, bjson, cjson_, recs, tombs, src, 'delta', live}
end

local horizon = tonumber(ARGV[4])
local tombs = {}
local flat = redis.call('HGETALL', KEYS[3])
for i = 1, #flat, 2 do
    if tonumber(flat[i + 1]) > horizon then
        tombs[#tombs + 1] = flat[i]
        tombs[#tombs + 1] = flat[i + 1]
    end
end
return {'ok', vs, bjson, cjson_, redis.call('HGETALL', KEYS[1]), tombs, src, 'full', live}
