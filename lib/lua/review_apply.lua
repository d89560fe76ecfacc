-- review_apply: one status transition of the review workflow (publisher/review.h): the
-- source collection's new state and every record copy it implies (source -> preview,
-- source -> destination, destination -> source and preview on rollback), atomically.
--
-- The publisher read the source collection and the record lists involved, computed the
-- differences by id (records equal but for last_modified are not copied), and passes
-- them here with guards: the source collection's stored JSON and each list's timestamp
-- as it read them. If anything changed since (an edit, another transition), nothing is
-- written and {-2} is returned: the publisher reads again and decides again (a racing
-- approval then finds the collection signed, an approval racing an edit finds it
-- work-in-progress). So a destination never holds half of a review, and what it holds
-- is exactly the source's records at the approved moment.
--
-- Copied records get fresh timestamps of their list (herald_next_ts, strictly
-- increasing, above the published version), tombstones for deletions, no per-record
-- permissions; each list that changed gets a change event, so the signer signs the
-- preview and the destination like any other edit. A missing preview or destination
-- bucket or collection is created (collection readable by system.Everyone: published).
-- History: the source collection's entry is the caller's (history arguments); each
-- copied record gets an entry attributed to the workflow's user id, in its bucket, when
-- the op says so (the publisher leaves out excluded resources).
-- Keys are built here from the schema (include/herald/schema.h), like delete_object's
-- cascade: Herald runs against one Redis (not Cluster).
--
-- ARGV[1] source bucket   ARGV[2] source collection
-- ARGV[3] the source collection's stored JSON as read (guard)
-- ARGV[4], ARGV[5] prefix and suffix of its new stored JSON (publisher/stamp.h)
-- ARGV[6] the workflow's user id   ARGV[7] an entry id prefix (28 characters of a UUID)
-- ARGV[8] P, then P (permission, JSON array) pairs: the source collection's permissions
-- ARGV[9 + 2P] number of ops N, then N ops, each:
--   bucket, collection, expected records timestamp ('0' none yet), history '1'/'0',
--   create '1'/'0', event '1'/'0' (signal the signer even without changes: re-sign),
--   U (upserts), D (deletions), then U (id, prefix, suffix), then D ids
-- then the history arguments (common.lua) and the deadline.
-- Returns {1, ts of the source collection, its permissions (HGETALL)} or {-2} (a guard failed; nothing written).
local late = herald_deadline_check()
if late then
    return late
end
local hist = herald_hist_take()

local sb, sc = ARGV[1], ARGV[2]
local cobjs = 'herald:objs:/buckets/' .. sb .. ':collection'
if redis.call('HGET', cobjs, sc) ~= ARGV[3] then
    return {-2}
end

-- Parse the ops and check every guard before writing anything.
local nperms = tonumber(ARGV[8])
local ops, i = {}, 10 + 2 * nperms
for _ = 1, tonumber(ARGV[9 + 2 * nperms]) do
    local op = {b = ARGV[i], c = ARGV[i + 1], expect = ARGV[i + 2], hist = ARGV[i + 3] == '1',
                create = ARGV[i + 4] == '1', event = ARGV[i + 5] == '1',
                nup = tonumber(ARGV[i + 6]), ndel = tonumber(ARGV[i + 7])}
    op.first = i + 8
    i = op.first + 3 * op.nup + op.ndel
    local parent = '/buckets/' .. op.b .. '/collections/' .. op.c
    op.parent = parent
    op.objs = 'herald:objs:' .. parent .. ':record'
    op.ts = 'herald:ts:' .. parent .. ':record'
    op.mod = 'herald:mod:' .. parent .. ':record'
    op.tomb = 'herald:tomb:' .. parent .. ':record'
    if (redis.call('GET', op.ts) or '0') ~= op.expect then
        return {-2}
    end
    ops[#ops + 1] = op
end

local function create_missing(b, c)
    if redis.call('HEXISTS', 'herald:objs::bucket', b) == 0 then
        local _, tss = herald_next_ts('herald:ts::bucket', '', '')
        redis.call('SET', 'herald:ts::bucket', tss)
        redis.call('HSET', 'herald:objs::bucket', b,
                   '{"id":' .. cjson.encode(b) .. ',"last_modified":' .. tss .. '}')
        redis.call('ZADD', 'herald:mod::bucket', tss, b)
        redis.call('HDEL', 'herald:tomb::bucket', b)
        local cts = 'herald:ts:/buckets/' .. b .. ':collection'
        if not redis.call('GET', cts) then
            redis.call('SET', cts, tss)
        end
        redis.call('XADD', 'herald:changes', '*', 'b', b, 'c', '', 'ts', tss)
    end
    local objs = 'herald:objs:/buckets/' .. b .. ':collection'
    if redis.call('HEXISTS', objs, c) == 0 then
        local tkey = 'herald:ts:/buckets/' .. b .. ':collection'
        local ts, tss = herald_next_ts(tkey, '', '')
        redis.call('SET', tkey, tss)
        redis.call('HSET', objs, c, '{"id":' .. cjson.encode(c) .. ',"last_modified":' .. tss .. '}')
        redis.call('ZADD', 'herald:mod:/buckets/' .. b .. ':collection', tss, c)
        redis.call('HDEL', 'herald:tomb:/buckets/' .. b .. ':collection', c)
        local uri = '/buckets/' .. b .. '/collections/' .. c
        redis.call('DEL', 'herald:perm:' .. uri)
        redis.call('HSET', 'herald:perm:' .. uri, 'read', '["system.Everyone"]')
        local rts = 'herald:ts:' .. uri .. ':record'
        local rprev = tonumber(redis.call('GET', rts) or '0')
        redis.call('SET', rts, string.format('%d', math.max(ts, rprev + 1)))
    end
end

-- The source collection.
local ts, tss = herald_next_ts('herald:ts:/buckets/' .. sb .. ':collection', '', '')
local stored = ARGV[4] .. tss .. ARGV[5]
redis.call('HSET', cobjs, sc, stored)
redis.call('SET', 'herald:ts:/buckets/' .. sb .. ':collection', tss)
redis.call('ZADD', 'herald:mod:/buckets/' .. sb .. ':collection', tss, sc)
redis.call('XADD', 'herald:changes', '*', 'b', sb, 'c', sc, 'ts', tss)
local pkey = 'herald:perm:/buckets/' .. sb .. '/collections/' .. sc
redis.call('DEL', pkey)
for k = 9, 8 + 2 * nperms, 2 do
    redis.call('HSET', pkey, ARGV[k], ARGV[k + 1])
end
herald_hist_append(hist, 'update', stored, herald_perms_json(
                       redis.call('HGETALL', 'herald:perm:/buckets/' .. sb .. '/collections/' .. sc)))

local n_entry = 0
local function record_entry(op, action, rid, data)
    if not op.hist then
        return
    end
    n_entry = n_entry + 1
    local h = {bid = op.b, user = ARGV[6], id = ARGV[7] .. string.format('%08x', n_entry),
               res = 'record', cid = op.c, oid = rid, uri = op.parent .. '/records/' .. rid,
               max_age = hist.max_age, max_entries = hist.max_entries, user_max = 0}
    herald_hist_append(h, action, data, '{}')
end

for _, op in ipairs(ops) do
    if op.create then
        create_missing(op.b, op.c)
    end
    local member = op.b .. '/' .. op.c
    local last = nil
    for k = 0, op.nup - 1 do
        local id = ARGV[op.first + 3 * k]
        local _, rts = herald_next_ts(op.ts, 'herald:monitor', member)
        redis.call('SET', op.ts, rts)
        local data = ARGV[op.first + 3 * k + 1] .. rts .. ARGV[op.first + 3 * k + 2]
        local existed = redis.call('HEXISTS', op.objs, id) == 1
        redis.call('HSET', op.objs, id, data)
        redis.call('ZADD', op.mod, rts, id)
        redis.call('HDEL', op.tomb, id)
        redis.call('DEL', 'herald:perm:' .. op.parent .. '/records/' .. id)
        record_entry(op, existed and 'update' or 'create', id, data)
        last = rts
    end
    for k = 0, op.ndel - 1 do
        local id = ARGV[op.first + 3 * op.nup + k]
        if redis.call('HEXISTS', op.objs, id) == 1 then
            local _, rts = herald_next_ts(op.ts, 'herald:monitor', member)
            redis.call('SET', op.ts, rts)
            redis.call('HDEL', op.objs, id)
            redis.call('HSET', op.tomb, id, rts)
            redis.call('ZADD', op.mod, rts, id)
            redis.call('DEL', 'herald:perm:' .. op.parent .. '/records/' .. id)
            record_entry(op, 'delete', id,
                         '{"deleted":true,"id":' .. cjson.encode(id) .. ',"last_modified":' .. rts .. '}')
            last = rts
        end
    end
    if last or op.event or op.create then
        redis.call('XADD', 'herald:changes', '*', 'b', op.b, 'c', op.c, 'ts', last or tss)
    end
end
return {1, tss, redis.call('HGETALL', pkey)}
