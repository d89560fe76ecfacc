-- pub_flush: POST /v1/__flush__ (only when flush_endpoint_enabled): wipes every bucket,
-- collection, group, record, account and permission, for client test suites.
--
-- Before the wipe it emits a change event for every collection and every bucket that
-- existed, so the signer notices each one is gone and removes its snapshot from the
-- read servers (signer_remove), exactly as after a DELETE.
-- List timestamp keys (herald:ts:*) are kept: a collection created again after a flush
-- continues above its old timestamps, so no client's _since is ever ahead of the data.
-- The signer's own keys (snapshots, monitor, keys) and the change stream are its to
-- manage. KEYS is acceptable here: this endpoint exists for test servers only.
--
-- KEYS[1] herald:changes   KEYS[2] herald:objs::bucket
-- Returns the number of keys deleted.
-- Deadline fence (common.lua): first, before anything reads ARGV.
local late = herald_deadline_check()
if late then
    return late
end

local tss = string.format('%d', herald_now_ms())
for _, bid in ipairs(redis.call('HKEYS', KEYS[2])) do
    local colls = 'herald:objs:/buckets/' .. bid .. ':collection'
    for _, cid in ipairs(redis.call('HKEYS', colls)) do
        redis.call('XADD', KEYS[1], '*', 'b', bid, 'c', cid, 'ts', tss)
    end
    redis.call('XADD', KEYS[1], '*', 'b', bid, 'c', '', 'ts', tss)
end
local n = 0
for _, pattern in ipairs({'herald:objs:*', 'herald:mod:*', 'herald:tomb:*', 'herald:perm:*',
                          'herald:principals:*', 'herald:hist:*', 'herald:histe:*',
                          'herald:histu:*', 'herald:histus:*'}) do
    for _, k in ipairs(redis.call('KEYS', pattern)) do
        n = n + redis.call('DEL', k)
    end
end
return n
