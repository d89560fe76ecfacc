-- signer_store: stores a signed snapshot unless a newer one is already there
-- (compare-and-set on V, so two signers running at once can never go backwards), and
-- acknowledges the change events it covers.
--
-- Acknowledging here (XACK, then XDEL so consumed events leave the stream) instead of in
-- separate commands makes the store and the acknowledgement one atomic write: with
-- appendfsync always, each write command costs an fsync before Redis replies to anyone,
-- so this saves one or two fsyncs per edit. The signer passes event ids only when every
-- other collection those events touch has already been stored.
--
-- KEYS[1] herald:snap:B/C  KEYS[2] herald:monitor  KEYS[3] herald:monitor:src
-- KEYS[4] herald:monitor:expires  KEYS[5] herald:changes  KEYS[6] herald:monitor:sha
-- KEYS[7] herald:monitor:gen  KEYS[8] herald:snap:pending
-- KEYS[9 .. 8 + D] herald:snapdelta:B/C:<base> for each delta (docs/incremental.md)
-- ARGV[1] member "B/C"  ARGV[2] V  ARGV[3] blob, or "": the blob follows (publish.c; the
--         previous blob stays, and V is recorded in herald:snap:pending until it is stored)
-- ARGV[4] channel  ARGV[5] source stamp
-- ARGV[6] the snapshot's expiry (smallest head.expires)  ARGV[7] consumer group
-- ARGV[8] head.sha256 (the signed monitor's entry for B/C)
-- ARGV[9] D, the number of deltas  ARGV[10] their time to live (ms)
-- ARGV[11 .. 10 + D] the deltas to V, one per KEYS[8 + i] (from that key's base)
-- ARGV[11 + D ..] stream entry ids to acknowledge and delete (whether or not V is
--            stored: either way a snapshot at least as new as V is published)
-- Returns 1 when stored (and announced), 0 when a version >= V is already stored.
--
-- The deltas are stored with the blob, before the announcement, so a read server that
-- holds any of their bases finds the one to V when it hears of V.
local nd = tonumber(ARGV[9])
if #ARGV > 10 + nd then
    redis.call('XACK', KEYS[5], ARGV[7], unpack(ARGV, 11 + nd))
    redis.call('XDEL', KEYS[5], unpack(ARGV, 11 + nd))
end
local cur = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]) or '0')
if tonumber(ARGV[2]) <= cur then
    return 0
end
if ARGV[3] ~= '' then
    redis.call('SET', KEYS[1], ARGV[3])
    redis.call('HDEL', KEYS[8], ARGV[1])
else
    redis.call('HSET', KEYS[8], ARGV[1], ARGV[2])
end
for i = 1, nd do
    redis.call('SET', KEYS[8 + i], ARGV[10 + i], 'PX', ARGV[10])
end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[5])
redis.call('ZADD', KEYS[4], ARGV[6], ARGV[1])
redis.call('HSET', KEYS[6], ARGV[1], ARGV[8])
redis.call('INCR', KEYS[7])
redis.call('PUBLISH', ARGV[4], ARGV[1] .. ' ' .. ARGV[2])
return 1
