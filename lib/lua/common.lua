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
