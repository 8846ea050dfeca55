-- Take one sign-in try: the longest wait still running on any of its counts, or, if none,
-- count the try as failed against each (undone when the password is right).
-- KEYS: the counts this try goes against. ARGV: now, window, longest, then each count's free tries.
local now, window, longest = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local wait = 0
for _, key in ipairs(KEYS) do
  local untl = tonumber(redis.call('HGET', key, 'until') or '0')
  if untl > now and untl - now > wait then wait = untl - now end
end
if wait > 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  local extra = redis.call('HINCRBY', key, 'n', 1) - tonumber(ARGV[3 + i])
  if extra > 0 then redis.call('HSET', key, 'until', tostring(now + math.min(2 ^ extra, longest))) end
  redis.call('EXPIRE', key, window)
end
return '0'
