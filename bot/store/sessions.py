"""Sessions in Redis: per-contact lock, de-duplication, TTL, events.

The keys are spelled in :mod:`bot.store.keys`; the Lua scripts are the
``.lua`` files beside this module.

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
handled MessageSid also leaves a seen mark for a day (the design's
``hl:seen:<MessageSid>``, hashed), outside the contact's keys:
``p:{p:events}:seen:<mark>``, where the mark is an HMAC of the sid keyed by
SECRET_KEY, holding "1": it says nothing about who sent it or what was
answered. (A quick exit's mark holds the language of the neutral line it was
answered with, "0" for none, so that Twilio's retry of it gets the same
TwiML; the erase's event in the stream already says as much.) An open_turn that
finds the mark and no kept answer is a replay: it takes no lock and changes
nothing (:attr:`OpenTurn.seen`). On one Redis the
open_turn script reads the mark and the commit script writes it; on a cluster
the mark is on the events stream's node, and is read and written by a
command sent beside the script, in the same round trip.

The live index. ``p:{p:events}:live`` holds every stored session's contact id, scored
by the time of its last save, which is when its TTL was set: a session with
a score older than ``SESSION_TTL`` has expired. The commit adds to it,
removes the contact on erase and trims the expired scores, so the console's
list and the active-sessions gauge read a page and a count of it, whatever
the number of sessions, instead of scanning every key.

The session is one JSON string (``Session.to_fields`` is its shape), read
with one GET and written with one SET. A session key of another type is
damage: open_turn drops it and the person starts afresh. (For twelve hours
on 2026-11-22, before any release, sessions were hashes, "schema 2"; no
deployment holds one, so nothing reads them any more.)

A turn costs two round trips: :meth:`open_turn` (script: retry? lock; then the
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

import itertools
import json
import os
import secrets
import time
from dataclasses import dataclass

import redis

from ..engine.events import compact_json
from .calls import CallPrompts, EndedCalls
from .presence import PresenceRecords
from .connection import (STORE_DOWN, LazyRedisCluster, RedisCluster, StoreError, ThreadConnections, lua, ping, text,
                         write_everywhere)
from .deliveries import DeliveryStatuses, TwilioDeletions
from .events import ErasedTrails
from .keys import Keys
from .live import LiveIndex

RETRY_WINDOW = 3600  # seconds a MessageSid's answer is kept for Twilio's retry
SEEN_TTL = 86400  # seconds a handled MessageSid's mark is kept against replays
# Past this many answers kept for one contact, the older ones are dropped all
# at once (no order is kept: a list of MessageSids cost two writes per text).
# Twilio retries within seconds; nobody texts this many times in that long.
ANSWERS_KEPT = 50
# A turn takes milliseconds. A lock whose turn died (a crashed worker, or a
# open_turn Redis ran after the webhook had given up during a stall) frees itself
# after LOCK_MS: shorter than the 8 s LOCK_WAIT, so the person's next text
# still gets a real answer rather than the fail-safe.
LOCK_MS = 6_000
EVENTS_MAXLEN = 50_000
WAKE_POLL = 0.25  # longest a waiter blocks before it looks at the lock again

# Lock tokens: a random prefix per process, drawn again in a forked child
# (which inherits the rest, the counter too), and a counter.
_token_prefix = f"{secrets.token_hex(6)}:"
_tokens = itertools.count()


def _new_token_prefix() -> None:
    global _token_prefix
    _token_prefix = f"{secrets.token_hex(6)}:"


os.register_at_fork(after_in_child=_new_token_prefix)


class LockTimeout(StoreError):
    """Another message from the same person held the lock too long."""


class LockLost(StoreError):
    """The lock expired before the turn was saved; nothing was written."""


@dataclass
class OpenTurn:
    """What :meth:`SessionStore.open_turn` found, and the lock it holds."""

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


class SessionStore:
    """Sessions and their turns: the per-contact lock, the retry answers, the
    seen marks, and the commit that saves a turn with everything it changes
    (the opt-out record, the hand-off transcript, the events stream, the live
    index). What the commit writes is read back through the small stores it
    carries: :attr:`live_index`, :attr:`transcripts`, :attr:`optouts`,
    :attr:`deletions` and :attr:`statuses`."""

    def __init__(self, client: redis.Redis | RedisCluster | LazyRedisCluster, prefix: str = "hl",
                 session_ttl: int = 86400, retry_window: int = RETRY_WINDOW, twilio_sids: bool = False,
                 delete_after: float = 120.0, queue_erased_trails: bool = False):
        """``twilio_sids``: keep each conversation's Twilio message sids, and
        queue them for deletion at Twilio when the person erases it (only when
        the app can delete there). ``delete_after``: seconds before the first
        try (Twilio refuses to delete a message it is still processing).
        ``queue_erased_trails``: queue each erased conversation for its entries to be
        dropped from the events stream (:class:`bot.erasure.StreamEntries`; the
        app's own store, not a simulator's)."""
        self.r = client
        self.cluster = isinstance(client, (RedisCluster, LazyRedisCluster))
        self.prefix = prefix
        self.keys = Keys(prefix)
        self.session_ttl = session_ttl
        self.retry_window = retry_window
        self.twilio_sids = twilio_sids
        self.delete_after = delete_after
        self.queue_erased_trails = queue_erased_trails
        self.erased_trails = ErasedTrails(client, self.keys)
        self.live_index = LiveIndex(client, self.keys, session_ttl)
        self.transcripts = HandoffTranscripts(client, self.keys)
        self.optouts = OptOuts(client, self.keys)
        self.deletions = TwilioDeletions(client, self.keys, delete_after)
        self.statuses = DeliveryStatuses(client, self.keys, EVENTS_MAXLEN)
        self.call_prompts = CallPrompts(client, self.keys)
        self.ended_calls = EndedCalls(client, self.keys)  # calls whose hang-up erased them, for a few minutes
        self.notes = WrapupNotes(client, self.keys, session_ttl)
        self.presence = PresenceRecords(client, self.keys)  # who has the console open (not the people who text)

        self._own = None if self.cluster else ThreadConnections(client)  # the turn's two round trips
        self._open = client.register_script(lua("open_turn"))
        self._commit = client.register_script(lua("commit"))
        try:  # loaded now (on every primary of a cluster), so the first turn's EVALSHA finds it
            client.script_load(self._commit.script)
        except STORE_DOWN:
            pass  # Redis is down at start: the first commit loads it
        self._release = client.register_script(lua("release"))
        self._extend = client.register_script(lua("extend"))
        self._remember = client.register_script(lua("remember_sid"))

    def sibling(self, suffix: str, **options) -> "SessionStore":
        """A store of its own key space on the same Redis (the simulator's ``hl:sim``)."""
        return SessionStore(self.r, prefix=self.keys.under(suffix).prefix, **options)

    # --- a turn -----------------------------------------------------------------

    def open_turn(self, cid: str, message_sid: str | None, wait: float = 8.0, mark: str | None = None) -> OpenTurn:
        """Return the replies for a retried MessageSid, or lock and load the session.

        ``mark``: the MessageSid's seen mark (an HMAC of it); a MessageSid
        handled before whose answer is no longer kept comes back with
        ``OpenTurn.seen`` set, nothing locked or loaded.

        Waits up to ``wait`` seconds while another message from the same
        person is being handled, then raises LockTimeout.
        """
        k = self.keys
        token = f"{_token_prefix}{next(_tokens)}"
        keys = [k.session(cid), k.lock(cid), k.answers(cid), k.optout(cid), k.waiters(cid)]
        seen_key = k.seen(mark) if mark and message_sid else None
        deadline = time.monotonic() + wait
        waited = "0"
        while True:
            seen = None
            args = [token, LOCK_MS, message_sid or "", waited]
            if self.cluster:
                result, seen = self._open_on_cluster(keys, args, seen_key)
            else:
                result = self._run(self._open, keys + ([seen_key] if seen_key else []), args)
            status = text(result[0])
            if status == "dup":
                return OpenTurn(cid, message_sid, duplicate=json.loads(result[1]))
            if status == "seen":
                seen = text(result[1])
            # On a cluster a mark found while another copy holds the lock ("busy") may be that copy's,
            # written on its own node a moment before its commit keeps the answer: wait, and the next
            # try finds the answer ("dup"). Only with the lock free is a mark without an answer a replay.
            if seen is not None and status in ("seen", "ok"):
                if status == "ok":  # a cluster's script took the lock before the mark was known
                    self.release(OpenTurn(cid, message_sid, token=token))
                return OpenTurn(cid, message_sid, mark=mark, seen=seen)
            if status == "ok":
                opened = OpenTurn(cid, message_sid, token=token, opted_out=bool(result[1]), mark=mark)
                try:
                    opened.fields = _session_fields(result[2] or None)
                except BaseException:  # we hold the lock: never leave it behind
                    self.release(opened)
                    raise
                return opened
            # Busy: block until the holder releases (it pushes a wake-up when
            # anyone waits), not a sleep-and-poll; a short timeout covers a
            # holder that died (its lock expires after LOCK_MS).
            waited = "1"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LockTimeout("contact busy")
            self.r.blpop([k.wake(cid)], timeout=min(remaining, WAKE_POLL))

    def commit(
        self,
        opened: OpenTurn,
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
        holds (see :attr:`OpenTurn.seen`).

        Returns how many Twilio message sids an erase queued for deletion.
        """
        cid, k = opened.cid, self.keys
        keys = [k.session(cid), k.lock(cid), k.answers(cid), k.optout(cid), k.handoff(cid), k.waiters(cid),
                k.wake(cid), k.sids(cid)]
        mark = bool(opened.mark and opened.message_sid)
        flat_event: list[str] = []
        if not self.cluster:
            keys += [k.events(), k.live(), k.live_handoff(), k.seen(opened.mark if mark else ""), k.purge(),
                     k.erased_trails()]
            for name, value in (event or {}).items():
                flat_event += (name, value)
        now = time.time()
        args = [
            opened.token,
            action,
            self.session_ttl,
            compact_json(replies),
            self.retry_window,
            ANSWERS_KEPT,
            {True: "set", False: "clear", None: ""}[opt_out],
            len(transcript),
            opened.message_sid or "",
            _handoff_flag((fields or {}).get("st"), opened.fields),
            compact_json(fields or {}) if action == "save" else "",
            len(flat_event),
            EVENTS_MAXLEN,
            cid,
            f"{now:.3f}",
            seen if mark else "",
            SEEN_TTL,
            "1" if self.twilio_sids else "0",
            f"{now + self.delete_after:.3f}",
            self._trail(opened.fields or fields or {}) if action == "erase" and self.queue_erased_trails else "",
            *transcript,
            *flat_event,
        ]
        if self.cluster:
            result = self._commit_on_cluster(keys, args, event, opened, now)
        else:
            result = self._run(self._commit, keys, args)
        if action == "erase" and result != 0:
            # Quick exit: the responder's wrap-up note goes too (written only under this lock).
            self.notes.erase(cid)
        if result == 1:
            return 0
        if isinstance(result, list) and result and result[0] == 1:  # an erase, and the sids it queued
            sids = [text(sid) for sid in result[1:]]
            if self.cluster:  # the queue is on another node: one more round trip, on quick exit only
                self.deletions.add(sids, now + self.delete_after)
            return len(sids)
        raise LockLost("the lock expired before the turn was saved")

    @staticmethod
    def _trail(erased: dict) -> str:
        """What the erase queues for the conversation's turns to leave the events
        stream (:class:`~.events.ErasedTrails`): '' when no conversation had
        started (a first text that was SALIR: no turn to drop)."""
        conv = erased.get("conv")
        if not isinstance(conv, str) or not conv:
            return ""
        try:
            started_at = float(erased.get("t0") or 0)
        except (TypeError, ValueError):
            started_at = 0.0  # read from the stream's start
        return ErasedTrails.item(conv, started_at)

    def _commit_on_cluster(self, keys: list[str], args: list, event: dict[str, str] | None, opened: OpenTurn,
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
        (see :meth:`LiveIndex.drop`), and a seen mark of a text that got the
        fail-safe only makes Twilio's retry of it, which never comes, an empty answer.
        """
        k = self.keys
        route = {"target_nodes": self.r.get_node_from_key(keys[0])}
        action, handoff = args[1], args[9]
        pipe = self.r.pipeline(transaction=False)
        pipe.execute_command("EVALSHA", self._commit.sha, len(keys), *keys, *args, **route)
        if event:
            pipe.xadd(k.events(), event, maxlen=EVENTS_MAXLEN, approximate=True)
        if action == "erase":
            pipe.zrem(k.live(), opened.cid)
            pipe.zrem(k.live_handoff(), opened.cid)
        elif action == "save":
            pipe.zremrangebyscore(k.live(), "-inf", now - self.session_ttl)
            pipe.zremrangebyscore(k.live_handoff(), "-inf", now - self.session_ttl)
            pipe.zadd(k.live(), {opened.cid: now})
            if handoff == "1":
                pipe.zadd(k.live_handoff(), {opened.cid: now})
            elif handoff == "0":
                pipe.zrem(k.live_handoff(), opened.cid)
        if action == "erase" and args[19]:
            pipe.zadd(k.erased_trails(), {args[19]: now}, nx=True)
        if opened.mark and opened.message_sid:
            pipe.set(k.seen(opened.mark), args[15], ex=SEEN_TTL)
        result = pipe.execute(raise_on_error=False)[0]
        if isinstance(result, redis.exceptions.NoScriptError):
            return self._commit(keys=keys, args=args)
        if isinstance(result, Exception):
            raise result
        return result

    def _open_on_cluster(self, keys: list[str], args: list, seen_key: str | None) -> tuple[list, str | None]:
        """The open_turn script on the contact's node and, when there is a seen
        mark to look for, a GET of it on the events stream's node, in one pipeline."""
        if seen_key is None:
            return self._run(self._open, keys, args), None
        route = {"target_nodes": self.r.get_node_from_key(keys[0])}
        pipe = self.r.pipeline(transaction=False)
        pipe.execute_command("EVALSHA", self._open.sha, len(keys), *keys, *args, **route)
        pipe.get(seen_key)
        result, seen = pipe.execute(raise_on_error=False)
        if isinstance(result, redis.exceptions.NoScriptError):
            result = self._open(keys=keys, args=args)
        if isinstance(result, Exception):
            raise result
        if isinstance(seen, Exception):
            raise seen
        return result, None if seen is None else text(seen)

    def _run(self, script, keys: list[str], args: list):
        """EVALSHA ``script`` and return its reply. On NOSCRIPT (Redis restarted
        since the script was loaded) redis-py's Script loads it and runs it again.

        Running twice changes nothing: an open_turn recognises its own token, and a
        commit that did land finds its lock gone and writes nothing (LockLost).
        """
        # Looked up per call, never bound at start: a cluster's client is made by its
        # first command (LazyRedisCluster), and made again after a failed one.
        execute = self.r.execute_command if self.cluster else self._own.execute
        try:
            return execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            return script(keys=keys, args=args)

    def release(self, opened: OpenTurn) -> None:
        """Give the lock back without saving (the turn failed)."""
        if opened.token:
            k = self.keys
            self._release(keys=[k.lock(opened.cid), k.waiters(opened.cid), k.wake(opened.cid)], args=[opened.token])

    def extend(self, opened: OpenTurn, ms: int) -> bool:
        """Hold the lock ``ms`` milliseconds from now (an operator's message
        waiting on Twilio); False if it is no longer ours."""
        if not opened.token:
            return False
        return bool(self._extend(keys=[self.keys.lock(opened.cid)], args=[opened.token, ms]))

    # --- reading ------------------------------------------------------------------

    def load(self, cid: str) -> dict | None:
        """The stored session (``Session.to_fields``), read without the lock;
        None if there is none or it cannot be read."""
        return self.sessions([cid])[0] or None

    def sessions(self, cids: list[str]) -> list[dict | None]:
        """The stored sessions of ``cids`` (``Session.to_fields``; None where
        there is none, {} where one cannot be read), in one pipeline, read
        without the lock: for the console's list."""
        pipe = self.r.pipeline(transaction=False)
        for cid in cids:
            pipe.get(self.keys.session(cid))
        found = pipe.execute(raise_on_error=False)
        return [{} if isinstance(value, redis.ResponseError) else _session_fields(value) for value in found]

    # --- Twilio's copies ---------------------------------------------------------------

    def remember_sid(self, cid: str, sid: str) -> bool:
        """Add an outbound message's sid to the conversation's, if it has one
        (Twilio's status callbacks bring the sids of the TwiML replies).
        False when there is no conversation (erased, or expired): nothing is
        kept then."""
        if not self.twilio_sids:
            return False
        return bool(self._remember(keys=[self.keys.session(cid), self.keys.sids(cid)], args=[sid, self.session_ttl]))

    def ping(self) -> bool:
        """Whether Redis answers; on a cluster, every primary (each holds some contacts)."""
        return ping(self.r)

    HEALTH_TTL_MS = 60_000  # the health check's key is gone a minute after the last check

    def check_writes(self) -> None:
        """Write the health check's tiny key on every primary; raises what Redis
        answers when it refuses (:func:`~bot.store.connection.refusal` says why).
        A PING is not enough: a Redis out of memory or read-only answers it, and
        refuses every text's save."""
        write_everywhere(self.r, self.keys.health, self.HEALTH_TTL_MS)


class OptOuts:
    """Who opted out (STOP): written by the turn's commit, read here. No TTL:
    an opt-out outlives the session."""

    def __init__(self, client, keys: Keys):
        self.r = client
        self.keys = keys

    def is_opted_out(self, cid: str) -> bool:
        return bool(self.r.exists(self.keys.optout(cid)))


class WrapupNotes:
    """A responder's internal note from a chat's wrap-up, with who wrote it and
    how it ended: for the next responder, should the person ask for a person
    again. Written by the desk under the contact's lock, kept no longer than
    the session, erased with it on quick exit (see :meth:`SessionStore.commit`).
    Never sent, logged, counted or put in an event."""

    def __init__(self, client, keys: Keys, ttl: int):
        self.r = client
        self.keys = keys
        self.ttl = ttl
        self._write = client.register_script(lua("note_if_locked"))

    def write(self, opened: "OpenTurn", note: dict[str, str]) -> None:
        """Keep ``note`` while ``opened``'s lock is still held; raises LockLost if it is not."""
        cid = opened.cid
        if not self._write(keys=[self.keys.lock(cid), self.keys.wrapup_note(cid)],
                           args=[opened.token, json.dumps(note, ensure_ascii=False), self.ttl]):
            raise LockLost("the lock expired before the note was written")

    def read(self, cid: str) -> dict[str, str] | None:
        raw = self.r.get(self.keys.wrapup_note(cid))
        try:
            found = json.loads(text(raw)) if raw is not None else None
        except ValueError:
            return None
        return found if isinstance(found, dict) else None

    def erase(self, cid: str) -> None:
        self.r.delete(self.keys.wrapup_note(cid))


class HandoffTranscripts:
    """What was said during a hand-off (lines of :mod:`bot.engine.transcript`):
    appended by the turn's commit under the contact's lock, deleted with the
    hand-off and on quick exit. Read here, for the responder."""

    def __init__(self, client, keys: Keys):
        self.r = client
        self.keys = keys

    def read(self, cid: str) -> list[str]:
        return [text(line) for line in self.r.lrange(self.keys.handoff(cid), 0, -1)]

    def read_many(self, cids: list[str]) -> list[list[str]]:
        pipe = self.r.pipeline(transaction=False)
        for cid in cids:
            pipe.lrange(self.keys.handoff(cid), 0, -1)
        return [[text(line) for line in lines] for lines in pipe.execute()]


def _session_fields(stored) -> dict | None:
    """A stored session as ``Session.to_fields`` gave it: None if there is
    none, {} if it cannot be read at all (not JSON, not an object)."""
    if stored is None:
        return None
    try:
        fields = json.loads(text(stored))
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
