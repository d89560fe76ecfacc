-- signer_remove: takes a collection off the read servers (deleted or unpublished).
--
-- KEYS[1] herald:snap:B/C  KEYS[2] herald:monitor  KEYS[3] herald:monitor:src
-- KEYS[4] herald:monitor:expires  KEYS[5] herald:monitor:sha  KEYS[6] herald:monitor:gen
-- KEYS[7] herald:snap:pending
-- ARGV[1] member "B/C"  ARGV[2] channel
-- Returns 1 when something was removed, 0 when it was not published.
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
    return 0
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
redis.call('HDEL', KEYS[7], ARGV[1])
redis.call('INCR', KEYS[6])
redis.call('PUBLISH', ARGV[2], ARGV[1] .. ' 0')
return 1
