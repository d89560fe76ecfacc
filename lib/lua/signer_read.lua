-- signer_read: one consistent state of a collection, and the version to publish it as.
--
-- Scripts run atomically, so everything returned is one state: no write lands between
-- reading the records and reading the timestamp (no torn snapshot).
--
-- KEYS[1] herald:objs:/buckets/B/collections/C:record   KEYS[2] herald:ts:...:record
-- KEYS[3] herald:tomb:...:record                         KEYS[4] herald:monitor
-- KEYS[5] herald:objs:/buckets/B:collection              KEYS[6] herald:objs::bucket
-- KEYS[7] herald:perm:/buckets/B   KEYS[8] herald:perm:/buckets/B/collections/C
-- KEYS[9] herald:monitor:src (HASH member -> source stamp of the published version)
-- ARGV[1] bucket id  ARGV[2] collection id  ARGV[3] monitor member "B/C"
-- ARGV[4] tombstone horizon: tombstones with last_modified <= this are not returned
-- ARGV[5] "1" to produce a state even when nothing changed (re-sign)
--
-- Returns {status, V, bucket json, collection json, records {id, json, ...},
--          tombstones {id, lm, ...}, source stamp}
-- status: "gone" (bucket or collection missing), "unpublished" (not readable by
-- system.Everyone), "unchanged" (already published as is), or "ok".
-- V: the records timestamp T when records changed since the published version P;
-- otherwise (metadata change, re-sign) max(now, T + 1, P + 1), and T is set to V so
-- that every later write gets a timestamp above the version published here.
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
if not everyone_reads(KEYS[7]) and not everyone_reads(KEYS[8]) then
    return {'unpublished'}
end

-- Any change to the bucket's or the collection's attributes changes this stamp.
local src = redis.sha1hex(bjson .. '\0' .. cjson_)
local T = tonumber(redis.call('GET', KEYS[2]) or '0')
local P = tonumber(redis.call('ZSCORE', KEYS[4], ARGV[3]) or '0')
local V
if T > P then
    V = T
elseif ARGV[5] == '1' or redis.call('HGET', KEYS[9], ARGV[3]) ~= src then
    V = math.max(herald_now_ms(), T + 1, P + 1)
    redis.call('SET', KEYS[2], string.format('%d', V))
else
    return {'unchanged', string.format('%d', P)}
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
return {'ok', string.format('%d', V), bjson, cjson_, redis.call('HGETALL', KEYS[1]), tombs, src}
