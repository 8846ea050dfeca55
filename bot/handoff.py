"""What operators do to sessions: see them, take a hand-off, reply, hand back.

The console (``bot/web/ops.py``) calls this module and nothing else touches
a session on an operator's behalf. Five parts:

* :class:`Directory`: the live sessions, read from the sessions the store's
  live index names (the only place that links a conversation id to its contact), with the number
  masked to its last two digits here, on the server. The browser gets the
  conversation id and ``··42``, never the number or the contact id.
* :class:`Desk`: the hand-off queue and the operator's actions on it
  (claim, unclaim, reply, release, close). Every action that reads or changes
  a session takes the contact's lock through the store, ``claim`` with no
  MessageSid then ``commit``, exactly as a text from the person does. So an
  operator's click and the person's texts are handled one after the other:
  a SALIR that arrives first erases the session and the reply is refused; a
  reply that is being sent when SALIR arrives finishes first (SALIR waits for
  the lock, which is made to outlast the send's deadline), and SALIR then
  erases it with everything else.
* :class:`TwilioSender`: messages through Twilio's REST API (the ``twilio``
  client), with the API base configurable so tests point it at a local
  server, and a deadline: past it, a message "may have been sent" and is
  never sent again by itself.
* :class:`Duty`: whether a person can take a hand-off now, and who: each
  responder's own on duty (renewed while their console is open, so a closed
  laptop does not leave people waiting) or the configured hours.
* :class:`DutyWatch`: the moment nobody is on duty, hands back everyone
  waiting, with the hotline numbers.

The hand-off transcript. The engine appends the person's texts during a
hand-off to ``p:{cid}:handoff`` (the commit script writes it under the lock,
and quick exit deletes it), and a marked record when they use a word the bot
answers (EMERGENCY, HELP, a language), with what the bot sent them. The
console appends its own records to the same list, through the same commit,
so that everything about the hand-off goes with one DEL when the person
texts SALIR: who claimed it, and the operators' replies. Records are lines of
:mod:`bot.engine.transcript`, which no text of the person's can pass for.
Release and close delete the list: after a hand-off, no message body is kept.

Nobody on duty. When the line goes from on duty to off (the last responder
goes off duty, their console closed long enough for on duty to lapse, or the
staffed hours end), :class:`DutyWatch` hands back everyone in a hand-off:
each gets the hand-off's ``unavailable`` text (the hotline numbers, in their
language) once, through Twilio, and is back with the bot, so a later text is
answered rather than met with silence.

Never texting first. Operators can reply only to a session in the
``handed_off`` state, which only the person can enter (the HUMAN keyword or
the "talk to a person" menu option), and on WhatsApp only within 24 hours of
the person's last text (WhatsApp's customer-service window; the session's
``t`` is the time of the person's last text, because only the person's texts
and these actions write the session, and these actions keep ``t``). Release
and close send nothing: the person is not told they are back with the bot
(a message they did not ask for is one more thing someone else could read on
their phone); the console asks the operator to say goodbye in a reply first.
The next text they send gets the main menu.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator
from zoneinfo import ZoneInfo

import redis

from .engine import events as ev
from .engine import transcript
from .engine.lifecycle import bind
from .engine.model import FlowSet
from .engine.render import handoff_node
from .engine.session import Session, SessionFormatError
from .engine.text import clean
from .store import LockLost, RedisStore, StoreError

log = logging.getLogger(__name__)

HANDED_OFF = "handed_off"
WHATSAPP_WINDOW = 24 * 3600  # seconds after the person's last text that WhatsApp lets us answer freely
REPLY_LIMIT = 1600  # characters: Twilio's limit for one message

# Event kinds of operator actions, added to the stream beside the engine's
# (bot/engine/events.py). Like those, they carry no message body.
CLAIMED = "claimed"
UNCLAIMED = "unclaimed"
OPERATOR_REPLY = "operator_reply"
RELEASED = ev.RELEASED
CLOSED = ev.CLOSED


class ActionRefused(Exception):
    """An operator action that cannot be done; the message says why, for the console."""


def mask(address: str) -> str:
    """The last two digits of a number, for the console: ``+15550001142`` -> ``··42``.

    >>> mask("whatsapp:+5215550001107")
    '··07'
    >>> mask("")
    '··'
    """
    digits = re.sub(r"\D", "", address or "")
    return "··" + digits[-2:] if len(digits) >= 2 else "··"


# --- the live sessions ----------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One live session as the console shows it (``cid`` stays on the server)."""

    cid: str
    conv: str
    masked: str
    channel: str
    lang: str
    state: str
    flow: str
    node: str
    t: float  # the person's last text (epoch seconds)

    def public(self) -> dict:
        """What the browser may see: no contact id, no number."""
        return {
            "conv": self.conv,
            "masked": self.masked,
            "ch": self.channel,
            "lang": self.lang,
            "st": self.state,
            "at": f"{self.flow}.{self.node}" if self.flow else "",
            "t": self.t,
        }


STALE_AFTER = 10.0  # seconds an index entry without its session is left alone (see RedisStore.drop_from_live)


class Directory:
    """The live sessions, from the store's live index (``p:{p:events}:live``), cached for a moment.

    The event stream names conversations, not contacts (by design: after a
    quick exit, old events cannot be linked to whoever texts next from that
    number), so the sessions are the only link from a conversation to the
    contact whose lock and number an action needs. A snapshot holds the
    ``page`` sessions saved most recently and every session in a hand-off,
    read from the index (no SCAN: a page costs the same at a thousand
    sessions as at a hundred thousand), and is shared by every request of the
    process for ``max_age`` seconds. A conversation the snapshot does not
    have is looked for again only if the snapshot is older than the moment
    it was last heard of (``since``): a session that started after the
    snapshot, not one that has since been erased.
    """

    def __init__(self, store: RedisStore, max_age: float = 2.0, clock: Callable[[], float] = time.time,
                 page: int = 200):
        self.store = store
        self.max_age = max_age
        self.clock = clock
        self.page = page
        self._rows: dict[str, Row] = {}  # by conversation: the page and the hand-offs
        self._page: list[Row] = []
        self._waiting: list[Row] = []
        self._total = 0
        self._at = float("-inf")  # when the snapshot's read started
        self._lock = threading.Lock()

    def _fresh(self, max_age: float | None) -> None:
        if self.clock() - self._at > (self.max_age if max_age is None else max_age):
            self.refresh()

    def rows(self, max_age: float | None = None) -> list[Row]:
        """The ``page`` sessions saved most recently, the most recent text first
        (from a snapshot at most ``max_age`` seconds old: 0 for a page an
        operator just asked for)."""
        self._fresh(max_age)
        return list(self._page)

    def total(self, max_age: float | None = None) -> int:
        """How many sessions there are (the live list shows a page of them)."""
        self._fresh(max_age)
        return self._total

    def waiting(self, max_age: float | None = None) -> list[Row]:
        """Every session in a hand-off, however many others there are."""
        self._fresh(max_age)
        return list(self._waiting)

    def find(self, conv: str, since: float | None = None) -> Row | None:
        """The session of conversation ``conv``, if it is still live.

        ``since``: when the conversation was last heard of (an event's time);
        None for now (an operator's click: always worth a look).
        """
        if self.clock() - self._at > self.max_age:
            self.refresh()
        row = self._rows.get(conv)
        if row is None and self._at <= (self.clock() if since is None else since):
            self.refresh()
            row = self._rows.get(conv)
        return row

    def forget(self, conv: str) -> None:
        self._rows.pop(conv, None)

    def refresh(self) -> None:
        with self._lock:
            started = self.clock()
            store = self.store
            page, total = store.live(self.page)
            handoff = store.in_handoff()
            saved = dict(handoff + page)  # contact id -> when the index last saw it saved
            cids = list(saved)
            found = store.sessions([store.key(cid, "session") for cid in cids])
            rows: dict[str, Row] = {}
            by_cid: dict[str, Row] = {}
            missing = set()
            for cid, fields in zip(cids, found):
                if fields is None:  # expired or erased since the index was written
                    missing.add(cid)
                    continue
                row = _row(store.key(cid, "session"), fields)
                if row is not None:
                    rows[row.conv] = by_cid[cid] = row
            store.drop_from_live([cid for cid in missing if saved[cid] < started - STALE_AFTER])
            self._page = sorted((by_cid[c] for c, _ in page if c in by_cid), key=lambda r: r.t, reverse=True)
            self._waiting = [by_cid[c] for c, _ in handoff if c in by_cid]
            self._total = max(0, total - sum(1 for c, _ in page if c in missing))
            self._rows = rows
            self._at = started


def _row(key: str, fields: dict | None) -> Row | None:
    if not fields:
        return None
    conv, ch, lang, st, flow, node, t, addr = (v if isinstance(v := fields.get(name), str) else ""
                                               for name in ("conv", "ch", "lang", "st", "flow", "node", "t", "addr"))
    if not conv:  # a new session has a conversation id from its first turn on
        return None
    cid = key.split("{", 1)[1].split("}", 1)[0]
    try:
        t_value = float(t or 0)
    except ValueError:
        t_value = 0.0
    return Row(cid, conv, mask(addr), ch or "sms", lang or "", st or "", flow or "", node or "", t_value)


def _s(value) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


# --- the hand-off transcript ------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One line of a hand-off: a text from the person, or a record."""

    who: str  # "person", "operator" (a reply), "keyword" (a word the bot answered) or "note" (claimed, unclaimed)
    text: str = ""  # the person's text; a reply; the keyword as they typed it
    by: str = ""
    t: float = 0.0
    kind: str = ""  # a record's kind; for a keyword, its intent (danger, help, switch_language ...)
    sid: str = ""  # an operator reply's Twilio message sid
    sent: tuple[str, ...] = ()  # a keyword: what the bot sent them
    lang: str = ""  # switch_language: the language they chose
    unsure: bool = False  # a reply Twilio did not confirm: it may or may not have been sent


def record(kind: str, by: str, t: float, **extra: str) -> str:
    """A console record for the hand-off list."""
    return transcript.record(kind, t, by=by, **extra)


def parse(raw: list) -> list[Entry]:
    entries = []
    for item in raw:
        text = _s(item)
        data = transcript.read(text)
        if data is None:
            entries.append(Entry("person", text))
            continue
        if not data:
            continue
        kind = data.get("k", "")
        t = float(data.get("t", 0) or 0)
        if kind == transcript.KEYWORD:
            sent = data.get("sent") or []
            entries.append(Entry("keyword", str(data.get("said", "")), t=t, kind=str(data.get("intent", "")),
                                 sent=tuple(str(x) for x in sent) if isinstance(sent, list) else (),
                                 lang=str(data.get("lang", ""))))
            continue
        who = "operator" if kind == "reply" else "note"
        entries.append(Entry(who, data.get("text", ""), data.get("by", ""), t, kind, data.get("sid", ""),
                             unsure=bool(data.get("unsure"))))
    return entries


def claimed_by(entries: list[Entry]) -> str:
    """Who holds the hand-off now ('' if nobody): the last claim or unclaim wins."""
    holder = ""
    for e in entries:
        if e.kind == "claim":
            holder = e.by
        elif e.kind == "unclaim":
            holder = ""
    return holder


def keywords_used(entries: list[Entry]) -> list[str]:
    """The intents of the keywords the person used in this hand-off, first use first, once each."""
    return list(dict.fromkeys(e.kind for e in entries if e.who == "keyword"))


# --- replies through Twilio -------------------------------------------------------------------


class ReplyFailed(ActionRefused):
    """A message Twilio did not confirm. ``maybe_sent``: the request may have
    reached Twilio (it timed out, or the connection broke after it was sent),
    so the message may have gone out: never send it again by itself."""

    def __init__(self, message: str, maybe_sent: bool = False):
        super().__init__(message)
        self.maybe_sent = maybe_sent


class TwilioSender:
    """Send a message with Twilio's REST API (the ``twilio`` client).

    ``api_base`` replaces ``https://api.twilio.com`` in every request: tests
    point it at a local HTTP server that records what would have been sent.
    With ``messaging_service_sid`` set Twilio picks the sender; otherwise
    ``from_number`` (with ``whatsapp:`` added for WhatsApp).

    ``deadline``: the longest :meth:`send` waits for Twilio, in all (the
    client's own timeout is per socket operation, so a slow answer could
    take several). The request runs on a thread of its own so that the wait
    ends on time; the caller holds the person's lock for exactly that long
    (:meth:`Desk._send`). Never retried: a POST that may have reached Twilio
    is a message that may have been sent.
    """

    TWILIO_API = "https://api.twilio.com"

    def __init__(self, account_sid: str | None, auth_token: str | None, messaging_service_sid: str | None = None,
                 from_number: str | None = None, api_base: str | None = None, deadline: float = 5.0):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messaging_service_sid = messaging_service_sid
        self.from_number = from_number
        self.api_base = (api_base or self.TWILIO_API).rstrip("/")
        self.deadline = deadline
        self._client = None
        self._pool = None
        self._lock = threading.Lock()

    def problem(self) -> str | None:
        """Why replies cannot be sent, for the console; None when they can."""
        missing = [name for name, value in (("TWILIO_ACCOUNT_SID", self.account_sid),
                                            ("TWILIO_AUTH_TOKEN", self.auth_token)) if not value]
        if not (self.messaging_service_sid or self.from_number):
            missing.append("TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER")
        if missing:
            return "Replies are not set up: the server needs " + ", ".join(missing) + " (see README)."
        return None

    def client(self):
        with self._lock:
            if self._client is None:
                from twilio.http.http_client import TwilioHttpClient
                from twilio.rest import Client

                base, default = self.api_base, self.TWILIO_API

                class _Http(TwilioHttpClient):
                    def request(self, method, url, *args, **kwargs):
                        if url.startswith(default):
                            url = base + url[len(default):]
                        return super().request(method, url, *args, **kwargs)

                # The twilio client logs each request at INFO; ours stay quiet but for problems.
                quiet = logging.getLogger("bot.handoff.twilio")
                quiet.setLevel(logging.WARNING)
                self._client = Client(self.account_sid, self.auth_token,
                                      http_client=_Http(timeout=self.deadline, logger=quiet))
            return self._client

    def _threads(self):
        with self._lock:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="twilio-send")
            return self._pool

    def send(self, to: str, channel: str, body: str, status_callback: str | None = None) -> str:
        """Send ``body`` to ``to``; returns Twilio's message sid. Raises ReplyFailed."""
        problem = self.problem()
        if problem:
            raise ReplyFailed(problem)
        options: dict[str, str] = {"to": to, "body": body}
        if self.messaging_service_sid:
            options["messaging_service_sid"] = self.messaging_service_sid
        else:
            sender = self.from_number
            if channel == "whatsapp" and not sender.startswith("whatsapp:"):
                sender = "whatsapp:" + sender
            options["from_"] = sender
        if status_callback:
            options["status_callback"] = status_callback
        from concurrent.futures import TimeoutError as Late

        from twilio.base.exceptions import TwilioException, TwilioRestException

        client = self.client()
        future = self._threads().submit(client.messages.create, **options)
        try:
            message = future.result(timeout=self.deadline)
        except Late:
            log.warning("Twilio did not answer an outbound message within %.0f s", self.deadline)
            raise ReplyFailed(MAYBE_SENT, maybe_sent=True) from None
        except TwilioRestException as exc:
            # Twilio's text can quote the number: only its code goes to the log and the console.
            log.warning("Twilio refused an outbound message: HTTP %s, error %s", exc.status, exc.code)
            raise ReplyFailed(f"Twilio did not accept the message (error {exc.code or exc.status}). "
                              "Nothing was sent.") from None
        except (TwilioException, OSError) as exc:
            if _never_left(exc):
                log.warning("outbound message not sent: %s", type(exc).__name__)
                raise ReplyFailed("Could not reach Twilio; nothing was sent. Try again in a moment.") from None
            log.warning("outbound message may have been sent: %s", type(exc).__name__)
            raise ReplyFailed(MAYBE_SENT, maybe_sent=True) from None
        return message.sid


MAYBE_SENT = "Twilio did not confirm this message in time: it may have been sent."


def _never_left(exc: BaseException) -> bool:
    """Whether a failed request surely never reached Twilio (no connection was
    made): only then can "nothing was sent" be said."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = exc.args[0] if exc.args else None
        reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
        return isinstance(reason, (NewConnectionError, ConnectTimeoutError))
    return False


# --- the desk: queue and actions -----------------------------------------------------------------


@dataclass
class Waiting:
    """A session in hand-off, as the queue shows it."""

    row: Row
    holder: str  # operator who claimed it, '' if nobody
    texts: int  # texts the person sent since the hand-off
    keywords: list[str] = field(default_factory=list)  # intents of the keywords they used (danger, help ...)


@dataclass
class Conversation:
    row: Row
    entries: list[Entry]
    holder: str
    window_closes: float | None  # WhatsApp: when the 24-hour window closes; None on SMS

    def window_open(self, now: float) -> bool:
        return self.window_closes is None or now < self.window_closes


@dataclass
class _Locked:
    row: Row
    claim: object
    session: Session
    entries: list[Entry] = field(default_factory=list)


class Desk:
    """The hand-off queue and the operators' actions on it."""

    # Held past a send's deadline: time to record what was sent. Under the 8 s
    # a text waits for the lock (LOCK_WAIT), so a SALIR sent meanwhile is
    # answered, after the send.
    SEND_MARGIN = 1.5
    # The operators' time zone (OPS_TIMEZONE): a refusal says when WhatsApp's window closed, in their time.
    zone = "UTC"

    def __init__(self, store: RedisStore, flows: Callable[[], FlowSet], directory: Directory,
                 sender: TwilioSender, lock_wait: float = 8.0, clock: Callable[[], float] = time.time):
        self.store = store
        self.flows = flows
        self.directory = directory
        self.sender = sender
        self.lock_wait = lock_wait
        self.clock = clock

    # --- reading ---

    def queue(self, max_age: float | None = 0) -> list[Waiting]:
        """Sessions in hand-off, the longest waiting first."""
        rows = [r for r in self.directory.waiting(max_age) if r.state == HANDED_OFF]
        if not rows:
            return []
        pipe = self.store.r.pipeline(transaction=False)
        for row in rows:
            pipe.lrange(self.store.key(row.cid, "handoff"), 0, -1)
        waiting = []
        for row, raw in zip(rows, pipe.execute()):
            entries = parse(raw)
            waiting.append(Waiting(row, claimed_by(entries), sum(1 for e in entries if e.who == "person"),
                                   keywords_used(entries)))
        return sorted(waiting, key=lambda w: w.row.t)

    def conversation(self, conv: str) -> Conversation:
        """A hand-off with its transcript (bodies: for the responder who holds it)."""
        row = self._row(conv)
        if row.state != HANDED_OFF:
            raise ActionRefused("This person is no longer waiting for a person.")
        entries = parse(self.store.r.lrange(self.store.key(row.cid, "handoff"), 0, -1))
        closes = row.t + WHATSAPP_WINDOW if row.channel == "whatsapp" else None
        return Conversation(row, entries, claimed_by(entries), closes)

    def _row(self, conv: str) -> Row:
        row = self.directory.find(conv)
        if row is None:
            raise ActionRefused("This conversation has ended: the person erased it, or it expired.")
        return row

    # --- actions ---

    def claim(self, conv: str, operator: str) -> None:
        """Take the hand-off (or take it over from another operator)."""
        with self._locked(conv) as h:
            if claimed_by(h.entries) == operator:
                return
            self._save(h, record("claim", operator, self.clock()), CLAIMED, operator)

    def unclaim(self, conv: str, operator: str) -> None:
        """Put the hand-off back in the queue for another operator."""
        with self._locked(conv) as h:
            self._must_hold(h, operator)
            self._save(h, record("unclaim", operator, self.clock()), UNCLAIMED, operator)

    def reply(self, conv: str, operator: str, text: str, status_callback: str | None = None) -> str:
        """Send ``text`` to the person; returns the message sid.

        Sent while holding the contact's lock (see :meth:`_send`): a SALIR
        that arrives meanwhile waits for it and then erases everything, reply
        included. A reply Twilio did not confirm is recorded as "not
        confirmed" and never sent again by itself.
        """
        text = clean(text)
        if not text:
            raise ActionRefused("Write a reply first.")
        if len(text) > REPLY_LIMIT:
            raise ActionRefused(f"That reply is {len(text)} characters; the most one message can carry is {REPLY_LIMIT}.")
        with self._locked(conv) as h:
            self._must_hold(h, operator)
            now = self.clock()
            if h.session.channel == "whatsapp" and now - h.session.updated_at >= WHATSAPP_WINDOW:
                closed = dt.datetime.fromtimestamp(h.session.updated_at + WHATSAPP_WINDOW, ZoneInfo(self.zone))
                raise ActionRefused(
                    f"WhatsApp's 24-hour window has closed: it closed on {closed:%a %d %b %Y at %H:%M} ({self.zone}), "
                    "24 hours after the person's last message, so WhatsApp will not deliver a reply. Nothing was "
                    "sent, and nothing will be sent to re-open the chat. They can write again at any time; you can "
                    "then answer. You can hand them back to the bot or end the chat."
                )
            try:
                sid = self._send(h, text, status_callback)
            except ReplyFailed as exc:
                if not exc.maybe_sent:
                    raise
                self._record_sent(conv, h, record("reply", operator, now, text=text, unsure="1"), operator)
                raise ReplyFailed(f"{exc} It was not sent again. Check before you send it again (ask whether "
                                  "they got it): it is in the chat above, marked \u201cnot confirmed\u201d.",
                                  maybe_sent=True) from None
            self._record_sent(conv, h, record("reply", operator, now, text=text, sid=sid), operator)
            return sid

    def release(self, conv: str, operator: str) -> None:
        """Hand the person back to the bot: their next text gets the main menu. Sends nothing."""
        with self._locked(conv) as h:
            self._must_hold(h, operator)
            self._back_to_the_bot(h)
            self._end(h, RELEASED, operator)

    def close(self, conv: str, operator: str) -> None:
        """End the chat: their next text starts again at the main menu. Sends nothing."""
        with self._locked(conv) as h:
            self._must_hold(h, operator)
            bind(h.session).send("close")
            self._end(h, CLOSED, operator)

    # --- nobody on duty ---

    def hand_back_everyone(self, still_off: Callable[[], bool] = lambda: True, tried: set[str] | None = None) -> int:
        """Nobody is on duty: everyone in a hand-off, answered or not, gets the
        hand-off's ``unavailable`` text (the hotline numbers, in their
        language) once, through Twilio, and is back with the bot. Returns how
        many were handed back. Stops if someone comes on duty meanwhile.
        ``tried``: conversations not to try again (Twilio refused them a
        moment ago); the ones tried now are added to it.

        Idempotent: each person is handed back under their lock, only if they
        are still in the hand-off, so running it twice (two workers, a second
        look) texts nobody twice.
        """
        self.directory.refresh()
        done = 0
        tried = set() if tried is None else tried
        for waiting in self.queue(max_age=None):
            if waiting.row.conv in tried:
                continue
            if not still_off():
                break
            tried.add(waiting.row.conv)
            try:
                done += self._hand_back(waiting.row.conv)
            except ActionRefused:
                continue  # they left the hand-off meanwhile (SALIR, MENU, a responder)
            except (StoreError, redis.RedisError) as exc:
                log.warning("a waiting person was not handed back: %s", type(exc).__name__)
        return done

    def _hand_back(self, conv: str) -> int:
        with self._locked(conv) as h:
            s = h.session
            fs = self.flows()
            found = handoff_node(fs, s.position)
            if s.channel == "whatsapp" and self.clock() - s.updated_at >= WHATSAPP_WINDOW:
                return 0  # WhatsApp would not deliver it: their next text gets the numbers from the bot
            if found is not None:
                try:
                    self._send(h, fs.translate(s.lang, found[1].unavailable.msgid))
                except ReplyFailed as exc:
                    if not exc.maybe_sent:
                        # Still in the hand-off: their next text gets the numbers from the bot.
                        log.warning("a waiting person could not be sent the numbers; the bot answers their next text")
                        return 0
            self._back_to_the_bot(h)
            try:
                self._end(h, RELEASED, "", by="duty")
            except LockLost:
                # The send outlasted the lock: look again, and only hand them back (never text twice).
                with self._locked(conv) as again:
                    self._back_to_the_bot(again)
                    self._end(again, RELEASED, "", by="duty")
            return 1

    # --- under the contact's lock ---

    @contextlib.contextmanager
    def _locked(self, conv: str) -> Iterator[_Locked]:
        """The hand-off of ``conv`` under its contact's lock, or ActionRefused.

        The lock is always given back at the end (a no-op after a commit,
        which releases it itself: the store compares the lock's token).
        """
        row = self._row(conv)
        claim = self.store.claim(row.cid, None, wait=self.lock_wait)
        try:
            fields = claim.fields or {}
            if fields.get("conv") != conv:
                self.directory.forget(conv)
                raise ActionRefused("This conversation has ended: the person erased it, or it expired.")
            try:
                session = Session.from_fields(fields)
            except SessionFormatError:
                raise ActionRefused("This conversation cannot be read.") from None
            if session.state != HANDED_OFF:
                raise ActionRefused("This person is no longer waiting for a person "
                                    "(they went back to the menu, stopped, or the chat was ended).")
            raw = self.store.r.lrange(self.store.key(row.cid, "handoff"), 0, -1)
            yield _Locked(row, claim, session, parse(raw))
        finally:
            self.store.release(claim)

    def _send(self, h: _Locked, text: str, status_callback: str | None = None) -> str:
        """Send ``text`` to the person of ``h``, holding their lock until Twilio answers or the deadline passes.

        The lock is made to outlast the send's deadline first: the person's
        SALIR then waits until the message has gone (or we stopped waiting),
        and erases it with the rest; it never runs while one is in flight.
        """
        if not self.store.extend(h.claim, int((self.sender.deadline + self.SEND_MARGIN) * 1000)):
            raise LockLost("the lock expired before the message was sent")
        return self.sender.send(h.session.address, h.session.channel, text, status_callback)

    def _record_sent(self, conv: str, h: _Locked, rec: str, operator: str) -> None:
        """Add a reply that was (or may have been) sent to the transcript.

        Should the lock have run out meanwhile (Redis slow to answer), the
        hand-off is looked at again under a new lock: still there, the reply
        goes in; gone (SALIR erased it), nothing of the reply is kept.
        """
        try:
            try:
                self._save(h, rec, OPERATOR_REPLY, operator)
            except LockLost:
                with self._locked(conv) as again:
                    self._save(again, rec, OPERATOR_REPLY, operator)
        except ActionRefused:
            raise ActionRefused("The person left the hand-off (or erased the chat) while your reply was being sent. "
                                "It may have reached them; nothing of it is kept here.") from None
        except (StoreError, redis.RedisError):
            log.error("an operator reply was sent but could not be recorded")
            raise ActionRefused("The reply was sent, but could not be added to this page.") from None

    def _must_hold(self, h: _Locked, operator: str) -> None:
        holder = claimed_by(h.entries)
        if holder != operator:
            raise ActionRefused(f"{holder} is answering this person. Take it over first."
                                if holder else "Claim this hand-off first.")

    def _back_to_the_bot(self, h: _Locked) -> None:
        """Out of the hand-off, at the main menu (not shown): their next text is the bot's again."""
        s = h.session
        bind(s).send("release")
        s.flow, _, s.node = self.flows().system.main_menu.partition(".")
        s.history.clear()
        s.misses = 0

    def _event(self, h: _Locked, kind: str, operator: str, by: str = "operator") -> dict[str, str]:
        s = h.session
        what = {"kind": kind, "by": by, "op": operator} if operator else {"kind": kind, "by": by}
        return ev.turn_entry(s.conv, s.channel, s.lang, s.state, s.position, self.clock(), [what])

    def _save(self, h: _Locked, rec: str, kind: str, operator: str) -> None:
        """Append a record to the hand-off list; the session is saved as it was (its ``t`` kept)."""
        self.store.commit(h.claim, action="save", fields=h.session.to_fields(), replies=[], transcript=[rec],
                          event=self._event(h, kind, operator))

    def _end(self, h: _Locked, kind: str, operator: str, by: str = "operator") -> None:
        """Save the session's new state and delete the transcript: no body outlives the hand-off."""
        # The commit deletes the list (the session leaves the hand-off) in the
        # same script that checks we still hold the lock.
        self.store.commit(h.claim, action="save", fields=h.session.to_fields(), replies=[],
                          event=self._event(h, kind, operator, by))
        self.directory.forget(h.row.conv)


# --- on duty --------------------------------------------------------------------------------------

_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_SPAN_RE = re.compile(r"^\s*([A-Za-z]{3}(?:\s*-\s*[A-Za-z]{3})?(?:\s*,\s*[A-Za-z]{3}(?:\s*-\s*[A-Za-z]{3})?)*)\s+"
                      r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class HoursError(ValueError):
    pass


@dataclass(frozen=True)
class Hours:
    """Staffed hours, e.g. ``Mon-Fri 09:00-17:00; Sat 10:00-14:00``.

    A span that ends at or before it starts runs past midnight
    (``Fri 22:00-06:00`` is Friday night to Saturday morning).

    >>> h = Hours.parse("Mon-Fri 09:00-17:00", "UTC")
    >>> h.within(dt.datetime(2025, 1, 6, 10, 0, tzinfo=dt.timezone.utc))  # a Monday
    True
    >>> h.within(dt.datetime(2025, 1, 5, 10, 0, tzinfo=dt.timezone.utc))  # a Sunday
    False
    """

    spans: tuple[tuple[frozenset[int], int, int], ...]  # (weekdays, start minute, end minute)
    tz: ZoneInfo
    text: str

    @classmethod
    def parse(cls, text: str, tz: str) -> "Hours":
        try:
            zone = ZoneInfo(tz)
        except Exception:  # noqa: BLE001 - ZoneInfoNotFoundError, ValueError for odd names
            raise HoursError(f"OPS_TIMEZONE={tz!r} is not a time zone name like America/Chicago or UTC") from None
        spans = []
        for part in filter(None, (p.strip() for p in text.split(";"))):
            m = _SPAN_RE.match(part)
            if not m:
                raise HoursError(f"HANDOFF_HOURS: {part!r} should look like 'Mon-Fri 09:00-17:00' "
                                 "(spans separated by ';')")
            days: set[int] = set()
            for chunk in m.group(1).split(","):
                ends = [d.strip().lower() for d in chunk.split("-")]
                if any(d not in _DAYS for d in ends):
                    raise HoursError(f"HANDOFF_HOURS: {chunk.strip()!r}: days are Mon Tue Wed Thu Fri Sat Sun")
                a, b = _DAYS.index(ends[0]), _DAYS.index(ends[-1])
                days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
            h1, m1, h2, m2 = (int(g) for g in m.groups()[1:])
            if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59:
                raise HoursError(f"HANDOFF_HOURS: {part!r}: times are HH:MM, 00:00 to 24:00")
            spans.append((frozenset(days), h1 * 60 + m1, h2 * 60 + m2))
        return cls(tuple(spans), zone, text.strip())

    def within(self, when: dt.datetime) -> bool:
        return self.window_end(when) is not None

    def window_end(self, when: dt.datetime) -> dt.datetime | None:
        """When the span ``when`` falls in ends; None if it falls in none."""
        local = when.astimezone(self.tz)
        minute = local.hour * 60 + local.minute
        day = local.weekday()
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        for days, start, end in self.spans:
            if end > start:
                if day in days and start <= minute < end:
                    return midnight + dt.timedelta(minutes=end)
            else:  # past midnight
                if day in days and minute >= start:
                    return midnight + dt.timedelta(days=1, minutes=end)
                if (day - 1) % 7 in days and minute < end:
                    return midnight + dt.timedelta(minutes=end)
        return None


@dataclass(frozen=True)
class DutyState:
    on: bool
    why: str  # "toggle", "hours", "off", "paused" (off during the hours)
    by: str = ""  # a responder on duty (the first of ``who``)
    until: dt.datetime | None = None  # end of the current hours span
    who: tuple[str, ...] = ()  # the responders on duty


class Duty:
    """Whether someone can take a hand-off now, and who.

    Each responder goes on duty for themselves (``p:ops:duty:who``, a sorted
    set of names scored by when their on duty lapses: ``ttl`` seconds after
    their console last renewed it, so a closed laptop leaves nobody waiting
    for nobody). ``p:duty``, which every text reads (``RedisStore.on_duty``),
    is set while anyone is on and lapses with the last of them. Within
    ``hours`` the line is on duty too, unless a responder paused it
    (``p:ops:duty:off``, until the end of the current span).

    ``p:ops:duty:armed`` is set while the line is on duty; whoever finds the
    line off and deletes it (one DEL: one worker wins) hands back everyone
    still waiting (:class:`DutyWatch`).
    """

    def __init__(self, store: RedisStore, hours: Hours | None = None, ttl: int = 120,
                 clock: Callable[[], float] = time.time):
        self.store = store
        self.hours = hours
        self.ttl = ttl
        self.clock = clock
        self.on_key = f"{store.prefix}:duty"
        self.who_key = f"{store.prefix}:ops:duty:who"
        self.off_key = f"{store.prefix}:ops:duty:off"
        self.armed_key = f"{store.prefix}:ops:duty:armed"

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.timezone.utc)

    def state(self) -> DutyState:
        pipe = self.store.r.pipeline(transaction=False)
        pipe.get(self.on_key)
        pipe.exists(self.off_key)
        pipe.zrangebyscore(self.who_key, f"({self.clock()}", "+inf")
        on, paused, who = pipe.execute()
        who = tuple(_s(name) for name in who)
        if on is not None or who:
            return DutyState(True, "toggle", by=who[0] if who else _s(on), who=who)
        end = self.hours.window_end(self._now()) if self.hours else None
        if end is not None:
            return DutyState(False, "paused", until=end) if paused else DutyState(True, "hours", until=end)
        return DutyState(False, "off")

    def is_on(self) -> bool:
        return self.state().on

    def switch(self, on: bool, by: str) -> None:
        """``by`` goes on duty, or off; the line goes off with the last responder on duty."""
        r, now = self.store.r, self.clock()
        if on:
            pipe = r.pipeline(transaction=False)
            pipe.zadd(self.who_key, {by: now + self.ttl})
            pipe.set(self.on_key, by, ex=self.ttl)
            pipe.delete(self.off_key)
            pipe.set(self.armed_key, "1")
            pipe.execute()
            return
        pipe = r.pipeline(transaction=False)
        pipe.zrem(self.who_key, by)
        pipe.zremrangebyscore(self.who_key, "-inf", now)
        pipe.zrange(self.who_key, -1, -1, withscores=True)
        last = pipe.execute()[-1]
        if last:  # others are still on duty: the line stays on, as long as the latest of them
            name, until = last[0]
            r.set(self.on_key, _s(name), px=max(1, int((until - now) * 1000)))
            return
        r.delete(self.on_key)
        end = self.hours.window_end(self._now()) if self.hours else None
        if end is not None:
            seconds = max(1, int((end - self._now()).total_seconds()))
            r.set(self.off_key, by, ex=seconds)

    def renew(self, name: str) -> bool:
        """``name``'s console is open: if they are on duty, keep it alive. Whether they are."""
        r, now = self.store.r, self.clock()
        until = r.zscore(self.who_key, name)
        if until is None or until <= now:
            return False
        pipe = r.pipeline(transaction=False)
        pipe.zadd(self.who_key, {name: now + self.ttl})
        pipe.set(self.on_key, name, ex=self.ttl)
        pipe.set(self.armed_key, "1", nx=True)
        pipe.execute()
        return True

    def arm(self) -> None:
        """The line is on duty: the next time it is found off, everyone waiting is handed back."""
        self.store.r.set(self.armed_key, "1", nx=True)

    def disarm(self) -> bool:
        """Whether this caller is the one to hand back the waiting (the line was on since the last time)."""
        return bool(self.store.r.delete(self.armed_key))


class DutyWatch:
    """Hands back everyone waiting for a person the moment nobody is on duty.

    Duty can end with no request to notice it: on duty lapses when the last
    console closed, the staffed hours end. So each process looks every
    ``tick`` seconds (a thread of its own, started when serving), and the
    console asks for a look at once when a responder goes off duty. Across
    processes one wins (:meth:`Duty.disarm`); it hands back everyone
    (:meth:`Desk.hand_back_everyone`), and looks again ``AGAIN`` seconds
    later: a worker may still have read "on duty" from its two-second cache
    (``services.Cached``) and let one more person into the queue.
    """

    AGAIN = 3.0

    def __init__(self, duty: Duty, desk: Desk, tick: float = 2.0):
        self.duty = duty
        self.desk = desk
        self.tick = tick
        self._stop = threading.Event()
        self._busy = threading.Lock()
        self._thread: threading.Thread | None = None
        self._kicked: list[threading.Thread] = []

    def check(self) -> int:
        """One look; returns how many people were handed back."""
        with self._busy:
            if self.duty.is_on():
                self.duty.arm()
                return 0
            if not self.duty.disarm():
                return 0
            tried: set[str] = set()
            try:
                done = self._hand_back(tried)
            except BaseException:
                self.duty.arm()  # Redis failed us half-way: the next look starts again
                raise
        if not self._stop.wait(self.AGAIN):
            with self._busy:
                done += self._hand_back(tried)
        return done

    def _hand_back(self, tried: set[str]) -> int:
        done = self.desk.hand_back_everyone(still_off=lambda: not self.duty.is_on(), tried=tried)
        if done:
            log.info("nobody on duty: %d waiting %s the hotline numbers", done,
                     "person got" if done == 1 else "people got")
        return done

    def kick(self) -> None:
        """Look now, off the request's thread (sending takes a moment per person)."""
        thread = threading.Thread(target=self._safe_check, name="duty-watch-now", daemon=True)
        self._kicked = [t for t in self._kicked if t.is_alive()] + [thread]
        thread.start()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="duty-watch", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """No more looks (a look under way finishes; one waiting to look again does not)."""
        self._stop.set()

    def join(self, timeout: float = 30.0) -> None:
        """Wait for the looks under way (tests, and a clean shutdown)."""
        for thread in [self._thread, *self._kicked]:
            if thread is not None:
                thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            self._safe_check()

    def _safe_check(self) -> None:
        try:
            self.check()
        except Exception as exc:  # noqa: BLE001 - the watch must outlive a Redis outage
            log.warning("duty watch: %s", type(exc).__name__)
