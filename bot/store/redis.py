"""Sessions in Redis: per-contact lock, de-duplication, TTL, events.

Keys (``p`` is ``KEY_PREFIX``, default ``hl``; ``{cid}`` is a Redis Cluster
hash tag, so every key of one contact lives in one slot and one script can
touch them all)::

    p:{cid}:session        hash, the session (TTL SESSION_TTL)
    p:{cid}:lock           the per-contact lock (token, PX)
    p:{cid}:seen:<sid>     replies given to a MessageSid, JSON (24 h)
    p:{cid}:sids           index of those seen keys: zset MessageSid -> time (24 h)
    p:{cid}:handoff        texts sent during a hand-off, for the operator (TTL SESSION_TTL)
    p:optout:{cid}         opt-out record, no TTL: it outlives the session
    p:events               stream of turn events, capped; no bodies, no numbers
    p:msg:<sid>            delivery status of an outbound message (7 days)

The seen keys carry the contact's hash tag (DESIGN.md suggests
``hl:seen:<sid>``) so that checking for a retry, taking the lock and loading
the session is one script and one round trip, and so quick exit can erase the
replies a person was sent along with the session. The ``sids`` index lists
every seen key of the contact from the last 24 h, so quick exit erases all
of them however long the conversation was (the session's ``seen`` list only
holds the last few).

A turn costs two round trips: :meth:`claim` (script: seen? lock, load) and
:meth:`commit` (script: check lock, save or erase, remember the reply, opt-out,
unlock; plus XADD of the events, pipelined with it).
"""
from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field

import redis

SEEN_TTL = 86400
STATUS_TTL = 7 * 86400
LOCK_MS = 10_000  # longer than any turn; a crashed worker's lock frees itself
EVENTS_MAXLEN = 50_000
SIDS_LIMIT = 500  # seen keys indexed per contact; older ones just expire

# KEYS: seen, lock, session, optout, sids.  ARGV: token, lock ms, check seen?
# A session or index of the wrong type (damage, a manual edit) is dropped
# before it is read: reading it would raise after the SET NX, leaving the
# lock held, and would fail every text until the key expired. Dropping the
# session starts the person afresh: the contract for an unreadable session.
_CLAIM = """
if ARGV[3] == '1' then
  local seen = redis.call('GET', KEYS[1])
  if seen then return {'dup', seen} end
end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {'busy'}
end
local t = redis.call('TYPE', KEYS[3])['ok']
if t ~= 'hash' and t ~= 'none' then redis.call('DEL', KEYS[3]) end
t = redis.call('TYPE', KEYS[5])['ok']
if t ~= 'zset' and t ~= 'none' then redis.call('DEL', KEYS[5]) end
return {'ok', redis.call('EXISTS', KEYS[4]), redis.call('HGETALL', KEYS[3]), redis.call('ZRANGE', KEYS[5], 0, -1)}
"""

# KEYS: session, lock, seen, optout, handoff, sids, seen keys to erase...
# ARGV: token, action, ttl, replies json, seen ttl, optout, sid, now, sids limit,
#       n transcript, transcript..., fields...
_COMMIT = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
local action, ttl = ARGV[2], tonumber(ARGV[3])
local n = tonumber(ARGV[10])
if action == 'erase' then
  redis.call('DEL', KEYS[1], KEYS[5], KEYS[6])
  for i = 7, #KEYS do redis.call('DEL', KEYS[i]) end
elseif action == 'save' then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], unpack(ARGV, 11 + n))
  redis.call('EXPIRE', KEYS[1], ttl)
  if n > 0 then
    redis.call('RPUSH', KEYS[5], unpack(ARGV, 11, 10 + n))
    redis.call('EXPIRE', KEYS[5], ttl)
  end
end
if ARGV[4] ~= '' then
  local seen_ttl, now = tonumber(ARGV[5]), tonumber(ARGV[8])
  redis.call('SET', KEYS[3], ARGV[4], 'EX', seen_ttl)
  -- After a quick exit only this answer is kept (for Twilio's retry), unindexed.
  if action ~= 'erase' then
    redis.call('ZADD', KEYS[6], now, ARGV[7])
    redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now - seen_ttl)
    redis.call('ZREMRANGEBYRANK', KEYS[6], 0, -1 - tonumber(ARGV[9]))
    redis.call('EXPIRE', KEYS[6], seen_ttl)
  end
end
if ARGV[6] == 'set' then redis.call('SET', KEYS[4], '1')
elseif ARGV[6] == 'clear' then redis.call('DEL', KEYS[4]) end
redis.call('DEL', KEYS[2])
return 1
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class StoreError(RuntimeError):
    """The store could not do its part; the webhook answers with the fail-safe."""


class LockTimeout(StoreError):
    """Another message from the same person held the lock too long."""


class LockLost(StoreError):
    """The lock expired before the turn was saved; nothing was written."""


@dataclass
class Claim:
    """What :meth:`RedisStore.claim` found, and the lock it holds."""

    cid: str
    message_sid: str | None
    token: str | None = None
    duplicate: list[str] | None = None  # replies already given to this MessageSid
    fields: dict[str, str] | None = None  # the stored session, if any
    opted_out: bool = False
    seen_sids: list[str] = field(default_factory=list)  # MessageSids answered in the last 24 h


class RedisStore:
    def __init__(self, client: redis.Redis, prefix: str = "hl", session_ttl: int = 86400):
        self.r = client
        self.prefix = prefix
        self.session_ttl = session_ttl
        self._claim = client.register_script(_CLAIM)
        self._commit = client.register_script(_COMMIT)
        self._release = client.register_script(_RELEASE)

    # --- keys -----------------------------------------------------------------

    def key(self, cid: str, what: str) -> str:
        return f"{self.prefix}:{{{cid}}}:{what}"

    def optout_key(self, cid: str) -> str:
        return f"{self.prefix}:optout:{{{cid}}}"

    def seen_key(self, cid: str, sid: str) -> str:
        return self.key(cid, f"seen:{sid}")

    @property
    def events_key(self) -> str:
        return f"{self.prefix}:events"

    # --- a turn -----------------------------------------------------------------

    def claim(self, cid: str, message_sid: str | None, wait: float = 8.0) -> Claim:
        """Return the replies for a retried MessageSid, or lock and load the session.

        Waits up to ``wait`` seconds while another message from the same
        person is being handled, then raises LockTimeout.
        """
        token = secrets.token_hex(8)
        keys = [
            self.seen_key(cid, message_sid or "-"),
            self.key(cid, "lock"),
            self.key(cid, "session"),
            self.optout_key(cid),
            self.key(cid, "sids"),
        ]
        args = [token, LOCK_MS, "1" if message_sid else "0"]
        deadline = time.monotonic() + wait
        pause = 0.002
        while True:
            result = self._claim(keys=keys, args=args)
            status = _s(result[0])
            if status == "dup":
                return Claim(cid, message_sid, duplicate=json.loads(result[1]))
            if status == "ok":
                claim = Claim(cid, message_sid, token=token, opted_out=bool(result[1]))
                try:
                    flat = [_s(x) for x in result[2]]
                    claim.fields = dict(zip(flat[::2], flat[1::2])) or None
                    claim.seen_sids = [_s(x) for x in result[3]]
                except BaseException:  # we hold the lock: never leave it behind
                    self.release(claim)
                    raise
                return claim
            if time.monotonic() + pause > deadline:
                raise LockTimeout("contact busy")
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def commit(
        self,
        claim: Claim,
        *,
        action: str,
        fields: dict[str, str] | None,
        replies: list[str],
        opt_out: bool | None = None,
        transcript: list[str] = (),
        events: list[dict[str, str]] = (),
    ) -> None:
        """Save (or erase) the session, remember the replies, unlock; record events.

        ``action`` is ``save``, ``keep`` (leave the stored session as it is)
        or ``erase`` (quick exit: the session, the hand-off transcript and
        every reply kept for retries go; only the reply to this message stays,
        so that Twilio's retry of it gets the same line).
        """
        cid = claim.cid
        keys = [
            self.key(cid, "session"),
            self.key(cid, "lock"),
            self.seen_key(cid, claim.message_sid or "-"),
            self.optout_key(cid),
            self.key(cid, "handoff"),
            self.key(cid, "sids"),
        ]
        if action == "erase":
            keys += [self.seen_key(cid, sid) for sid in claim.seen_sids if sid != claim.message_sid]
        flat: list[str] = []
        if action == "save":
            for name, value in (fields or {}).items():
                flat += [name, value]
        args = [
            claim.token,
            action,
            self.session_ttl,
            json.dumps(replies, ensure_ascii=False) if claim.message_sid else "",
            SEEN_TTL,
            {True: "set", False: "clear", None: ""}[opt_out],
            claim.message_sid or "",
            f"{time.time():.3f}",
            SIDS_LIMIT,
            len(transcript),
            *transcript,
            *flat,
        ]
        pipe = self.r.pipeline(transaction=False)
        self._commit(keys=keys, args=args, client=pipe)
        for event in events:
            pipe.xadd(self.events_key, event, maxlen=EVENTS_MAXLEN, approximate=True)
        results = pipe.execute()
        if results[0] != 1:
            raise LockLost("the lock expired before the turn was saved")

    def release(self, claim: Claim) -> None:
        """Give the lock back without saving (the turn failed)."""
        if claim.token:
            self._release(keys=[self.key(claim.cid, "lock")], args=[claim.token])

    # --- reading ------------------------------------------------------------------

    def load(self, cid: str) -> dict[str, str] | None:
        fields = self.r.hgetall(self.key(cid, "session"))
        return {_s(k): _s(v) for k, v in fields.items()} or None

    def is_opted_out(self, cid: str) -> bool:
        return bool(self.r.exists(self.optout_key(cid)))

    def ping(self) -> bool:
        try:
            return bool(self.r.ping())
        except redis.RedisError:
            return False

    # --- delivery status -------------------------------------------------------------

    def record_status(self, sid: str, status: str, error_code: str | None) -> None:
        key = f"{self.prefix}:msg:{sid}"
        pipe = self.r.pipeline(transaction=False)
        pipe.hset(key, mapping={"status": status, "error": error_code or "", "t": f"{time.time():.0f}"})
        pipe.expire(key, STATUS_TTL)
        event = {"kind": "delivery", "status": status}
        if error_code:
            event["error"] = error_code
        pipe.xadd(self.events_key, event, maxlen=EVENTS_MAXLEN, approximate=True)
        pipe.execute()

    def delivery_status(self, sid: str) -> dict[str, str] | None:
        fields = self.r.hgetall(f"{self.prefix}:msg:{sid}")
        return {_s(k): _s(v) for k, v in fields.items()} or None

    # --- operators ---------------------------------------------------------------------

    def on_duty(self) -> bool:
        """Whether an operator has said they are on duty (set from the console)."""
        return bool(self.r.exists(f"{self.prefix}:duty"))


def _s(value) -> str:
    # Damaged bytes must not make a session unreadable for good: decode what we can.
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
