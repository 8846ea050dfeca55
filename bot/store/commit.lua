-- KEYS: session, lock, answers, optout, handoff, waiters, wake, sids
--       [, events, live, live handoff, seen mark, purge, erased trails: on one Redis only].
-- ARGV: 1 token, 2 action, 3 session ttl, 4 replies JSON, 5 retry window, 6 answers kept,
--       7 optout, 8 n transcript, 9 MessageSid ('' for none), 10 hand-off ('1' in one;
--       '0' not, and may have been; '-' not, nor before), 11 session JSON (save),
--       12 n event, 13 events maxlen, 14 contact id, 15 now, 16 what the MessageSid's
--       seen mark holds ('' for no mark), 17 seen ttl, 18 keep Twilio sids ('1'/'0'), 19 when to delete
--       them at Twilio, 20 an erase's "<conv> <start>" for its turns to leave the events stream
--       ('' for none), then transcript..., event field/value pairs (n event values)...
-- The keys that are not the contact's (the events stream, the live index, the
-- seen mark, the deletion queue, the erased trails) are in the events stream's slot:
-- on a cluster commit() writes them beside the script, in the same round trip, and
-- queues the sids to delete at Twilio that an erase returns (one Redis: queued here).
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
local action, ttl, n, e = ARGV[2], ARGV[3], tonumber(ARGV[8]), tonumber(ARGV[12])
local sids = {}
if action == 'erase' then
  if ARGV[18] == '1' then
    sids = redis.call('SMEMBERS', KEYS[8])
    if ARGV[9] ~= '' then sids[#sids + 1] = ARGV[9] end
  end
  -- Quick exit: the session, the hand-off transcript, every kept answer and
  -- the message sids go. Nothing of the contact is left under their hash tag;
  -- a retry of this very message is recognised by its seen mark.
  redis.call('DEL', KEYS[1], KEYS[3], KEYS[5], KEYS[8])
elseif action == 'save' then
  redis.call('SET', KEYS[1], ARGV[11], 'EX', ttl)
  if ARGV[10] == '0' then
    -- No longer in a hand-off: what was said in it is not kept.
    redis.call('DEL', KEYS[5])
  elseif ARGV[10] == '1' and n > 0 then
    redis.call('RPUSH', KEYS[5], unpack(ARGV, 21, 20 + n))
    redis.call('EXPIRE', KEYS[5], ttl)
  end
end
-- Every text's sid is kept for the quick exit, the ones answered with silence
-- too (opted out, a keep): SALIR deletes them at Twilio with the rest.
if action ~= 'erase' and ARGV[18] == '1' and ARGV[9] ~= '' then
  redis.call('SADD', KEYS[8], ARGV[9])
  redis.call('EXPIRE', KEYS[8], ttl)
end
if ARGV[9] ~= '' and action ~= 'erase' then
  if redis.call('HSET', KEYS[3], ARGV[9], ARGV[4]) == 1 and redis.call('HLEN', KEYS[3]) > tonumber(ARGV[6]) then
    redis.call('DEL', KEYS[3])
    redis.call('HSET', KEYS[3], ARGV[9], ARGV[4])
  end
  redis.call('EXPIRE', KEYS[3], ARGV[5])
end
if ARGV[7] == 'set' then redis.call('SET', KEYS[4], '1')
elseif ARGV[7] == 'clear' then redis.call('DEL', KEYS[4]) end
local result = 1
if KEYS[9] then
  local cid, now = ARGV[14], tonumber(ARGV[15])
  if e > 0 then
    redis.call('XADD', KEYS[9], 'MAXLEN', '~', ARGV[13], '*', unpack(ARGV, 21 + n, 20 + n + e))
  end
  -- Expired sessions leave the index (and, when any did, the hand-off index).
  if redis.call('ZREMRANGEBYSCORE', KEYS[10], '-inf', now - tonumber(ttl)) > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[11], '-inf', now - tonumber(ttl))
  end
  if action == 'erase' then
    redis.call('ZREM', KEYS[10], cid)
    redis.call('ZREM', KEYS[11], cid)
    for _, sid in ipairs(sids) do redis.call('ZADD', KEYS[13], 'NX', ARGV[19], sid) end
    -- In the same script as the erase: no crash in between can leave the turns behind.
    if ARGV[20] ~= '' then redis.call('ZADD', KEYS[14], 'NX', now, ARGV[20]) end
  elseif action == 'save' then
    redis.call('ZADD', KEYS[10], now, cid)
    if ARGV[10] == '1' then redis.call('ZADD', KEYS[11], now, cid)
    elseif ARGV[10] == '0' then redis.call('ZREM', KEYS[11], cid) end
  end
  if ARGV[16] ~= '' then redis.call('SET', KEYS[12], ARGV[16], 'EX', ARGV[17]) end
end
if #sids > 0 then result = {1, unpack(sids)} end
-- Unlock and wake a waiter: like open_turn's, not written to the AOF or replicas.
redis.set_repl(redis.REPL_NONE)
redis.call('DEL', KEYS[2])
if tonumber(redis.call('GET', KEYS[6]) or '0') > 0 then
  redis.call('RPUSH', KEYS[7], '1')
  redis.call('PEXPIRE', KEYS[7], 5000)
end
return result
