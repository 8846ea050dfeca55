"""What a quick exit must also clear beyond the session's keys, off the request path.

A job for :class:`bot.background.Background`:

* :class:`TwilioCopies`: Twilio keeps every message, body and number, in its
  message log. The store keeps each conversation's message sids (the
  person's texts as they arrive, the replies' from Twilio's status
  callbacks) and, on quick exit, moves them to a deletion queue in Redis
  (``p:{p:events}:purge``: sids only, no number, no contact id). This job deletes each
  with the REST API (``messages(sid).delete()``, through the console's own
  :class:`~bot.channels.twilio_rest.TwilioSender`, so ``TWILIO_API_BASE`` applies), and
  tries again until Twilio answers 204 (deleted) or 404 (already gone).
  A call that is over is queued the same way, its CallSid alone: Twilio's
  call log keeps the caller's number (``calls(sid).delete()``).
  Twilio refuses to delete a message it is still processing (error 20009:
  it asks for a minute or more, rarely up to 14 days), so the first try
  waits ``TWILIO_DELETE_AFTER`` seconds and a refusal waits longer.

  Not every message's sid reaches the bot: of a reply of several in one
  TwiML answer, only the last carries a status callback (unless the number
  is in a Messaging Service with this status callback), and a text answered
  with the fail-safe during an outage is never stored. So a quick exit also
  asks for a *sweep* (:meth:`TwilioCopies.sweep`): the job lists, in
  Twilio's log, every message between the person's number and the line's,
  both ways, and queues their sids with the rest. The sweep needs the
  number, which no queue may hold: it waits in this process's memory alone,
  from the quick exit until the listing is done (normally the next moment;
  at most :attr:`TwilioCopies.SWEEP_TRIES` minutes while Twilio cannot be
  reached), and is lost if the process stops first.

  Why a thread in every web process rather than a cron job: the web
  processes are the one thing always running wherever the bot runs, so no
  deployment can forget to schedule it, and the queue lives in Redis, so a
  process that dies leaves its work to the others (a taken sid is leased,
  not removed, until it is done).

* :class:`StreamEntries`: the events stream keeps no number and no words,
  but each turn's entry names the conversation's random id, and together
  they are its path through the flows (the nodes and times, what free text
  was understood as, a danger word, the responder who answered). A
  responder who handled the conversation knows that id. So a quick exit
  (or a call that ended) queues the id in Redis
  (``p:{p:events}:erased``: the id and when the conversation started, no
  contact id), and this job deletes its entries (``XDEL``) once the figures
  have counted them: the day's counts keep the conversation as numbers
  (started, where it was left, a quick exit), nothing more.

The embedded Redis's disk rewrites after an erase are
:class:`bot.store.embedded.DiskRewrite`'s.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import Callable

from .channels.twilio_api import forget_request_urls
from .engine.events import read_entry
from .store import STORE_DOWN, EventStream, SessionStore
from .store.events import ErasedTrails

log = logging.getLogger(__name__)

# A Twilio sid: two letters (SM and MM for a message, CA for a call) and 32 hex
# digits. Anything else is not put in a URL.
SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")
CALL = "CA"


@dataclass
class Sweep:
    """A quick exit's request to find its conversation's messages in Twilio's log.
    Memory only: it holds the person's number."""
    person: str  # their address, "+1555…" or "whatsapp:+1555…"
    line: str  # the helpline's, as they texted it
    due: float
    tries: int = 0


class TwilioCopies:
    BATCH = 20  # sids taken per round
    LEASE = 300.0  # seconds a taken sid is left to the process that took it
    NOT_YET = 600.0  # Twilio is still processing it (20009)
    FAILED = 600.0  # another refusal
    UNREACHABLE = 60.0  # no answer from Twilio
    NOT_ALLOWED = 3600.0  # 401/403: the credentials are wrong; an operator must fix them
    SWEEP_TRIES = 5  # a sweep Twilio could not answer is tried again each UNREACHABLE seconds, then dropped
    SWEEP_LIMIT = 2000  # messages listed each way: far more than any conversation with the line

    def __init__(self, store: SessionStore, sender, queue: Callable[[str], None], clock=time.time):
        self.store = store
        self.sender = sender  # a bot.channels.twilio_rest.TwilioSender
        # How a sid found by a sweep is queued: Helpline.delete_at_twilio, which
        # keeps it in the outage spool while Redis is down.
        self.queue = queue
        self.clock = clock
        self._sweeps: list[Sweep] = []
        self._lock = threading.Lock()

    def sweep(self, person: str, line: str | None) -> None:
        """After a quick exit: find every message between ``person`` and
        ``line`` in Twilio's log and delete it with the rest (the module's
        docstring says why). The caller wakes the job."""
        if person and line:
            with self._lock:
                self._sweeps.append(Sweep(person, line, self.clock()))

    def __call__(self) -> float | None:
        """Sweep and delete what is due; seconds until the next work is due, None if there is none."""
        now = self.clock()
        with self._lock:
            sweeps = [s for s in self._sweeps if s.due <= now]
            self._sweeps = [s for s in self._sweeps if s.due > now]
        for sweep in sweeps:
            self._sweep(sweep)
        for sid in self.store.deletions.due(self.BATCH, self.LEASE):
            self._delete(sid)
        with self._lock:
            dues = [s.due for s in self._sweeps]
        due = self.store.deletions.next_due()
        if due is not None:
            dues.append(due)
        if not dues:
            return None
        return min(max(min(dues) - self.clock(), 0.05), 3600.0)

    def _sweep(self, sweep: Sweep) -> None:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        try:
            messages = self.sender.client().messages
            found = {m.sid for m in messages.stream(to=sweep.person, from_=sweep.line, limit=self.SWEEP_LIMIT)}
            found |= {m.sid for m in messages.stream(to=sweep.line, from_=sweep.person, limit=self.SWEEP_LIMIT)}
            for sid in sorted(found):
                if isinstance(sid, str) and SID.match(sid):
                    self.queue(sid)
        except TwilioRestException as exc:
            if exc.status in (401, 403):  # nothing to wait for with a number in memory: an operator must act
                log.error("Twilio refused to list an erased conversation's messages: HTTP %s, error %s (check "
                          "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN); those it had not reported stay in its log",
                          exc.status, exc.code)
                return
            self._sweep_later(sweep, f"HTTP {exc.status}, error {exc.code}")
        except (TwilioException, OSError, *STORE_DOWN) as exc:
            self._sweep_later(sweep, type(exc).__name__)
        finally:
            forget_request_urls()  # the listing's URLs named the number

    def _sweep_later(self, sweep: Sweep, why: str) -> None:
        sweep.tries += 1
        if sweep.tries >= self.SWEEP_TRIES:
            log.error("gave up listing an erased conversation's messages in Twilio's log after %d tries (%s); "
                      "those it had not reported stay there", sweep.tries, why)
            return
        log.warning("could not list an erased conversation's messages in Twilio's log (%s); trying again in %gs",
                    why, self.UNREACHABLE)
        sweep.due = self.clock() + self.UNREACHABLE
        with self._lock:
            self._sweeps.append(sweep)

    def _delete(self, sid: str) -> None:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        if not SID.match(sid):
            log.error("dropped a queued Twilio deletion that is not a message or call sid")
            self.store.deletions.done(sid)
            return
        try:
            client = self.sender.client()
            (client.calls(sid) if sid.startswith(CALL) else client.messages(sid)).delete()
        except TwilioRestException as exc:
            if exc.status == 404:  # already gone
                self._gone(sid)
                return
            if exc.code == 20009:
                wait = self.NOT_YET
            elif exc.status in (401, 403):
                wait = self.NOT_ALLOWED
                log.error("Twilio refused to delete an erased conversation's message or call: HTTP %s, error %s "
                          "(check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN); trying again in %gs",
                          exc.status, exc.code, wait)
            else:
                wait = self.FAILED
                log.warning("Twilio did not delete an erased conversation's message or call: HTTP %s, error %s; "
                            "trying again in %gs", exc.status, exc.code, wait)
            self.store.deletions.later(sid, self.clock() + wait)
            return
        except (TwilioException, OSError) as exc:
            log.warning("Twilio could not be reached to delete a message or call (%s); trying again in %gs",
                        type(exc).__name__, self.UNREACHABLE)
            self.store.deletions.later(sid, self.clock() + self.UNREACHABLE)
            return
        self._gone(sid)

    def _gone(self, sid: str) -> None:
        """Deleted at Twilio: off the queue, and the status we kept of it goes too."""
        self.store.statuses.forget(sid)
        self.store.deletions.done(sid)


def _stream_id(ident: str) -> tuple[int, int]:
    ms, _, seq = ident.partition("-")
    return int(ms), int(seq or 0)


class StreamEntries:
    """Drop erased conversations' turns from the events stream (the module's
    docstring says why), once the figures have counted them.

    The stream is read from the conversation's start (less ``SKEW``, for a
    difference between this host's clock and Redis's, which names the
    entries) to its end, a page at a time: a few thousand entries for a
    conversation of minutes on a busy line, at most the whole stream
    (``EVENTS_MAXLEN`` entries) for an older one, or one none of whose turns
    were found after its start (a clock ahead of Redis's). Conversations due
    together share one reading.
    """

    BATCH = 50  # erased conversations taken per round
    PAGE = 1000  # stream entries read per call
    LEASE = 300.0  # seconds a taken conversation is left to the process that took it
    SKEW = 300.0  # seconds read before a conversation's start
    NOT_COUNTED = 60.0  # the figures could not count all its entries yet: try again then

    def __init__(self, trails: ErasedTrails, stream: EventStream, figures, after_drop: Callable[[], None],
                 clock=time.time):
        self.trails = trails
        self.stream = stream
        self.figures = figures  # a bot.figures.Figures: counted before anything is dropped
        self.after_drop = after_drop  # the embedded Redis's disk rewrite (DiskRewrite.erased)
        self.clock = clock

    def __call__(self) -> float | None:
        """Drop what is due; seconds until the next is due, None if nothing is queued."""
        items = self.trails.due(self.BATCH, self.LEASE)
        if items:
            self._drop(items)
        due = self.trails.next_due()
        if due is None:
            return None
        return min(max(due - self.clock(), 0.05), 3600.0)

    def _drop(self, items: list[str]) -> None:
        erased = {}  # conv -> its queued item
        starts = []
        for item in items:
            conv, started_at = ErasedTrails.parse(item)
            erased[conv] = item
            starts.append(started_at)
        # Counted first: a quick exit, and where it happened, stay in the day's figures.
        self.figures.catch_up()
        counted = self.figures.counters.cursor()
        counted_to = _stream_id(counted) if counted else (0, 0)
        earliest = min(starts)
        after = f"{int((earliest - self.SKEW) * 1000)}-0" if earliest > self.SKEW else ""
        found, waiting, dropped = self._scan(after, set(erased), counted_to)
        if after:
            # None of its turns after its start: this host's clock may be ahead of
            # Redis's by more than SKEW. Read the whole stream for those.
            missed = set(erased) - found
            if missed:
                _, more_waiting, more_dropped = self._scan("", missed, counted_to)
                waiting |= more_waiting
                dropped += more_dropped
        self.trails.done(*(item for conv, item in erased.items() if conv not in waiting))
        for conv in waiting:
            self.trails.later(erased[conv], self.clock() + self.NOT_COUNTED)
        if dropped:
            self.after_drop()

    def _scan(self, after: str, convs: set[str], counted_to: tuple[int, int]) -> tuple[set[str], set[str], int]:
        """Delete the turns of ``convs`` after the stream id ``after`` that the
        figures have counted. Returns the conversations found, those with turns
        not counted yet, and how many entries were deleted."""
        found, waiting, dropped = set(), set(), 0
        while True:
            page = self.stream.entries_after(after, self.PAGE)
            ids = []
            for ident, fields in page:
                entry = read_entry(fields)
                if entry is None or entry["conv"] not in convs:
                    continue
                found.add(entry["conv"])
                if _stream_id(ident) <= counted_to:
                    ids.append(ident)
                else:
                    waiting.add(entry["conv"])
            self.stream.drop(ids)
            dropped += len(ids)
            if len(page) < self.PAGE:
                return found, waiting, dropped
            after = page[-1][0]
