-- Keep a responder's wrap-up note, only while the contact's lock is still ours:
-- a SALIR that got the lock after it ran out has erased the chat, and the note
-- must not be written after that erase.
-- KEYS: lock, note.  ARGV: token, note JSON, ttl.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
return 1
