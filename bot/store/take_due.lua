-- A leased queue (leased_queue.py). KEYS: the queue.  ARGV: now, lease until, limit.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, item in ipairs(due) do redis.call('ZADD', KEYS[1], 'XX', ARGV[2], item) end
return due
