-- signer_recompress: stores the full blob of version V, unless a newer version has been
-- stored since. Two uses (docs/incremental.md): the blob of a version that was stored and
-- announced with its deltas only (publish.c, "the full blob after the announcement"),
-- and, when the signer is idle, the same content recompressed at the configured level.
--
-- KEYS[1] herald:snap:B/C  KEYS[2] herald:monitor  KEYS[3] herald:snap:pending
-- ARGV[1] member "B/C"  ARGV[2] V  ARGV[3] the blob
-- ARGV[4] channel to announce "B/C V" on again, or "" (a recompression: nothing new)
-- Returns 1 when stored, 0 when V is no longer the stored version (the newer one's blob
-- follows it, or its signer died and herald:snap:pending has it signed again).
local cur = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]) or '0')
if cur ~= tonumber(ARGV[2]) then
    return 0
end
redis.call('SET', KEYS[1], ARGV[3])
if redis.call('HGET', KEYS[3], ARGV[1]) == ARGV[2] then
    redis.call('HDEL', KEYS[3], ARGV[1])
end
-- Again: a read server that loaded the previous blob meanwhile (a cold start, or a delta
-- chain that fell back to the blob) serves that older version until it hears of V.
if ARGV[4] ~= '' then
    redis.call('PUBLISH', ARGV[4], ARGV[1] .. ' ' .. ARGV[2])
end
return 1
