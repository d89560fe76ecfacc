-- put_object: creates or replaces one object (bucket, collection, group, record,
-- account) with its permissions, and records a change event for the signer, atomically.
--
-- Everything a write changes happens inside this one script, so a reader (the signer's
-- signer_read, the publisher's GETs) sees the object, its timestamp, its permissions
-- and the change event together or not at all. The timestamp is computed here, from
-- Redis TIME, so it is strictly increasing per list whatever the clocks of the
-- publishers:  ts = max(now_ms, previous + 1, published + 1)  where previous is the
-- list's timestamp and published the collection's version in herald:monitor (records
-- lists only; the signer's versions must stay below every later write).
--
-- The caller canonicalized the object with last_modified 0 and split it around that
-- number (publisher/stamp.h); the stored value is prefix .. ts .. suffix.
--
-- The publisher reads an object (and its permissions) before writing it: it checks
-- permissions and preconditions and computes the new permissions on what it read. The
-- "same" guard (ARGV[8]) makes that read-modify-write atomic: if the object changed in
-- between (another publisher), nothing is written and the publisher starts over.
--
-- Groups (ARGV[10] == '1') also maintain the reverse index of their members,
-- herald:principals:<member> = SET of group URIs, from which a user's principals are read.
--
-- KEYS[1] herald:objs:<parent>:<res>   KEYS[2] herald:ts:<parent>:<res>
-- KEYS[3] herald:mod:<parent>:<res>    KEYS[4] herald:tomb:<parent>:<res>
-- KEYS[5] herald:perm:<uri of the object>
-- KEYS[6] herald:monitor               KEYS[7] herald:changes
-- KEYS[8 .. 7+P]  herald:objs of each ancestor's list (existence checks, outermost first)
-- KEYS[8+P]       when ARGV[12] == '1': the timestamp key of the new object's child list
--                 (a new collection's records timestamp, a new bucket's collections
--                 timestamp, start at its creation time)
--
-- ARGV[1] id   ARGV[2] prefix   ARGV[3] suffix
-- ARGV[4] monitor member "<bid>/<cid>" for records lists, else ''
-- ARGV[5] change event bucket id ('' for no event: groups, accounts)
-- ARGV[6] change event collection id ('' for a bucket)
-- ARGV[7] the object's URI (group member index)
-- ARGV[8] guard: '' none, else the last_modified the object must still have ('0': it
--         must not exist)
-- ARGV[9] the most live objects the list may hold when this creates one (0: no limit)
-- ARGV[10] '1' for a group   ARGV[11] P, the number of ancestors to check
-- ARGV[12] '1' to initialize KEYS[8+P]
-- ARGV[13 .. 12+2P] (resource name, id) of each ancestor, matching KEYS[8 ..]
-- ARGV[13+2P ..] (permission name, JSON array of principals) pairs: the object's
--         permissions become exactly these
-- then the side arguments (common.lua, herald_side_take), the history arguments
--         (herald_hist_take) and the deadline
--
-- Returns {1 if created else 0, ts, {perm, json, ...} (the object's permissions)},
-- {-1, resource name, id} when an ancestor does not exist, {-2} when the guard failed,
-- {-3} when the list is full. Nothing is written in the error cases.
-- Deadline fence (common.lua): first, before anything reads ARGV.
local late = herald_deadline_check()
if late then
    return late
end
-- History arguments (common.lua): next, before anything reads ARGV from its end.
local hist = herald_hist_take()
local side = herald_side_take()

local function members_of(json)
    if not json then
        return {}
    end
    local ok, obj = pcall(cjson.decode, json)
    if not ok or type(obj) ~= 'table' or type(obj.members) ~= 'table' then
        return {}
    end
    return obj.members
end

local id = ARGV[1]
local nparents = tonumber(ARGV[11])
for i = 1, nparents do
    local res, pid = ARGV[11 + 2 * i], ARGV[12 + 2 * i]
    if redis.call('HEXISTS', KEYS[7 + i], pid) == 0 then
        return {-1, res, pid}
    end
end

local old = redis.call('HGET', KEYS[1], id)
if ARGV[8] ~= '' then
    local lm = 0
    if old then
        lm = tonumber(redis.call('ZSCORE', KEYS[3], id) or '-1')
    end
    if lm ~= tonumber(ARGV[8]) then
        return {-2}
    end
end
if not herald_side_check(side) then
    return {-2}
end
local created = not old
local limit = tonumber(ARGV[9])
if created and limit > 0 and redis.call('HLEN', KEYS[1]) >= limit then
    return {-3}
end

local ts, tss = herald_next_ts(KEYS[2], KEYS[6], ARGV[4])
local stored = ARGV[2] .. tss .. ARGV[3]

redis.call('HSET', KEYS[1], id, stored)
redis.call('SET', KEYS[2], tss)
redis.call('ZADD', KEYS[3], tss, id)
redis.call('HDEL', KEYS[4], id)

-- A new object never inherits an older object's grants: the permissions are rewritten.
redis.call('DEL', KEYS[5])
for i = 13 + 2 * nparents, #ARGV, 2 do
    redis.call('HSET', KEYS[5], ARGV[i], ARGV[i + 1])
end

if ARGV[10] == '1' then
    for _, m in ipairs(members_of(old)) do
        if type(m) == 'string' then
            redis.call('SREM', 'herald:principals:' .. m, ARGV[7])
        end
    end
    for _, m in ipairs(members_of(stored)) do
        if type(m) == 'string' then
            redis.call('SADD', 'herald:principals:' .. m, ARGV[7])
        end
    end
end

if created and ARGV[12] == '1' then
    local child = KEYS[8 + nparents]
    -- Kept across a delete and re-create, so the child list never goes back in time.
    local cprev = tonumber(redis.call('GET', child) or '0')
    redis.call('SET', child, string.format('%d', math.max(ts, cprev + 1)))
end

if ARGV[5] ~= '' then
    redis.call('XADD', KEYS[7], '*', 'b', ARGV[5], 'c', ARGV[6], 'ts', tss)
end
herald_side_apply(side)
local perms = redis.call('HGETALL', KEYS[5])
herald_hist_append(hist, created and 'create' or 'update', stored, herald_perms_json(perms))
return {created and 1 or 0, tss, perms}
