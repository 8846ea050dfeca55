-- KEYS: session, sids.  ARGV: sid, session ttl.
-- Only for a conversation that is still stored: after a quick exit, a late
-- status callback must not leave a key of the contact behind.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
