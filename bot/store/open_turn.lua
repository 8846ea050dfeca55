-- Open a turn: a retry's kept answer, a replay's seen mark, or the lock and the session.
-- KEYS: session, lock, answers, optout, waiters[, seen mark].
-- ARGV: token, lock ms, MessageSid ('' for none), waited before ('0' or '1').
-- Returns {'dup', answer}, {'seen', mark}, {'busy'} or {'ok', opted out, session}.
-- The seen mark is in the events stream's slot: on a cluster open_turn() asks for
-- it beside the script instead (see sessions.py, "Replays").
-- An answers key of the wrong type (damage, a manual edit) is dropped when its
-- read fails (redis.pcall): a plain call would raise after the SET NX, leaving
-- the lock held, and would fail every text until the key expired. So is a
-- session key that is not a string: the person starts afresh, the contract
-- for an unreadable session.
-- The lock, the waiter count and the wake-ups are kept out of the AOF and off
-- replicas (redis.set_repl): they live for milliseconds and expire by
-- themselves. A Redis restarted from its AOF, or a replica promoted mid-turn,
-- has no lock: the turn in flight then finds its lock gone at commit and
-- writes nothing (LockLost), as when its lock expired.
-- The lock and its waiters are not data: not written to the AOF or replicas.
redis.set_repl(redis.REPL_NONE)
-- A text that waited gives up its place: the count goes down, and at zero it
-- is gone. A count that ran out while the text waited (for the lock of a turn
-- that died) is not made again at -1: a key of the contact's with no expiry,
-- which their quick exit would never erase.
local function stop_waiting()
  if ARGV[4] == '1' and redis.call('DECR', KEYS[5]) <= 0 then redis.call('DEL', KEYS[5]) end
end
if ARGV[3] ~= '' then
  -- pcall: a key of the wrong type answers with an error table, not a raise.
  local answer = redis.pcall('HGET', KEYS[3], ARGV[3])
  if type(answer) == 'table' and answer.err then
    redis.set_repl(redis.REPL_ALL)
    redis.call('DEL', KEYS[3])
    redis.set_repl(redis.REPL_NONE)
  elseif answer then
    stop_waiting()
    return {'dup', answer}
  end
end
if KEYS[6] then
  local seen = redis.call('GET', KEYS[6])
  if seen then
    -- Handled before, and its answer no longer kept: a replay. Nothing to lock.
    stop_waiting()
    return {'seen', seen}
  end
end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  -- Our own token: this script already ran once (redis-py's retry after a
  -- timeout while Redis stalled). The lock is ours; carry on.
  if redis.call('GET', KEYS[2]) ~= ARGV[1] then
    if ARGV[4] == '0' then
      redis.call('INCR', KEYS[5])
      redis.call('PEXPIRE', KEYS[5], ARGV[2])
    end
    return {'busy'}
  end
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
stop_waiting()
local session = redis.pcall('GET', KEYS[1])
if type(session) == 'table' and session.err then
  redis.set_repl(redis.REPL_ALL)
  redis.call('DEL', KEYS[1])
  session = false
end
return {'ok', redis.call('EXISTS', KEYS[4]), session}
