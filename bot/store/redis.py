"""Sessions in Redis: per-contact lock, de-duplication, TTL, events.

Keys (``p`` is ``KEY_PREFIX``, default ``hl``; ``{cid}`` is a Redis Cluster
hash tag, so every key of one contact lives in one slot and one script can
touch them all)::

    p:{cid}:session        string, the session as one compact JSON object (TTL SESSION_TTL)
    p:{cid}:lock           the per-contact lock (token, PX)
    p:{cid}:waiters        how many turns wait for that lock; p:{cid}:wake wakes one
    p:{cid}:answers        hash MessageSid -> replies JSON given, for Twilio retries (TTL RETRY_WINDOW)
    p:{cid}:handoff        texts sent during a hand-off, for the operator (TTL SESSION_TTL)
    p:{cid}:sids           the conversation's Twilio message sids, deleted at Twilio on quick
                           exit (set; TTL SESSION_TTL; only when deleting at Twilio is set up)
    p:optout:{cid}         opt-out record, no TTL: it outlives the session
    p:events               stream, one entry per turn; no bodies, no numbers (capped)
    p:msg:<sid>            delivery status of an outbound message (7 days)
    p:{p:events}:seen:<mark>  "1": a MessageSid already handled (24 h); <mark> is an HMAC
                           of the sid keyed by SECRET_KEY: the key names neither the sid nor the contact
    p:{p:events}:live      sorted set: contact id -> time of the session's last save, for the
                           console's list and the active-sessions gauge (no SCAN)
    p:{p:events}:live:handoff  the same for sessions in a hand-off (the console's queue)
    p:{p:events}:purge     sorted set: Twilio message sid -> when to try deleting it next
    p:{cid}:said           a phone call's last words said (flow text, never the caller's), for the
                           key that repeats them; <cid> is the call's (TTL CALL_TTL; erased at hang-up)

The last four are hash-tagged with the events stream's name, so that on a
cluster they live on the stream's node: a turn touches that node and the
contact's, as it always did.

Retries. Twilio retries a webhook within seconds (its 15 s timeout, then
once more), so the contact's last answers are kept in one capped hash under
the contact's hash tag, for ``RETRY_WINDOW`` (1 h by default). That makes
checking for a retry, taking the lock and loading the session one round
trip; quick exit erases every kept answer with one DEL; and an idle session
costs only its one value (see BENCHMARKS.md for the bytes).

Replays. A signed request can be captured and sent again. Within the retry
window it gets the answer kept for it and changes nothing; but after a quick
exit (which erases the kept answers with everything else) or after the
window, it would be a new text and bring a conversation back. So every
handled MessageSid also leaves a seen mark for a day (DESIGN.md's
``hl:seen:<MessageSid>``, hashed), outside the contact's keys:
``p:{p:events}:seen:<mark>``, where the mark is an HMAC of the sid keyed by
SECRET_KEY, holding "1": it says nothing about who sent it or what was
answered. (A quick exit's mark holds the language of the neutral line it was
answered with, "0" for none, so that Twilio's retry of it gets the same
TwiML; the erase's event in the stream already says as much.) A claim that
finds the mark and no kept answer is a replay: it takes no lock and changes
nothing (:attr:`Claim.seen`). On one Redis the
claim script reads the mark and the commit script writes it; on a cluster
the mark is on the events stream's node, and is read and written by a
command sent beside the script, in the same round trip.

The live index. ``p:{p:events}:live`` holds every stored session's contact id, scored
by the time of its last save, which is when its TTL was set: a session with
a score older than ``SESSION_TTL`` has expired. The commit adds to it,
removes the contact on erase and trims the expired scores, so the console's
list and the active-sessions gauge read a page and a count of it, whatever
the number of sessions, instead of scanning every key.

The session. DESIGN.md suggests a hash; it is one JSON string instead
(``Session.to_fields`` is its shape), read with one GET and written with
one SET. As a hash of ~20 short fields it cost a turn ~50 arguments and
reply elements to pack, parse and decode, the changed fields worked out in
Python and written through Lua one by one: about 3.5 % of a text's CPU,
app and Redis together, for ~3 % less memory per idle session. A hash
written before (schema 2) is still read, and replaced by the next save.

A turn costs two round trips: :meth:`claim` (script: retry? lock; then the
session's GET in the same write, or, on a cluster, inside the script)
and :meth:`commit` (script: check lock, save or erase, remember the answer,
opt-out, unlock, add the turn's event to the stream).

Redis Cluster (``REDIS_CLUSTER=1``; the client is a
``redis.cluster.RedisCluster``, built by :class:`LazyRedisCluster`): every
key a script touches is in its KEYS and carries the contact's hash tag, so
each script runs whole on the node that owns the contact's slot, and a turn
is still two round trips: the commit's EVALSHA goes to the contact's node
and its XADD to the node holding ``p:events`` in the same pipeline (redis-py
writes to both nodes, then reads both answers). A slot moved meanwhile
answers MOVED and redis-py follows it. Scripts are loaded on every primary
(SCRIPT LOAD goes to all of them); a node that lacks one (restarted, or a
new primary after a failover) answers NOSCRIPT, and redis-py loads it
everywhere and runs it again. ``p:events`` is one key, so one node takes
every turn's XADD: fine at a helpline's rate (tens of texts a second).
"""
from __future__ import annotations

import functools
import itertools
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass

import redis
from redis.cluster import RedisCluster
from redis.commands.core import Script
from redis.exceptions import RedisClusterException
from redis.utils import HIREDIS_AVAILABLE

from ..engine.events import compact_json

# hiredis (pinned in requirements.txt) packs a whole command in C; redis-py
# uses it whenever this says it is there, and so do we (see _pack).
if HIREDIS_AVAILABLE:
    from hiredis import pack_command as _hiredis_pack
else:  # pragma: no cover - redis-py packs in Python then, and so do we
    _hiredis_pack = None

RETRY_WINDOW = 3600  # seconds a MessageSid's answer is kept for Twilio's retry
SEEN_TTL = 86400  # seconds a handled MessageSid's mark is kept against replays
# Past this many answers kept for one contact, the older ones are dropped all
# at once (no order is kept: a list of MessageSids cost two writes per text).
# Twilio retries within seconds; nobody texts this many times in that long.
ANSWERS_KEPT = 50
STATUS_TTL = 7 * 86400
# A turn takes milliseconds. A lock whose turn died (a crashed worker, or a
# claim Redis ran after the webhook had given up during a stall) frees itself
# after LOCK_MS: shorter than the 8 s LOCK_WAIT, so the person's next text
# still gets a real answer rather than the fail-safe.
LOCK_MS = 6_000
EVENTS_MAXLEN = 50_000
CALL_TTL = 4 * 3600  # seconds: Twilio ends any call after 4 hours
WAKE_POLL = 0.25  # longest a waiter blocks before it looks at the lock again

# KEYS: session, lock, answers, optout, waiters[, seen mark].
# ARGV: token, lock ms, MessageSid ('' for none), waited before ('0' or '1'),
#       return the session too ('1': on a cluster, where a second command in
#       the same round trip costs a pipeline; '0': one Redis, see claim()).
# The seen mark is in the events stream's slot: on a cluster claim() asks for
# it beside the script instead (see the module docstring, "Replays").
# An answers key of the wrong type (damage, a manual edit) is dropped when its
# read fails (redis.pcall): a plain call would raise after the SET NX, leaving
# the lock held, and would fail every text until the key expired. So is a
# session key that is neither a string nor a hash written before schema 3:
# the person starts afresh, the contract for an unreadable session.
# The lock, the waiter count and the wake-ups are kept out of the AOF and off
# replicas (redis.set_repl): they live for milliseconds and expire by
# themselves, and writing them down cost three AOF entries and a MULTI/EXEC a
# turn, a tenth of Redis's work per text. A Redis restarted from its AOF, or a
# replica promoted mid-turn, has no lock: the turn in flight then finds its lock
# gone at commit and writes nothing (LockLost), as when its lock expired.
# Lock tokens: a random prefix per process, drawn again in a forked child (which
# inherits the rest), and a counter: cheaper than os.urandom, or even a getpid
# system call, on every turn.
_TOKEN_PREFIX = f"{secrets.token_hex(6)}:"
_TOKENS = itertools.count()


def _new_token_prefix() -> None:
    global _TOKEN_PREFIX
    _TOKEN_PREFIX = f"{secrets.token_hex(6)}:"


os.register_at_fork(after_in_child=_new_token_prefix)

_CLAIM = """
-- The lock and its waiters are not data: not written to the AOF or replicas.
redis.set_repl(redis.REPL_NONE)
if ARGV[3] ~= '' then
  -- pcall: a key of the wrong type answers with an error table, not a raise.
  local answer = redis.pcall('HGET', KEYS[3], ARGV[3])
  if type(answer) == 'table' and answer.err then
    redis.set_repl(redis.REPL_ALL)
    redis.call('DEL', KEYS[3])
    redis.set_repl(redis.REPL_NONE)
  elseif answer then
    if ARGV[4] == '1' then redis.call('DECR', KEYS[5]) end
    return {'dup', answer}
  end
end
if KEYS[6] then
  local seen = redis.call('GET', KEYS[6])
  if seen then
    -- Handled before, and its answer no longer kept: a replay. Nothing to lock.
    if ARGV[4] == '1' then redis.call('DECR', KEYS[5]) end
    return {'seen', seen}
  end
end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  -- Our own token: this claim already ran once (redis-py's retry after a
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
if ARGV[4] == '1' then redis.call('DECR', KEYS[5]) end
if ARGV[5] ~= '1' then
  -- The caller reads the session with a GET sent right behind this script:
  -- a value handed through Lua is converted twice (to Lua and back).
  return {'ok', redis.call('EXISTS', KEYS[4])}
end
local session = redis.pcall('GET', KEYS[1])
if type(session) == 'table' and session.err then
  session = redis.pcall('HGETALL', KEYS[1])  -- a hash written before schema 3
  if session.err then
    redis.set_repl(redis.REPL_ALL)
    redis.call('DEL', KEYS[1])
    session = false
  end
end
return {'ok', redis.call('EXISTS', KEYS[4]), session}
"""

# KEYS: session, lock, answers, optout, handoff, waiters, wake, sids
#       [, events, live, live handoff, seen mark, purge: on one Redis only].
# ARGV: 1 token, 2 action, 3 session ttl, 4 replies JSON, 5 retry window, 6 answers kept,
#       7 optout, 8 n transcript, 9 MessageSid ('' for none), 10 hand-off ('1' in one;
#       '0' not, and may have been; '-' not, nor before), 11 session JSON (save),
#       12 n event, 13 events maxlen, 14 contact id, 15 now, 16 what the MessageSid's
#       seen mark holds ('' for no mark), 17 seen ttl, 18 keep Twilio sids ('1'/'0'), 19 when to delete
#       them at Twilio, then transcript..., event field/value pairs (n event values)...
# The keys that are not the contact's (the events stream, the live index, the
# seen mark, the deletion queue) are in the events stream's slot: on a cluster
# commit() writes them beside the script, in the same round trip, and queues
# the sids to delete at Twilio that an erase returns (one Redis: queued here).
_COMMIT = """
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
    redis.call('RPUSH', KEYS[5], unpack(ARGV, 20, 19 + n))
    redis.call('EXPIRE', KEYS[5], ttl)
  end
  if ARGV[18] == '1' and ARGV[9] ~= '' then
    redis.call('SADD', KEYS[8], ARGV[9])
    redis.call('EXPIRE', KEYS[8], ttl)
  end
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
    redis.call('XADD', KEYS[9], 'MAXLEN', '~', ARGV[13], '*', unpack(ARGV, 20 + n, 19 + n + e))
  end
  -- Expired sessions leave the index (and, when any did, the hand-off index).
  if redis.call('ZREMRANGEBYSCORE', KEYS[10], '-inf', now - tonumber(ttl)) > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[11], '-inf', now - tonumber(ttl))
  end
  if action == 'erase' then
    redis.call('ZREM', KEYS[10], cid)
    redis.call('ZREM', KEYS[11], cid)
    for _, sid in ipairs(sids) do redis.call('ZADD', KEYS[13], 'NX', ARGV[19], sid) end
  elseif action == 'save' then
    redis.call('ZADD', KEYS[10], now, cid)
    if ARGV[10] == '1' then redis.call('ZADD', KEYS[11], now, cid)
    elseif ARGV[10] == '0' then redis.call('ZREM', KEYS[11], cid) end
  end
  if ARGV[16] ~= '' then redis.call('SET', KEYS[12], ARGV[16], 'EX', ARGV[17]) end
end
if #sids > 0 then result = {1, unpack(sids)} end
-- Unlock and wake a waiter: like the claim's, not written to the AOF or replicas.
redis.set_repl(redis.REPL_NONE)
redis.call('DEL', KEYS[2])
if tonumber(redis.call('GET', KEYS[6]) or '0') > 0 then
  redis.call('RPUSH', KEYS[7], '1')
  redis.call('PEXPIRE', KEYS[7], 5000)
end
return result
"""

# KEYS: lock, waiters, wake.  ARGV: token.
_RELEASE = """
redis.set_repl(redis.REPL_NONE)
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then
  redis.call('RPUSH', KEYS[3], '1')
  redis.call('PEXPIRE', KEYS[3], 5000)
end
return 1
"""


# KEYS: lock.  ARGV: token, ms.
_EXTEND = """
redis.set_repl(redis.REPL_NONE)
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
"""

# KEYS: session, sids.  ARGV: sid, session ttl.
# Only for a conversation that is still stored: after a quick exit, a late
# status callback must not leave a key of the contact behind.
_REMEMBER = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
"""

# KEYS: purge.  ARGV: now, lease until, limit.
_TAKE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, sid in ipairs(due) do redis.call('ZADD', KEYS[1], 'XX', ARGV[2], sid) end
return due
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
    # The stored session (``Session.to_fields``), if any; {} if it could not
    # be read at all (not JSON, not an object): the caller starts afresh.
    fields: dict | None = None
    opted_out: bool = False
    mark: str | None = None  # the MessageSid's seen mark (see the module docstring, "Replays")
    # Handled before and its answer no longer kept (a replay; nothing locked):
    # what the mark holds, "1", or for a quick exit the language of the line
    # it was answered with ("0": none, the person had opted out).
    seen: str | None = None


class LazyRedisCluster:
    """A ``redis.cluster.RedisCluster`` that connects on first use.

    RedisCluster asks a node for the cluster's layout as it is created, and
    raises when none answers. The server must start (and answer texts with
    the fail-safe) while Redis is down, as it does with one Redis, whose
    client connects lazily: so the cluster client is created by the first
    command that needs it, and again by the next one if that failed (raised
    as ``redis.ConnectionError``). Any other attribute is the real client's.
    """

    def __init__(self, url: str, **options):
        self.url = url
        self.options = options
        self._client: RedisCluster | None = None
        self._lock = threading.Lock()
        # A Script's SHA needs only the encoder, not a connection.
        self._encoder = redis.connection.Encoder(
            options.get("encoding", "utf-8"), options.get("encoding_errors", "strict"),
            options.get("decode_responses", False))

    @property
    def client(self) -> RedisCluster:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    try:
                        self._client = RedisCluster.from_url(self.url, **self.options)
                    except RedisClusterException as exc:  # not a RedisError
                        raise redis.ConnectionError(f"Redis Cluster: {exc}") from exc
        return self._client

    def get_encoder(self):
        return self._encoder

    def register_script(self, script) -> Script:
        return Script(self, script)

    def close(self) -> None:
        if self._client is not None:  # never connect just to close
            self._client.close()

    def __getattr__(self, name):
        if name.startswith("__"):  # copy, pickle and the like: not the client's
            raise AttributeError(name)
        return getattr(self.client, name)


class RedisStore:
    def __init__(self, client: redis.Redis | RedisCluster | LazyRedisCluster, prefix: str = "hl",
                 session_ttl: int = 86400, retry_window: int = RETRY_WINDOW, twilio_sids: bool = False,
                 delete_after: float = 120.0):
        """``twilio_sids``: keep each conversation's Twilio message sids, and
        queue them for deletion at Twilio when the person erases it (only when
        the app can delete there). ``delete_after``: seconds before the first
        try (Twilio refuses to delete a message it is still processing)."""
        self.r = client
        self.cluster = isinstance(client, (RedisCluster, LazyRedisCluster))
        self._threads = threading.local()
        self.prefix = prefix
        self.session_ttl = session_ttl
        self.retry_window = retry_window
        self.twilio_sids = twilio_sids
        self.delete_after = delete_after

        self._claim = client.register_script(_CLAIM)
        self._commit = client.register_script(_COMMIT)
        try:  # loaded now (on every primary of a cluster), so the first turn's EVALSHA finds it
            client.script_load(_COMMIT)
        except (redis.RedisError, RedisClusterException):
            pass  # Redis is down at start: the first commit loads it
        self._release = client.register_script(_RELEASE)
        self._extend = client.register_script(_EXTEND)
        self._remember = client.register_script(_REMEMBER)
        self._take = client.register_script(_TAKE)

    # --- keys -----------------------------------------------------------------

    def key(self, cid: str, what: str) -> str:
        return f"{self.prefix}:{{{cid}}}:{what}"

    def optout_key(self, cid: str) -> str:
        return f"{self.prefix}:optout:{{{cid}}}"

    @property
    def events_key(self) -> str:
        return f"{self.prefix}:events"

    # The keys no contact owns carry the events stream's name as their hash
    # tag: on a cluster they share its slot, so a turn still touches two
    # nodes at most (the contact's and this one), and a stalled node holds up
    # only its own contacts, or everyone if it holds the stream, as before.

    def seen_key(self, mark: str) -> str:
        return f"{self.prefix}:{{{self.events_key}}}:seen:{mark}"

    @property
    def live_key(self) -> str:
        return f"{self.prefix}:{{{self.events_key}}}:live"

    @property
    def live_handoff_key(self) -> str:
        return f"{self.prefix}:{{{self.events_key}}}:live:handoff"

    @property
    def purge_key(self) -> str:
        return f"{self.prefix}:{{{self.events_key}}}:purge"

    # --- a turn -----------------------------------------------------------------

    def claim(self, cid: str, message_sid: str | None, wait: float = 8.0, mark: str | None = None) -> Claim:
        """Return the replies for a retried MessageSid, or lock and load the session.

        ``mark``: the MessageSid's seen mark (an HMAC of it); a MessageSid
        handled before whose answer is no longer kept comes back with
        ``Claim.seen`` set, nothing locked or loaded.

        Waits up to ``wait`` seconds while another message from the same
        person is being handled, then raises LockTimeout.
        """
        token = f"{_TOKEN_PREFIX}{next(_TOKENS)}"
        keys = [self.key(cid, "session"), self.key(cid, "lock"), self.key(cid, "answers"), self.optout_key(cid),
                self.key(cid, "waiters")]
        seen_key = self.seen_key(mark) if mark and message_sid else None
        deadline = time.monotonic() + wait
        waited = "0"
        while True:
            seen = None
            if self.cluster:  # one command per round trip there: the script returns the session
                result, seen = self._claim_on_cluster(keys, [token, LOCK_MS, message_sid or "", waited, "1"],
                                                      seen_key)
                stored = result[2] if len(result) > 2 else None
            else:
                # The session is read by a GET right behind the script, in the
                # same round trip: once the script has taken the lock, nothing
                # else writes the session (every writer holds it).
                result, stored = self._run(self._claim, keys + ([seen_key] if seen_key else []),
                                           [token, LOCK_MS, message_sid or "", waited, "0"], ("GET", keys[0]))
            status = _s(result[0])
            if status == "dup":
                return Claim(cid, message_sid, duplicate=json.loads(result[1]))
            if status == "seen":
                seen = _s(result[1])
            if seen is not None and status in ("seen", "ok", "busy"):
                if status == "ok":  # a cluster's script took the lock before the mark was known
                    self.release(Claim(cid, message_sid, token=token))
                return Claim(cid, message_sid, mark=mark, seen=seen)
            if status == "ok":
                claim = Claim(cid, message_sid, token=token, opted_out=bool(result[1]), mark=mark)
                try:
                    if isinstance(stored, redis.ResponseError):
                        # Not a string: a hash written before schema 3, or damage.
                        stored = self._older(keys[0])
                    claim.fields = _session_fields(stored)
                except BaseException:  # we hold the lock: never leave it behind
                    self.release(claim)
                    raise
                return claim
            # Busy: block until the holder releases (it pushes a wake-up when
            # anyone waits), not a sleep-and-poll; a short timeout covers a
            # holder that died (its lock expires after LOCK_MS).
            waited = "1"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LockTimeout("contact busy")
            self.r.blpop([self.key(cid, "wake")], timeout=min(remaining, WAKE_POLL))

    def commit(
        self,
        claim: Claim,
        *,
        action: str,
        fields: dict[str, str] | None,
        replies: list[str],
        opt_out: bool | None = None,
        transcript: list[str] = (),
        event: dict[str, str] | None = None,
        seen: str = "1",
    ) -> int:
        """Save (or erase) the session, remember the answer, unlock; record the turn's event.

        ``action`` is ``save``, ``keep`` (leave the stored session as it is)
        or ``erase`` (quick exit: the session, the hand-off transcript, every
        answer kept for retries and the message sids go; nothing is left
        under the contact's hash tag. Twilio's retry of this message is
        recognised by its seen mark instead).

        ``fields`` is the whole session to store (``Session.to_fields``),
        written as one JSON value. ``seen`` is what the MessageSid's seen mark
        holds (see :attr:`Claim.seen`).

        Returns how many Twilio message sids an erase queued for deletion.
        """
        cid = claim.cid
        keys = [
            self.key(cid, "session"),
            self.key(cid, "lock"),
            self.key(cid, "answers"),
            self.optout_key(cid),
            self.key(cid, "handoff"),
            self.key(cid, "waiters"),
            self.key(cid, "wake"),
            self.key(cid, "sids"),
        ]
        mark = bool(claim.mark and claim.message_sid)
        flat_event: list[str] = []
        if not self.cluster:
            keys += [self.events_key, self.live_key, self.live_handoff_key,
                     self.seen_key(claim.mark if mark else ""), self.purge_key]
            for name, value in (event or {}).items():
                flat_event += (name, value)
        now = time.time()
        args = [
            claim.token,
            action,
            self.session_ttl,
            _answer_json(tuple(replies)),
            self.retry_window,
            ANSWERS_KEPT,
            {True: "set", False: "clear", None: ""}[opt_out],
            len(transcript),
            claim.message_sid or "",
            _handoff_flag((fields or {}).get("st"), claim.fields),
            compact_json(fields or {}) if action == "save" else "",
            len(flat_event),
            EVENTS_MAXLEN,
            cid,
            f"{now:.3f}",
            seen if mark else "",
            SEEN_TTL,
            "1" if self.twilio_sids else "0",
            f"{now + self.delete_after:.3f}",
            *transcript,
            *flat_event,
        ]
        if self.cluster:
            result = self._commit_on_cluster(keys, args, event, claim, now)
        else:
            result = self._run(self._commit, keys, args)[0]
        if result == 1:
            return 0
        if isinstance(result, list) and result and result[0] == 1:  # an erase, and the sids it queued
            sids = [_s(sid) for sid in result[1:]]
            if self.cluster:  # the queue is on another node: one more round trip, on quick exit only
                self.delete_at_twilio(sids, now + self.delete_after)
            return len(sids)
        raise LockLost("the lock expired before the turn was saved")

    def _commit_on_cluster(self, keys: list[str], args: list, event: dict[str, str] | None, claim: Claim,
                           now: float) -> object:
        """The commit script on the contact's node, and beside it in the same
        pipeline (one round trip) what lives on other nodes: the turn's event,
        the live index, the seen mark.

        EVALSHA straight into the pipeline: redis-py's Script in a pipeline
        first asks SCRIPT EXISTS, a round trip on every turn. The script is
        loaded at start; only after a restart or failover is it missing
        (NOSCRIPT), and then it is run again on its own (the rest was already
        sent). Through execute_command, not pipe.evalsha(), which a cluster
        pipeline refuses; and with the contact's node named (from the client's
        slot map): left to find it, the pipeline would ask a node COMMAND
        GETKEYS for every EVALSHA, one more round trip per turn. What goes
        beside the script is sent whether or not the script finds its lock:
        an index entry of a session that was not saved is dropped when read
        (see :meth:`live`), and a seen mark of a text that got the fail-safe
        only makes Twilio's retry of it, which never comes, an empty answer.
        """
        route = {"target_nodes": self.r.get_node_from_key(keys[0])}
        action, handoff = args[1], args[9]
        pipe = self.r.pipeline(transaction=False)
        pipe.execute_command("EVALSHA", self._commit.sha, len(keys), *keys, *args, **route)
        if event:
            pipe.xadd(self.events_key, event, maxlen=EVENTS_MAXLEN, approximate=True)
        if action == "erase":
            pipe.zrem(self.live_key, claim.cid)
            pipe.zrem(self.live_handoff_key, claim.cid)
        elif action == "save":
            pipe.zremrangebyscore(self.live_key, "-inf", now - self.session_ttl)
            pipe.zremrangebyscore(self.live_handoff_key, "-inf", now - self.session_ttl)
            pipe.zadd(self.live_key, {claim.cid: now})
            if handoff == "1":
                pipe.zadd(self.live_handoff_key, {claim.cid: now})
            elif handoff == "0":
                pipe.zrem(self.live_handoff_key, claim.cid)
        if claim.mark and claim.message_sid:
            pipe.set(self.seen_key(claim.mark), args[15], ex=SEEN_TTL)
        result = pipe.execute(raise_on_error=False)[0]
        if isinstance(result, redis.exceptions.NoScriptError):
            return self._commit(keys=keys, args=args)
        if isinstance(result, Exception):
            raise result
        return result

    def _claim_on_cluster(self, keys: list[str], args: list, seen_key: str | None) -> tuple[list, str | None]:
        """The claim script on the contact's node and, when there is a seen
        mark to look for, a GET of it on the events stream's node, in one pipeline."""
        if seen_key is None:
            return self._run(self._claim, keys, args)[0], None
        route = {"target_nodes": self.r.get_node_from_key(keys[0])}
        pipe = self.r.pipeline(transaction=False)
        pipe.execute_command("EVALSHA", self._claim.sha, len(keys), *keys, *args, **route)
        pipe.get(seen_key)
        result, seen = pipe.execute(raise_on_error=False)
        if isinstance(result, redis.exceptions.NoScriptError):
            result = self._claim(keys=keys, args=args)
        if isinstance(result, Exception):
            raise result
        if isinstance(seen, Exception):
            raise seen
        return result, None if seen is None else _s(seen)

    def _run(self, script, keys: list[str], args: list, *then: tuple) -> list:
        """EVALSHA ``script``, and the commands ``then`` right behind it in the
        same round trip (one Redis only); returns every reply, the script's first.

        Sent through the thread's connection (see :meth:`_round_trip`) rather
        than ``Script.__call__``, which goes through redis-py's
        deprecated-argument wrapper. On NOSCRIPT (Redis restarted since the
        script was loaded) the script is loaded and everything sent again.
        """
        if self.cluster:
            try:
                return [self.r.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)]
            except redis.exceptions.NoScriptError:
                return [script(keys=keys, args=args)]
        commands = [("EVALSHA", script.sha, len(keys), *keys, *args), *then]
        replies = self._round_trip(commands)
        if isinstance(replies[0], redis.exceptions.NoScriptError):
            self.r.script_load(script.script)
            replies = self._round_trip(commands)
        if isinstance(replies[0], Exception):
            raise replies[0]
        return replies

    def _round_trip(self, commands: list[tuple]) -> list:
        """Send ``commands`` in one write on the thread's connection and read
        every reply. An error reply is returned, not raised, so that the
        replies behind it are still read and the connection stays in step.

        redis-py's own pipeline object costs more client CPU for two commands
        than the Redis CPU it saves; this is the part of it a turn needs. The
        client's retry policy covers the round trip as it covers one command
        (a broken connection is closed and everything sent once more). Running
        twice changes nothing: a claim recognises its own token, and a commit
        that did land finds its lock gone and writes nothing (LockLost).
        """
        conn = self._turn_client().connection
        packed = _pack(conn, commands)

        def send_and_read() -> list:
            conn.send_packed_command(packed, check_health=False)
            replies = []
            for _ in commands:
                try:
                    replies.append(conn.read_response())
                except redis.ResponseError as exc:
                    replies.append(exc)
            return replies

        return conn.retry.call_with_retry(send_and_read, lambda error: conn.disconnect())

    def _turn_client(self):
        """The client a turn's two scripts go through: on one Redis, each
        thread keeps one connection of the pool for them.

        Checking a connection out of redis-py's pool and back costs about a
        fifth of a command's client CPU (a ``poll`` for stale data, fork
        checks): twice per text. Same pool, same timeouts and retry; a broken
        connection reconnects on its next command, and the connection goes
        back to the pool when its thread ends. A Redis Cluster client routes
        each command itself, so it is used as it is.
        """
        if self.cluster:
            return self.r
        client = getattr(self._threads, "client", None)
        if client is None:
            client = redis.Redis(connection_pool=self.r.connection_pool, single_connection_client=True)
            self._threads.client = client
        return client

    def release(self, claim: Claim) -> None:
        """Give the lock back without saving (the turn failed)."""
        if claim.token:
            keys = [self.key(claim.cid, "lock"), self.key(claim.cid, "waiters"), self.key(claim.cid, "wake")]
            self._release(keys=keys, args=[claim.token])

    def extend(self, claim: Claim, ms: int) -> bool:
        """Hold the lock ``ms`` milliseconds from now (an operator's message
        waiting on Twilio); False if it is no longer ours."""
        if not claim.token:
            return False
        return bool(self._extend(keys=[self.key(claim.cid, "lock")], args=[claim.token, ms]))

    # --- reading ------------------------------------------------------------------

    def load(self, cid: str) -> dict | None:
        """The stored session (``Session.to_fields``), read without the lock;
        None if there is none or it cannot be read."""
        return self.sessions([self.key(cid, "session")])[0] or None

    def sessions(self, keys: list[str]) -> list[dict | None]:
        """The stored sessions at ``keys`` (``Session.to_fields``; None where
        there is none, {} where one cannot be read), in one pipeline, read
        without the lock: for the console's list."""
        pipe = self.r.pipeline(transaction=False)
        for key in keys:
            pipe.get(key)
        found = pipe.execute(raise_on_error=False)
        older = [i for i, value in enumerate(found) if isinstance(value, redis.ResponseError)]
        if older:  # hashes written before schema 3
            pipe = self.r.pipeline(transaction=False)
            for i in older:
                pipe.hgetall(keys[i])
            for i, value in zip(older, pipe.execute(raise_on_error=False)):
                found[i] = None if isinstance(value, Exception) else value
        return [_session_fields(value) for value in found]

    def _older(self, key: str) -> dict | None:
        """A session key that the claim's GET could not read: a hash written
        before schema 3 (its fields; the next save replaces it), or damage,
        which is dropped (the claim holds the lock) so the person starts afresh."""
        try:
            return self._turn_client().hgetall(key)
        except redis.ResponseError:
            self._turn_client().delete(key)
            return None

    # --- the live index -----------------------------------------------------------

    def live(self, limit: int) -> tuple[list[tuple[str, float]], int]:
        """The ``limit`` sessions saved most recently, newest first, as (contact
        id, time of the save), and how many sessions there are: one page of
        ``p:{p:events}:live``, read in one round trip whatever its size."""
        low = time.time() - self.session_ttl
        pipe = self.r.pipeline(transaction=False)
        pipe.zrevrangebyscore(self.live_key, "+inf", low, start=0, num=limit, withscores=True)
        pipe.zcount(self.live_key, low, "+inf")
        page, total = pipe.execute()
        return [(_s(c), score) for c, score in page], int(total)

    def live_count(self) -> int:
        """How many sessions are stored (not expired, not erased)."""
        return int(self.r.zcount(self.live_key, time.time() - self.session_ttl, "+inf"))

    def in_handoff(self) -> list[tuple[str, float]]:
        """The sessions in a hand-off (the console's queue), as (contact id, time of the save)."""
        found = self.r.zrangebyscore(self.live_handoff_key, time.time() - self.session_ttl, "+inf", withscores=True)
        return [(_s(c), score) for c, score in found]

    def drop_from_live(self, cids: list[str]) -> None:
        """Index entries whose session is gone (a cluster's index write beside a
        commit that lost its lock; damage): dropped when a reader finds them.
        Only entries some seconds old: on a cluster the index and the session
        are written to two nodes at once, and the index can land first."""
        if cids:
            pipe = self.r.pipeline(transaction=False)
            pipe.zrem(self.live_key, *cids)
            pipe.zrem(self.live_handoff_key, *cids)
            pipe.execute()

    # --- Twilio's copies ---------------------------------------------------------------

    def remember_sid(self, cid: str, sid: str) -> None:
        """Add an outbound message's sid to the conversation's, if it has one
        (Twilio's status callbacks bring the sids of the TwiML replies)."""
        if self.twilio_sids:
            self._remember([self.key(cid, "session"), self.key(cid, "sids")], [sid, self.session_ttl])

    def delete_at_twilio(self, sids: list[str], when: float | None = None) -> None:
        """Queue message sids for deletion at Twilio (a sid already queued keeps its place)."""
        if sids:
            when = time.time() + self.delete_after if when is None else when
            self.r.zadd(self.purge_key, {sid: when for sid in sids}, nx=True)

    def due_deletions(self, limit: int, lease: float) -> list[str]:
        """Up to ``limit`` queued sids whose time has come, each leased for
        ``lease`` seconds (moved that far into the future) so that another
        process does not take it meanwhile; a process that dies with it leaves
        it to be taken again when the lease runs out."""
        now = time.time()
        return [_s(sid) for sid in self._take(keys=[self.purge_key], args=[now, now + lease, limit])]

    def deletion_done(self, sid: str) -> None:
        self.r.zrem(self.purge_key, sid)

    def deletion_later(self, sid: str, when: float) -> None:
        self.r.zadd(self.purge_key, {sid: when}, xx=True)

    def next_deletion(self) -> float | None:
        """When the next queued deletion is due; None if none is queued."""
        first = self.r.zrange(self.purge_key, 0, 0, withscores=True)
        return first[0][1] if first else None

    def is_opted_out(self, cid: str) -> bool:
        return bool(self.r.exists(self.optout_key(cid)))

    def ping(self) -> bool:
        """Whether Redis answers; on a cluster, every primary (each holds some contacts)."""
        try:
            if self.cluster:
                return bool(self.r.ping(target_nodes=RedisCluster.PRIMARIES))
            return bool(self.r.ping())
        except (redis.RedisError, RedisClusterException):
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

    # --- phone calls: what was said last, for the key that repeats it ------------------
    # Only the flows' own words (and which prompt they were), never what the
    # caller said or pressed; the call's session says where they are.

    def remember_said(self, cid: str, said: str, ttl: int = CALL_TTL) -> None:
        self.r.set(self.key(cid, "said"), said, ex=ttl)

    def said(self, cid: str) -> str | None:
        value = self.r.get(self.key(cid, "said"))
        return _s(value) if value is not None else None

    def forget_said(self, cid: str) -> None:
        self.r.delete(self.key(cid, "said"))

    # --- operators ---------------------------------------------------------------------

    def on_duty(self) -> bool:
        """Whether an operator has said they are on duty (set from the console)."""
        return bool(self.r.exists(f"{self.prefix}:duty"))


def _pack(conn, commands: list[tuple]) -> list[bytes]:
    """The commands in Redis's protocol: the bytes ``conn.pack_commands`` gives.

    With hiredis installed, redis-py packs through ``hiredis.pack_command``
    too, but first checks and copies every argument in Python: a commit has
    about fifty. hiredis takes our tuples as they are (str, bytes, int, float;
    str encoded as strict UTF-8, as redis-py's hiredis packer does).
    """
    if _hiredis_pack is None:
        return conn.pack_commands(commands)
    return [b"".join([_hiredis_pack(command) for command in commands])]


@functools.lru_cache(maxsize=1024)
def _answer_json(replies: tuple[str, ...]) -> str:
    """The replies as kept for a retry (a JSON list).

    They are the flows' own texts (see ``twilio._twiml``): the same few
    hundred lists come back, and encoding a Spanish reply's accents was ~1.4 %
    of a text's CPU. Bounded, and emptied whenever the process restarts.
    """
    return json.dumps(replies, ensure_ascii=False)


def _session_fields(stored) -> dict | None:
    """A stored session as ``Session.to_fields`` gave it: None if there is
    none, {} if it cannot be read at all.

    ``stored`` is the JSON text (str, or bytes from a client that does not
    decode; a byte that is not UTF-8 reads as U+FFFD), or a hash written
    before schema 3 (a dict, or a flat list from the cluster's script).
    """
    if stored is None:
        return None
    if isinstance(stored, (dict, list)):
        pairs = stored.items() if isinstance(stored, dict) else zip(stored[::2], stored[1::2])
        return {_s(k): _s(v) for k, v in pairs}
    try:
        fields = json.loads(_s(stored))
    except ValueError:
        return {}
    return fields if isinstance(fields, dict) else {}


def _handoff_flag(state: str | None, old: dict[str, str] | None) -> str:
    """'1' in a hand-off; '0' not, and perhaps just out of one (the commit
    drops its transcript); '-' not, nor before this turn (nothing to drop:
    one command fewer on nearly every turn). Unknown before counts as maybe."""
    if state == "handed_off":
        return "1"
    return "-" if old and old.get("st") != "handed_off" else "0"


def _s(value) -> str:
    # Damaged bytes must not make a session unreadable for good: decode what we can.
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
