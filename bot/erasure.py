"""What a quick exit must also clear beyond the session's keys, off the request path.

Two jobs for :class:`bot.background.Background`:

* :class:`TwilioCopies`: Twilio keeps every message, body and number, in its
  message log. The store keeps each conversation's message sids (the
  person's texts as they arrive, the replies' from Twilio's status
  callbacks) and, on quick exit, moves them to a deletion queue in Redis
  (``p:{p:events}:purge``: sids only, no number, no contact id). This job deletes each
  with the REST API (``messages(sid).delete()``, through the console's own
  :class:`~bot.handoff.TwilioSender`, so ``TWILIO_API_BASE`` applies), and
  tries again until Twilio answers 204 (deleted) or 404 (already gone).
  Twilio refuses to delete a message it is still processing (error 20009:
  it asks for a minute or more, rarely up to 14 days), so the first try
  waits ``TWILIO_DELETE_AFTER`` seconds and a refusal waits longer.

  Why a thread in every web process rather than a cron job: the web
  processes are the one thing always running wherever the bot runs, so no
  deployment can forget to schedule it, and the queue lives in Redis, so a
  process that dies leaves its work to the others (a taken sid is leased,
  not removed, until it is done).

* :class:`DiskRewrite`: the embedded Redis writes every command to its
  append-only file and rewrites the file only when it has doubled past 64 MB,
  so an erased session would stay on disk for weeks. After an erase, this job
  asks for a background rewrite (``BGREWRITEAOF``), which writes only what
  is still stored; at most one a minute across all processes (a Redis key
  with NX and a TTL), and always one that starts after the erase. Only for
  the embedded server: what a managed Redis keeps is its operator's to
  configure (README, "What Redis keeps on disk").
"""
from __future__ import annotations

import logging
import re
import threading
import time

import redis

from .store import RedisStore

log = logging.getLogger(__name__)

# A Twilio message sid: two letters (SM, MM) and 32 hex digits. Anything else
# is not put in a URL.
SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")


class TwilioCopies:
    BATCH = 20  # sids taken per round
    LEASE = 300.0  # seconds a taken sid is left to the process that took it
    NOT_YET = 600.0  # Twilio is still processing it (20009)
    FAILED = 600.0  # another refusal
    UNREACHABLE = 60.0  # no answer from Twilio
    NOT_ALLOWED = 3600.0  # 401/403: the credentials are wrong; an operator must fix them

    def __init__(self, store: RedisStore, sender, clock=time.time):
        self.store = store
        self.sender = sender  # a bot.handoff.TwilioSender
        self.clock = clock

    def __call__(self) -> float | None:
        """Delete what is due; seconds until the next sid is due, None if none is queued."""
        for sid in self.store.due_deletions(self.BATCH, self.LEASE):
            self._delete(sid)
        due = self.store.next_deletion()
        if due is None:
            return None
        return min(max(due - self.clock(), 0.05), 3600.0)

    def _delete(self, sid: str) -> None:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        if not SID.match(sid):
            log.error("dropped a queued Twilio deletion that is not a message sid")
            self.store.deletion_done(sid)
            return
        try:
            self.sender.client().messages(sid).delete()
        except TwilioRestException as exc:
            if exc.status == 404:  # already gone
                self.store.deletion_done(sid)
                return
            if exc.code == 20009:
                wait = self.NOT_YET
            elif exc.status in (401, 403):
                wait = self.NOT_ALLOWED
                log.error("Twilio refused to delete an erased conversation's message: HTTP %s, error %s "
                          "(check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN); trying again in %gs",
                          exc.status, exc.code, wait)
            else:
                wait = self.FAILED
                log.warning("Twilio did not delete an erased conversation's message: HTTP %s, error %s; "
                            "trying again in %gs", exc.status, exc.code, wait)
            self.store.deletion_later(sid, self.clock() + wait)
            return
        except (TwilioException, OSError) as exc:
            log.warning("Twilio could not be reached to delete a message (%s); trying again in %gs",
                        type(exc).__name__, self.UNREACHABLE)
            self.store.deletion_later(sid, self.clock() + self.UNREACHABLE)
            return
        self.store.deletion_done(sid)


class DiskRewrite:
    """Rewrite the embedded Redis's append-only file after erasures, at most
    once every ``interval`` seconds across every process."""

    def __init__(self, client: redis.Redis, key: str, interval: float = 60.0, clock=time.time):
        self.r = client
        self.key = key
        self.interval = interval
        self.clock = clock
        self._last_erase: float | None = None  # the latest erase not yet in a rewrite
        self._lock = threading.Lock()

    def erased(self) -> None:
        """An erase was committed: a rewrite must start after it."""
        with self._lock:
            self._last_erase = self.clock()

    def __call__(self) -> float | None:
        with self._lock:
            erase = self._last_erase
        if erase is None:
            return None
        started = self.clock()
        ms = max(1, int(self.interval * 1000))
        if self.r.set(self.key, f"{started:.6f}", nx=True, px=ms):
            try:
                self.r.bgrewriteaof()  # "scheduled" behind a snapshot in progress: still after the erase
            except redis.ResponseError:
                # A rewrite already running may have started before the erase: ours after it.
                self.r.delete(self.key)
                return 0.5
            return self._done(started)
        other = self.r.get(self.key)
        if other is not None and float(other) >= erase:
            return self._done(float(other))  # another process's rewrite started after our erase
        wait = self.r.pttl(self.key)
        return max(wait, 50) / 1000 if wait and wait > 0 else 0.05

    def _done(self, started: float) -> float | None:
        with self._lock:
            if self._last_erase is not None and self._last_erase <= started:
                self._last_erase = None
                return None
            return self.interval  # erased again since: the next rewrite when this one's minute is up
