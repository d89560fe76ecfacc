-- signer_recompress: replaces the stored blob of version V by the same content compressed
-- at the configured level, unless a newer version has been stored since (docs/incremental.md:
-- a version with a delta is first stored with a fast compression level, so that it is
-- announced at once; this follows when the signer is idle).
--
-- KEYS[1] herald:snap:B/C  KEYS[2] herald:monitor
-- ARGV[1] member "B/C"  ARGV[2] V  ARGV[3] the recompressed blob
-- Returns 1 when replaced, 0 when V is no longer the stored version.
local cur = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]) or '0')
if cur ~= tonumber(ARGV[2]) then
    return 0
end
redis.call('SET', KEYS[1], ARGV[3])
return 1
