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
