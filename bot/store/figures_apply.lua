-- Count a batch of stream entries and move the cursor, if no one moved it since it was read.
-- KEYS: cursor, pos, quiet, day keys...
-- ARGV: expected cursor, new cursor, day ttl, n increments, n left, n * (day key index, field, amount),
--       n left * (conv, day key index or 0, field or ''): followed conversations gone quiet, counted
--       only by the call that takes them off the quiet list (two catching up at once see the same ones),
--       then (conv, position or '' to forget, time) triples.
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return 0 end
local n, q = tonumber(ARGV[4]), tonumber(ARGV[5])
local i = 6
for _ = 1, n do
  redis.call('HINCRBY', KEYS[tonumber(ARGV[i])], ARGV[i + 1], ARGV[i + 2])
  i = i + 3
end
for _ = 1, q do
  if redis.call('ZREM', KEYS[3], ARGV[i]) == 1 then
    redis.call('HDEL', KEYS[2], ARGV[i])
    if ARGV[i + 2] ~= '' then redis.call('HINCRBY', KEYS[tonumber(ARGV[i + 1])], ARGV[i + 2], 1) end
  end
  i = i + 3
end
for k = 4, #KEYS do redis.call('EXPIRE', KEYS[k], ARGV[3]) end
while i <= #ARGV do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[2], ARGV[i])
    redis.call('ZREM', KEYS[3], ARGV[i])
  else
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
    redis.call('ZADD', KEYS[3], ARGV[i + 2], ARGV[i])
  end
  i = i + 3
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
