-- delete_object: deletes one object, leaves its tombstone, cascades to its children,
-- and records change events for the signer, atomically.
--
-- The list's timestamp is bumped exactly as put_object does (herald_next_ts), and the
-- tombstone {id, last_modified = ts} lets clients syncing with _since see the delete.
-- Cascades (Kinto deletes everything under a collection or a bucket):
--   collection U: its records list (objects, tombstones, per-record permissions);
--   bucket U: each collection as above, plus the collections and groups lists (and the
--   groups' entries in the member index herald:principals:<member>).
-- Children's list timestamp keys are kept on purpose (a few bytes each): if the same
-- collection is created again its records timestamp continues above the old one, so a
-- client's _since from before the delete is never ahead of the new data.
-- A bucket delete emits one event per collection it removes (and one for the bucket)
-- so the signer removes each published snapshot without having to list anything.
--
-- Child keys are built here from the schema (include/herald/schema.h): a cascade's
-- keys cannot be known before the script runs. Herald runs against a single Redis
-- (replicas, not Redis Cluster), where this is allowed.
--
-- KEYS[1] herald:objs:<parent>:<res>   KEYS[2] herald:ts:<parent>:<res>
-- KEYS[3] herald:mod:<parent>:<res>    KEYS[4] herald:tomb:<parent>:<res>
-- KEYS[5] herald:perm:<uri of the object>
-- KEYS[6] herald:monitor               KEYS[7] herald:changes
-- ARGV[1] id   ARGV[2] monitor member "<bid>/<cid>" for records lists, else ''
-- ARGV[3] change event bucket id ('' for no event: groups, accounts)
-- ARGV[4] change event collection id ('' for a bucket)
-- ARGV[5] cascade: '' (none), 'collection' or 'bucket'   ARGV[6] the object's URI
-- ARGV[7] guard: '' none, else the last_modified the object must still have
-- ARGV[8] '1' for a group (member index)
-- ARGV[9 ..] the side arguments (common.lua, herald_side_take), the history arguments
--         (herald_hist_take), then the deadline
--
-- Returns {1, ts, the deleted object's JSON} when deleted, {0} when there was no such
-- object, {-2} when the guard failed (nothing written in both cases).
-- Deadline fence (common.lua): first, before anything reads ARGV.
local late = herald_deadline_check()
if late then
    return late
end
-- History arguments (common.lua): next, before anything reads ARGV.
local hist = herald_hist_take()
local side = herald_side_take()

local function forget_members(json, uri)
    local ok, obj = pcall(cjson.decode, json)
    if not ok or type(obj) ~= 'table' or type(obj.members) ~= 'table' then
        return
    end
    for _, m in ipairs(obj.members) do
        if type(m) == 'string' then
            redis.call('SREM', 'herald:principals:' .. m, uri)
        end
    end
end

-- Drops the list (parent, plural): every object, its permissions, its tombstones.
-- Returns the ids of the objects that were live.
local function drop_list(parent, plural)
    local res = string.sub(plural, 1, -2)
    local objs = 'herald:objs:' .. parent .. ':' .. res
    local flat = redis.call('HGETALL', objs)
    local ids = {}
    for i = 1, #flat, 2 do
        local uri = parent .. '/' .. plural .. '/' .. flat[i]
        ids[#ids + 1] = flat[i]
        redis.call('DEL', 'herald:perm:' .. uri)
        if res == 'group' then
            forget_members(flat[i + 1], uri)
        end
    end
    redis.call('DEL', objs, 'herald:mod:' .. parent .. ':' .. res,
               'herald:tomb:' .. parent .. ':' .. res)
    return ids
end

local id = ARGV[1]
local old = redis.call('HGET', KEYS[1], id)
if not old then
    return {0}
end
if ARGV[7] ~= '' then
    local lm = tonumber(redis.call('ZSCORE', KEYS[3], id) or '-1')
    if lm ~= tonumber(ARGV[7]) then
        return {-2}
    end
end

if not herald_side_check(side) then
    return {-2}
end
local _, tss = herald_next_ts(KEYS[2], KEYS[6], ARGV[2])
herald_side_apply(side)

-- The entry is appended before the permissions go: its readers are the object's.
-- A bucket delete erases the bucket's history instead (Kinto).
if ARGV[5] == 'bucket' then
    herald_hist_erase(id)
else
    herald_hist_append(hist, 'delete',
                       '{"deleted":true,"id":' .. cjson.encode(id) .. ',"last_modified":' .. tss .. '}',
                       herald_perms_json(redis.call('HGETALL', KEYS[5])))
end

redis.call('HDEL', KEYS[1], id)
redis.call('HSET', KEYS[4], id, tss)
redis.call('ZADD', KEYS[3], tss, id)
redis.call('SET', KEYS[2], tss)
redis.call('DEL', KEYS[5])

local uri = ARGV[6]
if ARGV[8] == '1' then
    forget_members(old, uri)
end
if ARGV[5] == 'collection' then
    drop_list(uri, 'records')
elseif ARGV[5] == 'bucket' then
    for _, cid in ipairs(redis.call('HKEYS', 'herald:objs:' .. uri .. ':collection')) do
        drop_list(uri .. '/collections/' .. cid, 'records')
        redis.call('XADD', KEYS[7], '*', 'b', ARGV[3], 'c', cid, 'ts', tss)
    end
    drop_list(uri, 'collections')
    drop_list(uri, 'groups')
end

if ARGV[3] ~= '' then
    redis.call('XADD', KEYS[7], '*', 'b', ARGV[3], 'c', ARGV[4], 'ts', tss)
end
return {1, tss, old}
