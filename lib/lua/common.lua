-- Prepended to every Herald script by cmake/embed_lua.cmake. Keep it free of side
-- effects: it only defines local helpers.
local function herald_now_ms()
    local t = redis.call('TIME')
    return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
