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

from .channels.twilio import TWILIO_OPT_OUT_WORDS, IncomingMessage, StatusUpdate
from .engine import render, stateless
from .engine.events import turn_entry
from .engine.model import FlowSet
from .engine.runner import ERASE, KEEP, Context, Inbound, Turn, step
from .engine.session import Session, SessionFormatError
from .engine.text import normalize
from .spool import DELETE, Entry, Spool
from .store import STORE_DOWN, OpenTurn, SessionStore

log = logging.getLogger(__name__)


class ContactIds:
    """The pseudonymous id of an address: HMAC-SHA256 keyed by SECRET_KEY.

    Stable for one deployment, meaningless without the key, and short. The
    key's HMAC state is computed once and copied for each address
    (``hmac``'s own ``copy``), rather than keyed again on every text.
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


class MessageMarks(ContactIds):
    """The seen mark of a MessageSid (see bot/store/sessions.py, "Replays"):
    an HMAC keyed by SECRET_KEY, so the key names neither the sid (which,
    with Twilio's credentials, leads to the number) nor the contact. A prefix
    no address has keeps a mark from ever equalling a contact id."""

    def __call__(self, message_sid: str) -> str:
        return super().__call__("MessageSid\x00" + message_sid)


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
    erased: bool = False  # the replies answer a quick exit: Twilio's copies of them go too
    queued: int = 0  # WhatsApp: replies put in the person's outbox, sent by REST (bot/whatsapp_sender.py)


class Helpline:
    def __init__(
        self,
        store: SessionStore,
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
        # Whether someone can take a hand-off now (bot.duty.Duty, read
        # through a Cached); nobody, unless told (the terminal chat, trials).
        self.on_duty = on_duty or (lambda: False)
        self.cid = ContactIds(secret_key)  # address -> contact id
        self.marks = MessageMarks(secret_key)  # MessageSid -> seen mark
        # Set by create_app: what to tell when a session was erased (the disk
        # rewrite), how to start the work done off the request path
        # (bot/background.py), and where to keep what is asked for while the
        # store is down (bot/spool.py).
        self.after_erase: Callable[[], None] = lambda: None
        self.wake: Callable[[], None] = lambda: None
        # Set by create_app when Twilio's copies are deleted: a quick exit also
        # has Twilio's log searched for its messages (bot.erasure.TwilioCopies.sweep).
        self.sweep: Callable[[str, str | None], None] = lambda person, line: None
        self.spool: Spool | None = None
        self.last_flows: FlowSet | None = None
        # WHATSAPP_INTERACTIVE: WhatsApp replies go by REST, buttons and lists included.
        self.whatsapp = None  # bot.whatsapp_sender.WhatsAppSender

    def handle(self, msg: IncomingMessage) -> Handled:
        """Process one message; raises on any failure (the caller sends the fail-safe)."""
        cid = self.cid(msg.address)
        mark = self.marks(msg.message_sid) if msg.message_sid else None
        self.do_what_was_spooled(cid)
        opened = self.store.open_turn(cid, msg.message_sid, wait=self.lock_wait, mark=mark)
        rest = self.whatsapp is not None and msg.channel == "whatsapp"
        if rest and (opened.duplicate is not None or opened.seen is not None):
            return Handled([], None, cid)  # its replies were put in the outbox the first time
        if opened.duplicate is not None:
            return Handled(opened.duplicate, None, cid)
        if opened.seen is not None:
            # Handled before, and its answer is gone (erased with the session,
            # or past the retry window): a replay. Nothing changes; a quick
            # exit's retry gets its neutral line again, anything else nothing.
            fs = self.flows()
            if opened.seen in fs.system.languages:
                return Handled([render.say(fs, opened.seen, "erased")], None, cid, erased=True)
            return Handled([], None, cid)
        queued = 0
        try:
            session = self._session(cid, opened.fields)
            session.address = msg.address
            session.channel = msg.channel
            now = self.clock()
            ctx = Context(now=now, on_duty=self.on_duty(), opted_out=opened.opted_out, new_id=self.new_id)
            self.last_flows = fs = self.flows()
            turn = step(session, Inbound(msg.text, msg.media_count, msg.choice), fs, ctx)
            replies = list(turn.replies)
            if turn.opt_out and msg.channel == "sms" and normalize(msg.text) in TWILIO_OPT_OUT_WORDS:
                replies = []  # Twilio confirms its own opt-out words and would refuse ours
            if rest:
                # Inside the lock and before the commit: the next turn's replies
                # cannot go before these, and a retry finds the commit's mark.
                self.whatsapp.enqueue(cid, msg.address, replies, turn.session, fs, erased=turn.action == ERASE)
                queued = len(replies)
            self.save(opened, turn, msg.channel, now, replies,
                      seen=(turn.session.lang if replies else "0") if turn.action == ERASE else "1")
        except BaseException:
            if queued:  # not saved (the lock lapsed, Redis failed): the person gets the fail-safe instead
                self.whatsapp.unqueue(cid, queued)
            self.store.release(opened)
            raise
        if turn.action == ERASE:
            self.sweep(msg.address, msg.line)
            self.after_erase()
            self.wake()
        if rest:
            if replies:
                self.wake()
            return Handled([], turn, cid, erased=turn.action == ERASE, queued=len(replies))
        return Handled(replies, turn, cid, erased=turn.action == ERASE)

    def save(self, opened: OpenTurn, turn: Turn, channel: str, now: float, replies: list[str] = (),
             seen: str = "1") -> None:
        """Commit a turn, a text's or an operator's (``bot/desk.py``): the session
        saved or erased, the answer kept for Twilio's retry, the opt-out, the
        hand-off transcript's new lines, the turn's event; then unlock."""
        self.store.commit(opened, action=turn.action, fields=turn.session.to_fields(), replies=list(replies),
                          opt_out=turn.opt_out, transcript=turn.transcript, event=self._event(turn, channel, now),
                          seen=seen)

    # --- when the store cannot be reached -------------------------------------------------

    def without_store(self, msg: IncomingMessage) -> Handled | None:
        """The answer to a quick exit or an opt-out that :meth:`handle` could not
        process (Redis down, or anything else that failed); None for any other
        text, which gets the fail-safe.

        The person gets the line the bot gives for it (nothing for Twilio's
        own opt-out words on SMS), and the request is spooled, to be done as
        soon as Redis answers (:meth:`replay`). Never raises.
        """
        try:
            # The set the last turn used: asking for the current one would first
            # look for a newer published version in Redis, which is down.
            found = stateless.answer(self.last_flows or self.flows(), msg.text)
            if found is None:
                return None
            replies = list(found.replies)
            if (found.intent == stateless.OPT_OUT and msg.channel == "sms"
                    and normalize(msg.text) in TWILIO_OPT_OUT_WORDS):
                replies = []
            cid = self.cid(msg.address)
            quick_exit = found.intent == stateless.QUICK_EXIT
            if quick_exit:
                self.sweep(msg.address, msg.line)
                self.wake()
            if self.spool is not None:
                sid = (msg.message_sid or "") if quick_exit else ""
                if self.spool.add(Entry(cid, found.intent, self.clock(), sid)):
                    self.wake()
            return Handled(replies, None, cid, erased=quick_exit)
        except Exception as exc:  # noqa: BLE001 - the caller still has the fail-safe
            log.error("quick exit or opt-out not answered without the store: %s", safe_error(exc))
            return None

    def replay(self, entry: Entry) -> None:
        """Do a spooled quick exit or opt-out, now that Redis answers; raises if it cannot.

        Only what the person asked for then: a quick exit erases the
        conversation they had then (not one started since), and an opt-out
        is recorded unless they have texted since (an opt-in, or a text the
        bot has answered as from someone subscribed).
        """
        if entry.action == DELETE:
            if self.store.twilio_sids and entry.sid:
                self.store.deletions.add([entry.sid])
                self.wake()
            return
        mark = self.marks(entry.sid) if entry.sid else None
        opened = self.store.open_turn(entry.cid, entry.sid or None, wait=self.lock_wait, mark=mark)
        if opened.duplicate is not None or opened.seen is not None:
            return  # Twilio's retry of it was handled once Redis was back
        try:
            stored = self._session(entry.cid, opened.fields) if opened.fields else None
            word = sorted(self.flows().keywords.intents[entry.action])[0]
            if entry.action == stateless.QUICK_EXIT:
                if stored is not None and stored.started_at > entry.t:
                    self.store.release(opened)  # a new conversation, started after the exit
                    self.store.deletions.add([entry.sid] if entry.sid and self.store.twilio_sids else [])
                    return
            elif stored is None:
                self.store.commit(opened, action=KEEP, fields=None, replies=[], opt_out=True)
                return
            elif stored.updated_at > entry.t:
                self.store.release(opened)
                return
            session = stored or Session(cid=entry.cid)
            ctx = Context(now=entry.t, on_duty=False, opted_out=opened.opted_out, new_id=self.new_id)
            turn = step(session, Inbound(word), self.flows(), ctx)
            # The spool does not say which word they typed, so a late retry of it gets nothing more.
            self.store.commit(opened, action=turn.action, fields=turn.session.to_fields(), replies=[],
                              opt_out=turn.opt_out, event=self._event(turn, session.channel, entry.t))
        except BaseException:
            self.store.release(opened)
            raise
        if turn.action == ERASE:
            # A call's last words said (a hang-up or SALIR during the outage): they go with it.
            self.store.call_prompts.forget(entry.cid)
            self.after_erase()
            self.wake()

    def do_what_was_spooled(self, cid: str) -> None:
        """Do what ``cid`` asked for while Redis was down before a new turn of
        theirs: a chat erased then must not carry on (their next text, an
        operator's reply) in the seconds before the background replay comes
        round. Waits for a replay another process is doing. Never raises: if
        Redis is still down, the turn that follows fails as it would have."""
        if self.spool is not None and self.spool.holds(cid):
            self.spool.replay(self.replay, wait=True)

    def replay_spool(self) -> float | None:
        """A background job (bot/background.py): replay the spool once Redis answers."""
        if self.spool is None or not self.spool.pending():
            return None
        if not self.store.ping():
            return 1.0
        return 2.0 if self.spool.replay(self.replay) else None

    # --- delivery status ------------------------------------------------------------------

    def delivered(self, update: StatusUpdate, erased: bool = False) -> None:
        """A status callback for a message we sent. ``erased``: it was the
        answer to a quick exit (its status URL says so), or its conversation is
        no longer stored: its record at Twilio goes too, and nothing is
        recorded. Otherwise the sid is kept with the conversation, for its
        quick exit, and the status recorded."""
        store = self.store
        if store.twilio_sids and update.to and not erased:
            # No conversation to keep it with: it was erased (a reply reported after
            # the SALIR that waited for it) or has expired. Deleted like the rest.
            erased = not store.remember_sid(self.cid(update.to), update.message_sid)
        if erased:
            if store.twilio_sids:
                self.delete_at_twilio(update.message_sid)  # Twilio does not send a status twice
            return
        store.statuses.record(update.message_sid, update.status, update.error_code)

    def delete_at_twilio(self, sid: str) -> None:
        """Queue a message or call sid for deletion at Twilio (bot.erasure). While
        Redis is down it waits in the outage spool, queued once Redis answers;
        raises if it cannot be kept there either."""
        try:
            self.store.deletions.add([sid])
        except STORE_DOWN:
            if self.spool is None or not self.spool.add(Entry("", DELETE, self.clock(), sid)):
                raise
        self.wake()

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
