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

  Why a thread in every web process rather than a cron job: the web
  processes are the one thing always running wherever the bot runs, so no
  deployment can forget to schedule it, and the queue lives in Redis, so a
  process that dies leaves its work to the others (a taken sid is leased,
  not removed, until it is done).

The embedded Redis's disk rewrites after an erase are
:class:`bot.store.embedded.DiskRewrite`'s.
"""
from __future__ import annotations

import logging
import re
import time

from .store import SessionStore

log = logging.getLogger(__name__)

# A Twilio sid: two letters (SM and MM for a message, CA for a call) and 32 hex
# digits. Anything else is not put in a URL.
SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")
CALL = "CA"


class TwilioCopies:
    BATCH = 20  # sids taken per round
    LEASE = 300.0  # seconds a taken sid is left to the process that took it
    NOT_YET = 600.0  # Twilio is still processing it (20009)
    FAILED = 600.0  # another refusal
    UNREACHABLE = 60.0  # no answer from Twilio
    NOT_ALLOWED = 3600.0  # 401/403: the credentials are wrong; an operator must fix them

    def __init__(self, store: SessionStore, sender, clock=time.time):
        self.store = store
        self.sender = sender  # a bot.channels.twilio_rest.TwilioSender
        self.clock = clock

    def __call__(self) -> float | None:
        """Delete what is due; seconds until the next sid is due, None if none is queued."""
        for sid in self.store.deletions.due(self.BATCH, self.LEASE):
            self._delete(sid)
        due = self.store.deletions.next_due()
        if due is None:
            return None
        return min(max(due - self.clock(), 0.05), 3600.0)

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
