-- KEYS: lock.  ARGV: token, ms.
redis.set_repl(redis.REPL_NONE)
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
