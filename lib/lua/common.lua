-- Prepended to every Herald script by cmake/embed_lua.cmake. Keep it free of side
-- effects: it only defines local helpers.
local function herald_now_ms()
    local t = redis.call('TIME')
    return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Deadline fence of the publisher's write scripts (publisher/store.c, pub_store_eval):
-- the publisher appends its deadline (ms on Redis's clock) as the last argument. Past
-- it, the publisher has already answered 503, so the write must not happen. Removes it
-- from ARGV (before anything else reads ARGV); returns the error reply to return when
-- late, else nil. Use: local late = herald_deadline_check() if late then return late end
local function herald_deadline_check()
    local deadline = tonumber(table.remove(ARGV))
    if not deadline or herald_now_ms() > deadline then
        return redis.error_reply('HERALD_DEADLINE the publisher stopped waiting for this write')
    end
    return nil
end

-- The new timestamp of a list that a write changes, strictly increasing whatever the
-- publishers' clocks: max(now_ms, previous + 1, published + 1), where previous is the
-- list's timestamp (key 'ts_key') and published the version of 'member' in the sorted
-- set 'monitor_key' (member '' for lists other than records: 0). Lua numbers are
-- doubles: millisecond timestamps (< 2^53) are exact. Returns it as a number and as
-- its decimal string.
local function herald_next_ts(ts_key, monitor_key, member)
    local previous = tonumber(redis.call('GET', ts_key) or '0')
    local published = 0
    if member ~= '' then
        published = tonumber(redis.call('ZSCORE', monitor_key, member) or '0')
    end
    local ts = math.max(herald_now_ms(), previous + 1, published + 1)
    return ts, string.format('%d', ts)
end

-- ---- History (publisher/history.h, docs/history.md) ----
-- The publisher's write scripts append one history entry per write in the same script
-- as the write, so an acknowledged write always has its entry and no entry exists for
-- a write that did not happen. The publisher appends HERALD_HIST_NARGS arguments to
-- ARGV, just before the deadline (herald_deadline_check removes that first):
--   bucket id ('' : no entry for this write), user id, entry id (UUID), resource name,
--   collection id (or ''), group or record id (or ''), object URI, max age (ms, 0: none),
--   max entries per bucket (0: none), max entries of this user per bucket (0: not trimmed)
-- Keys (include/herald/schema.h):
--   herald:hist:<bid>        ZSET  entry id -> last_modified (ms)
--   herald:histe:<bid>       HASH  entry id -> entry JSON, with "__read__": the principals
--                                  that could read the object when it was written
--   herald:histu:<bid>:<uid> ZSET  entry id -> last_modified, users trimmed per user only
--   herald:histus:<bid>      SET   the herald:histu keys of the bucket
--   herald:ts:/buckets/<bid>:history  STRING the bucket's history timestamp
local HERALD_HIST_NARGS = 10

-- Removes the history arguments from ARGV (after herald_deadline_check). Returns them.
local function herald_hist_take()
    local n = #ARGV
    local h = {bid = ARGV[n - 9], user = ARGV[n - 8], id = ARGV[n - 7], res = ARGV[n - 6],
               cid = ARGV[n - 5], oid = ARGV[n - 4], uri = ARGV[n - 3],
               max_age = tonumber(ARGV[n - 2]) or 0, max_entries = tonumber(ARGV[n - 1]) or 0,
               user_max = tonumber(ARGV[n]) or 0}
    for _ = 1, HERALD_HIST_NARGS do
        table.remove(ARGV)
    end
    return h
end

-- Redis TIME as ISO-8601 UTC with microseconds, "+00:00" (Kinto's history dates).
-- Days to civil date: H. Hinnant's algorithm, in Lua numbers (exact below 2^53).
local function herald_iso_now()
    local t = redis.call('TIME')
    local secs, us = tonumber(t[1]), tonumber(t[2])
    local days = math.floor(secs / 86400)
    local rem = secs - days * 86400
    local z = days + 719468
    local era = math.floor(z / 146097)
    local doe = z - era * 146097
    local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) -
                           math.floor(doe / 146096)) / 365)
    local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
    local mp = math.floor((5 * doy + 2) / 153)
    local d = doy - math.floor((153 * mp + 2) / 5) + 1
    local m = mp < 10 and mp + 3 or mp - 9
    local y = yoe + era * 400 + (m <= 2 and 1 or 0)
    return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00', y, m, d,
                         math.floor(rem / 3600), math.floor((rem % 3600) / 60), rem % 60, us)
end

-- Adds the read and write principals of the permissions HASH 'key' to 'set'.
local function herald_hist_readers(set, key)
    for _, perm in ipairs({'read', 'write'}) do
        local json = redis.call('HGET', key, perm)
        if json then
            local ok, arr = pcall(cjson.decode, json)
            if ok and type(arr) == 'table' then
                for _, p in ipairs(arr) do
                    set[p] = true
                end
            end
        end
    end
end

-- Removes the entries 'ids' of bucket 'bid' from every index.
local function herald_hist_drop(bid, ids)
    local ekey = 'herald:histe:' .. bid
    for _, id in ipairs(ids) do
        local json = redis.call('HGET', ekey, id)
        if json then
            local ok, e = pcall(cjson.decode, json)
            if ok and type(e) == 'table' and type(e.user_id) == 'string' then
                redis.call('ZREM', 'herald:histu:' .. bid .. ':' .. e.user_id, id)
            end
            redis.call('HDEL', ekey, id)
        end
        redis.call('ZREM', 'herald:hist:' .. bid, id)
    end
end

-- The most entries one write trims: more than the one it adds, so a log over its
-- bounds shrinks back, and never a scan of the whole log.
local HERALD_HIST_TRIM = 16

-- Appends the entry of a write: 'action' create|update|delete, 'data_json' the object
-- after the change (a tombstone on delete), 'perms_json' its permissions object. Call it
-- before the write deletes permissions (the entry's readers are those of the object as
-- it was readable). Trims the log within its bounds.
local function herald_hist_append(h, action, data_json, perms_json)
    if h.bid == '' then
        return
    end
    local bid = h.bid
    local zkey, ekey = 'herald:hist:' .. bid, 'herald:histe:' .. bid
    local tkey = 'herald:ts:/buckets/' .. bid .. ':history'
    local ts, tss = herald_next_ts(tkey, '', '')
    redis.call('SET', tkey, tss)
    local readers = {}
    herald_hist_readers(readers, 'herald:perm:/buckets/' .. bid)
    if h.cid ~= '' then
        herald_hist_readers(readers, 'herald:perm:/buckets/' .. bid .. '/collections/' .. h.cid)
    end
    if h.res == 'group' or h.res == 'record' then
        herald_hist_readers(readers, 'herald:perm:' .. h.uri)
    end
    local rlist = {}
    for p in pairs(readers) do
        rlist[#rlist + 1] = cjson.encode(p)
    end
    local parts = {'{"id":', cjson.encode(h.id), ',"last_modified":', tss, ',"action":"', action,
                   '","resource_name":"', h.res, '","uri":', cjson.encode(h.uri), ',"user_id":',
                   cjson.encode(h.user), ',"date":"', herald_iso_now(), '"'}
    if h.res == 'bucket' then
        parts[#parts + 1] = ',"bucket_id":' .. cjson.encode(bid)
    end
    if h.cid ~= '' then
        parts[#parts + 1] = ',"collection_id":' .. cjson.encode(h.cid)
    end
    if h.res == 'group' then
        parts[#parts + 1] = ',"group_id":' .. cjson.encode(h.oid)
    elseif h.res == 'record' then
        parts[#parts + 1] = ',"record_id":' .. cjson.encode(h.oid)
    end
    parts[#parts + 1] = ',"target":{"data":' .. data_json .. ',"permissions":' .. perms_json ..
                            '},"__read__":[' .. table.concat(rlist, ',') .. ']}'
    redis.call('ZADD', zkey, tss, h.id)
    redis.call('HSET', ekey, h.id, table.concat(parts))
    if h.user_max > 0 then
        local ukey = 'herald:histu:' .. bid .. ':' .. h.user
        redis.call('ZADD', ukey, tss, h.id)
        redis.call('SADD', 'herald:histus:' .. bid, ukey)
        local over = redis.call('ZCARD', ukey) - h.user_max
        if over > 0 then
            herald_hist_drop(bid, redis.call('ZRANGE', ukey, 0, math.min(over, HERALD_HIST_TRIM) - 1))
        end
    end
    if h.max_age > 0 then
        herald_hist_drop(bid, redis.call('ZRANGEBYSCORE', zkey, '-inf', '(' .. string.format(
                                             '%d', ts - h.max_age), 'LIMIT', 0, HERALD_HIST_TRIM))
    end
    if h.max_entries > 0 then
        local over = redis.call('ZCARD', zkey) - h.max_entries
        if over > 0 then
            herald_hist_drop(bid, redis.call('ZRANGE', zkey, 0, math.min(over, HERALD_HIST_TRIM) - 1))
        end
    end
end

-- The permissions object {"perm":[...],...} of the HGETALL reply 'flat'.
local function herald_perms_json(flat)
    local parts = {}
    for i = 1, #flat, 2 do
        parts[#parts + 1] = cjson.encode(flat[i]) .. ':' .. flat[i + 1]
    end
    return '{' .. table.concat(parts, ',') .. '}'
end

-- Erases the whole history of bucket 'bid' (the bucket is deleted).
local function herald_hist_erase(bid)
    for _, ukey in ipairs(redis.call('SMEMBERS', 'herald:histus:' .. bid)) do
        redis.call('DEL', ukey)
    end
    redis.call('DEL', 'herald:hist:' .. bid, 'herald:histe:' .. bid, 'herald:histus:' .. bid)
end

-- ---- Review workflow: the source collection's status on a record edit (review.h) ----
-- A create, update or delete of a record in a source collection sets the collection's
-- status to work-in-progress with last_edit_by/date, in the same script as the record
-- write, so no approval can ever publish an edit it did not review. The publisher
-- appends HERALD_SIDE_NARGS arguments before the history ones: source bucket id ('':
-- none), collection id, the collection's stored JSON as read (guard), and the prefix and
-- suffix of its new stored JSON (publisher/stamp.h).
local HERALD_SIDE_NARGS = 5

-- Removes the side arguments from ARGV (after herald_hist_take). Returns them.
local function herald_side_take()
    local n = #ARGV
    local s = {bid = ARGV[n - 4], cid = ARGV[n - 3], old = ARGV[n - 2], prefix = ARGV[n - 1],
               suffix = ARGV[n]}
    for _ = 1, HERALD_SIDE_NARGS do
        table.remove(ARGV)
    end
    return s
end

-- false when the collection changed since the publisher read it (nothing written yet).
local function herald_side_check(s)
    if s.bid == '' then
        return true
    end
    return redis.call('HGET', 'herald:objs:/buckets/' .. s.bid .. ':collection', s.cid) == s.old
end

local function herald_side_apply(s)
    if s.bid == '' then
        return
    end
    local parent = '/buckets/' .. s.bid
    local tkey = 'herald:ts:' .. parent .. ':collection'
    local _, tss = herald_next_ts(tkey, '', '')
    redis.call('SET', tkey, tss)
    redis.call('HSET', 'herald:objs:' .. parent .. ':collection', s.cid, s.prefix .. tss .. s.suffix)
    redis.call('ZADD', 'herald:mod:' .. parent .. ':collection', tss, s.cid)
    redis.call('XADD', 'herald:changes', '*', 'b', s.bid, 'c', s.cid, 'ts', tss)
end
