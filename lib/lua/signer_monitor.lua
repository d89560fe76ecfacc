-- signer_monitor: stores a signed monitor (herald/monitor.h) built from the entries of
-- herald:monitor at generation ARGV[3], unless those entries changed since (a snapshot
-- was stored or removed: the caller rebuilds) or a monitor with M >= ARGV[1] is already
-- stored (compare-and-set on M: two signers never store an older one over a newer one).
--
-- KEYS[1] herald:monitor:signed  KEYS[2] herald:monitor:gen
-- ARGV[1] M  ARGV[2] E  ARGV[3] the generation the entries were read at  ARGV[4] body
-- ARGV[5] channel
-- Returns 1 when stored (and announced as "monitor <M>"), 0 when a monitor at least as
-- new is stored, -1 when the entries changed since they were read.
local gen = redis.call('GET', KEYS[2]) or '0'
if gen ~= ARGV[3] then
    return -1
end
local cur = tonumber(redis.call('HGET', KEYS[1], 'timestamp') or '0')
if tonumber(ARGV[1]) <= cur then
    return 0
end
redis.call('HSET', KEYS[1], 'timestamp', ARGV[1], 'expires', ARGV[2], 'gen', ARGV[3], 'body', ARGV[4])
redis.call('PUBLISH', ARGV[5], 'monitor ' .. ARGV[1])
return 1
