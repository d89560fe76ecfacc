-- put_object: creates or replaces one object (bucket, collection, record, ...) and
-- records a change event for the signer, atomically.
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
-- KEYS[1] herald:objs:<parent>:<res>   KEYS[2] herald:ts:<parent>:<res>
-- KEYS[3] herald:mod:<parent>:<res>    KEYS[4] herald:tomb:<parent>:<res>
-- KEYS[5] herald:perm:<uri of the object>
-- KEYS[6] herald:monitor               KEYS[7] herald:changes
-- KEYS[8 .. 7+P]  herald:objs of each ancestor's list (existence checks, outermost first)
-- KEYS[8+P]       when ARGV[10] == '1': the timestamp key of the new object's child list
--                 (a new collection's records timestamp, a new bucket's collections
--                 timestamp, start at its creation time)
--
-- ARGV[1] id   ARGV[2] prefix   ARGV[3] suffix
-- ARGV[4] monitor member "<bid>/<cid>" for records lists, else ''
-- ARGV[5] change event bucket id   ARGV[6] change event collection id ('' for a bucket)
-- ARGV[7] 'replace': the permissions become exactly the pairs at the end of ARGV;
--         'keep': unchanged, except that a new object gets write = ARGV[8]
-- ARGV[8] JSON array of principals given write on creation in 'keep' mode
-- ARGV[9] P, the number of ancestors to check   ARGV[10] '1' to initialize KEYS[8+P]
-- ARGV[11 .. 10+2P] (resource name, id) of each ancestor, matching KEYS[8 ..]
-- ARGV[11+2P ..] (permission name, JSON array of principals) pairs for 'replace'
--
-- Returns {1 if created else 0, ts, {perm, json, ...} (the object's permissions)}, or
-- {-1, resource name, id} when an ancestor does not exist (nothing is written).
local function put_now_ms()
    local t = redis.call('TIME')
    return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local id = ARGV[1]
local nparents = tonumber(ARGV[9])
for i = 1, nparents do
    local res, pid = ARGV[9 + 2 * i], ARGV[10 + 2 * i]
    if redis.call('HEXISTS', KEYS[7 + i], pid) == 0 then
        return {-1, res, pid}
    end
end

local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local published = 0
if ARGV[4] ~= '' then
    published = tonumber(redis.call('ZSCORE', KEYS[6], ARGV[4]) or '0')
end
-- Lua numbers are doubles: millisecond timestamps (< 2^53) are exact.
local ts = math.max(put_now_ms(), previous + 1, published + 1)
local tss = string.format('%d', ts)

local created = redis.call('HEXISTS', KEYS[1], id) == 0
redis.call('HSET', KEYS[1], id, ARGV[2] .. tss .. ARGV[3])
redis.call('SET', KEYS[2], tss)
redis.call('ZADD', KEYS[3], tss, id)
redis.call('HDEL', KEYS[4], id)

if ARGV[7] == 'replace' then
    redis.call('DEL', KEYS[5])
    for i = 11 + 2 * nparents, #ARGV, 2 do
        redis.call('HSET', KEYS[5], ARGV[i], ARGV[i + 1])
    end
elseif created then
    -- delete_object removes permissions with the object; clearing here too means a
    -- new object can never inherit an older object's grants.
    redis.call('DEL', KEYS[5])
    redis.call('HSET', KEYS[5], 'write', ARGV[8])
end

if created and ARGV[10] == '1' then
    local child = KEYS[8 + nparents]
    -- Kept across a delete and re-create, so the child list never goes back in time.
    local cprev = tonumber(redis.call('GET', child) or '0')
    redis.call('SET', child, string.format('%d', math.max(ts, cprev + 1)))
end

redis.call('XADD', KEYS[7], '*', 'b', ARGV[5], 'c', ARGV[6], 'ts', tss)
return {created and 1 or 0, tss, redis.call('HGETALL', KEYS[5])}
