"""Handling one inbound message: dedupe, lock, load, step, save, reply.

This is the container around the pure engine (goflow's "mailroom"): it does
all the I/O the engine does not. Everything here is channel-neutral; the
webhook, the terminal chat and the console simulator all call
:meth:`Helpline.handle`.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import time
import traceback
import uuid
from dataclasses import dataclass
from typing import Callable

from .channels.twilio import TWILIO_OPT_OUT_WORDS, IncomingMessage
from .engine.events import turn_entry
from .engine.model import FlowSet
from .engine.runner import Context, Inbound, Turn, step
from .engine.session import Session, SessionFormatError
from .engine.text import normalize
from .store import RedisStore

log = logging.getLogger(__name__)


class ContactIds:
    """The pseudonymous id of an address: HMAC-SHA256 keyed by SECRET_KEY.

    Stable for one deployment, meaningless without the key, and short. The
    key's HMAC state is computed once and copied for each address (keying
    HMAC again was half the cost, on every text).
    """

    def __init__(self, secret: str):
        self._keyed = hmac.new(secret.encode(), digestmod=hashlib.sha256)

    def __call__(self, address: str) -> str:
        mac = self._keyed.copy()
        mac.update(address.encode())
        return mac.hexdigest()[:20]


def contact_id(secret: str, address: str) -> str:
    """:class:`ContactIds` for one address (tools and tests; the webhook keeps one)."""
    return ContactIds(secret)(address)


def safe_error(exc: BaseException) -> str:
    """An exception for the log without its message, which could quote input."""
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    where = " < ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in reversed(frames))
    return f"{type(exc).__name__} at {where}"


class Cached:
    """A value read at most once every few seconds (the on-duty flag, read
    every turn, changes when an operator clicks a toggle)."""

    def __init__(self, read: Callable[[], bool], seconds: float = 2.0):
        self.read = read
        self.seconds = seconds
        self.value = False
        self.until = 0.0

    def __call__(self) -> bool:
        now = time.monotonic()
        if now >= self.until:
            self.value = self.read()
            self.until = now + self.seconds
        return self.value


@dataclass
class Handled:
    replies: list[str]
    turn: Turn | None  # None for a retried MessageSid
    cid: str


class Helpline:
    def __init__(
        self,
        store: RedisStore,
        flows: Callable[[], FlowSet],
        secret_key: str,
        lock_wait: float = 8.0,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex[:12],
        on_duty: Callable[[], bool] | None = None,
    ):
        self.store = store
        self.flows = flows
        self.lock_wait = lock_wait
        self.clock = clock
        self.new_id = new_id
        self.on_duty = on_duty or Cached(store.on_duty, seconds=2.0)
        self.cid = ContactIds(secret_key)  # address -> contact id

    def handle(self, msg: IncomingMessage) -> Handled:
        """Process one message; raises on any failure (the caller sends the fail-safe)."""
        cid = self.cid(msg.address)
        claim = self.store.claim(cid, msg.message_sid, wait=self.lock_wait)
        if claim.duplicate is not None:
            return Handled(claim.duplicate, None, cid)
        try:
            session = self._session(cid, claim.fields)
            session.address = msg.address
            session.channel = msg.channel
            now = self.clock()
            ctx = Context(now=now, on_duty=self.on_duty(), opted_out=claim.opted_out, new_id=self.new_id)
            turn = step(session, Inbound(msg.text, msg.media_count), self.flows(), ctx)
            replies = list(turn.replies)
            if turn.opt_out and msg.channel == "sms" and normalize(msg.text) in TWILIO_OPT_OUT_WORDS:
                replies = []  # Twilio confirms its own opt-out words and would refuse ours
            self.store.commit(
                claim,
                action=turn.action,
                fields=turn.session.to_fields(),
                replies=replies,
                opt_out=turn.opt_out,
                transcript=turn.transcript,
                event=self._event(turn, msg.channel, now),
            )
        except BaseException:
            self.store.release(claim)
            raise
        return Handled(replies, turn, cid)

    def _session(self, cid: str, fields: dict | None) -> Session:
        if fields is None:
            return Session(cid=cid)
        try:
            return Session.from_fields(fields)
        except SessionFormatError as exc:
            # Unreadable (older code, damage): start over rather than fail every text.
            log.warning("session unreadable, starting fresh: %s", type(exc).__name__)
            return Session(cid=cid)

    @staticmethod
    def _event(turn: Turn, channel: str, now: float) -> dict[str, str] | None:
        """The turn's events as one stream entry (the console and the figures read it).

        The conversation id, not the contact id: after a quick exit the old
        events cannot be linked to whoever texts next from that number.
        """
        if not turn.events:
            return None
        session = turn.session
        return turn_entry(session.conv, channel, session.lang, session.state, session.position, now,
                          [e.as_fields() for e in turn.events])
