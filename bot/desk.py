"""The hand-off desk: the queue of people waiting for a person, and what an
operator does about one (claim, put back, reply, hand back to the bot,
close), under the person's lock, exactly as a text from them is handled.

Every action that reads or changes a session opens a turn on the contact
through the store (:meth:`SessionStore.open_turn`, no MessageSid) and ends
it with ``commit``. So an operator's click and the person's texts are
handled one after the other: a SALIR that arrives first erases the session
and the reply is refused; a reply that is being sent when SALIR arrives
finishes first (SALIR waits for the lock, which is made to outlast the
send's deadline), and SALIR then erases it with everything else. "Claim"
means one thing here: an operator taking the hand-off.

What the desk reads comes from :mod:`bot.live_sessions` (who is live, who
waits); replies go out through :mod:`bot.channels.twilio_rest`; when nobody
is on duty any more, :mod:`bot.duty`'s watch asks the desk to hand everyone
back (:meth:`Desk.hand_back_everyone`).

The hand-off transcript. The engine appends the person's texts during a
hand-off to the contact's hand-off list (the commit script writes it under
the lock, and quick exit deletes it), and a marked record when they use a
word the bot answers (EMERGENCY, HELP, a language), with what the bot sent
them. The desk appends its own records to the same list, through the same
commit, so that everything about the hand-off goes with one DEL when the
person texts SALIR: who claimed it, and the operators' replies. Records are
lines of :mod:`bot.engine.transcript`, which no text of the person's can
pass for. Release and close delete the list: after a hand-off, no message
body is kept.

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
import time
from dataclasses import dataclass, field
from typing import Callable, Collection, Iterable, Iterator
from zoneinfo import ZoneInfo

from . import handoff_context
from .channels.twilio_rest import SendFailed, TwilioSender
from .engine import operator as operator_turns
from .engine import transcript
from .engine.model import HANDOFF
from .engine.render import handoff_node
from .engine.runner import Turn
from .engine.session import Session, SessionFormatError
from .engine.text import clean
from .helpline import Helpline
from .live_sessions import LiveSessions, Row
from .store import STORE_DOWN, LockLost, OpenTurn, StoreError

log = logging.getLogger(__name__)

HANDED_OFF = "handed_off"
WHATSAPP_WINDOW = 24 * 3600  # seconds after the person's last text that WhatsApp lets us answer freely
REPLY_LIMIT = 1600  # characters: Twilio's limit for one message


def window_open(channel: str, last_text: float, now: float) -> bool:
    """Whether a message to them now would be delivered: always on SMS; on WhatsApp,
    within 24 hours of their last text (after it, only approved templates)."""
    return channel != "whatsapp" or now - last_text < WHATSAPP_WINDOW


class ActionRefused(Exception):
    """An operator action that cannot be done; the message says why, for the console."""


class ReplyFailed(ActionRefused):
    """A reply Twilio did not confirm. ``maybe_sent``: the request may have
    reached Twilio, so the message may have gone out: never send it again by
    itself. ``refused``: Twilio answered and refused it (see SendFailed)."""

    def __init__(self, message: str, maybe_sent: bool = False, refused: bool = False):
        super().__init__(message)
        self.maybe_sent = maybe_sent
        self.refused = refused


# --- the hand-off transcript ------------------------------------------------------------------


@dataclass(frozen=True)
class TranscriptLine:
    """One line of a hand-off: a text from the person, or a record."""

    who: str  # "person", "operator" (a reply), "keyword" (a word the bot answered) or "note" (a record)
    text: str = ""  # the person's text; a reply; the keyword as they typed it
    by: str = ""
    t: float = 0.0
    kind: str = ""  # a record's kind; for a keyword, its intent (danger, help, switch_language ...)
    sid: str = ""  # an operator reply's Twilio message sid
    sent: tuple[str, ...] = ()  # a keyword: what the bot sent them
    lang: str = ""  # switch_language: the language they chose
    unsure: bool = False  # a reply Twilio did not confirm: it may or may not have been sent
    taken_from: str = ""  # a claim that was a take-over or a transfer: who was answering before
    transferred: bool = False  # a claim made by a colleague's transfer, not by the one now answering
    note: str = ""  # a transfer's hand-over note (internal)
    failed: bool = False  # still_waiting: Twilio refused it, so it was not sent
    near: bool = False  # a text of theirs that warned someone is near ("ya llegó")


def parse(lines: list[str]) -> list[TranscriptLine]:
    entries = []
    for text in lines:
        data = transcript.read(text)
        if data is None:
            entries.append(TranscriptLine("person", text))
            continue
        if not data or data.get("k") == transcript.ASKED:  # asked: when they asked (see asked_at), not a line
            continue
        kind = data.get("k", "")
        t = float(data.get("t", 0) or 0)
        if kind == transcript.SAID:
            entries.append(TranscriptLine("person", str(data.get("text", "")), t=t, near=bool(data.get("near"))))
            continue
        if kind == transcript.KEYWORD:
            sent = data.get("sent") or []
            entries.append(TranscriptLine("keyword", str(data.get("said", "")), t=t, kind=str(data.get("intent", "")),
                                 sent=tuple(str(x) for x in sent) if isinstance(sent, list) else (),
                                 lang=str(data.get("lang", ""))))
            continue
        who = "operator" if kind == operator_turns.REPLY_RECORD else "note"
        entries.append(TranscriptLine(who, data.get("text", ""), data.get("by", ""), t, kind, data.get("sid", ""),
                             unsure=bool(data.get("unsure")), taken_from=str(data.get("from", "")),
                             transferred=data.get("via") == "transfer", note=str(data.get("note", "")),
                             failed=bool(data.get("failed"))))
    return entries


def claimed_by(entries: list[TranscriptLine]) -> str:
    """Who holds the hand-off now ('' if nobody): the last claim or unclaim wins."""
    holder = ""
    for e in entries:
        if e.kind == operator_turns.CLAIM_RECORD:
            holder = e.by
        elif e.kind == operator_turns.REQUEUE_RECORD:
            holder = ""
    return holder


def keywords_used(entries: list[TranscriptLine]) -> list[str]:
    """The intents of the keywords the person used in this hand-off, first use first, once each."""
    return list(dict.fromkeys(e.kind for e in entries if e.who == "keyword"))


def answered(entries: list[TranscriptLine]) -> bool:
    """Whether a responder has replied to them in this hand-off."""
    return any(e.who == "operator" for e in entries)


def someone_near(entries: list[TranscriptLine]) -> bool:
    """Whether the person's last text warned that someone is near ("ya llegó",
    "hes here"): nothing is sent them unasked until they write again."""
    said = [e for e in entries if e.who == "person"]
    return bool(said) and said[-1].near


def told_to_wait(entries: list[TranscriptLine]) -> bool:
    """Whether the watch already sent (or tried to send) them the still_waiting text."""
    return any(e.kind == operator_turns.STILL_WAITING_RECORD for e in entries)


def asked_at(lines: list[str]) -> float | None:
    """When the person asked for a person: the engine's ``asked`` record, the
    transcript's first line (None for a hand-off that began before it was kept)."""
    for text in lines[:1]:
        data = transcript.read(text)
        if data and data.get("k") == transcript.ASKED:
            try:
                return float(data.get("t", 0)) or None
            except (TypeError, ValueError):
                return None
    return None


# --- the desk: queue and actions -----------------------------------------------------------------


@dataclass
class Waiting:
    """A session in hand-off, as the queue shows it."""

    row: Row
    holder: str  # operator who claimed it, '' if nobody
    texts: int  # texts the person sent since the hand-off
    keywords: list[str] = field(default_factory=list)  # intents of the keywords they used (danger, help ...)
    asked: float = 0.0  # when they asked for a person (their last text's time if that was not recorded)
    risks: list[str] = field(default_factory=list)  # why they come first ("Priority: ..."), never their words
    answered: bool = False  # a responder has replied to them in this hand-off
    told_to_wait: bool = False  # they were sent the hand-off's still_waiting text
    near: bool = False  # their last text said someone is near: nothing unasked


@dataclass
class Conversation:
    row: Row
    entries: list[TranscriptLine]
    holder: str
    window_closes: float | None  # WhatsApp: when the 24-hour window closes; None on SMS

    def window_open(self, now: float) -> bool:
        return window_open(self.row.channel, self.row.t, now)


@dataclass
class _Locked:
    row: Row
    opened: OpenTurn  # the contact's lock, and the session it read
    session: Session
    entries: list[TranscriptLine] = field(default_factory=list)


class Desk:
    """The hand-off queue and the operators' actions on it."""

    # Held past a send's deadline: time to record what was sent. Under the 8 s
    # a text waits for the lock (LOCK_WAIT), so a SALIR sent meanwhile is
    # answered, after the send.
    SEND_MARGIN = 1.5
    # The operators' time zone (OPS_TIMEZONE): a refusal says when WhatsApp's window closed, in their time.
    zone = "UTC"

    def __init__(self, helpline: Helpline, live: LiveSessions, sender: TwilioSender, lock_wait: float = 8.0,
                 clock: Callable[[], float] = time.time):
        self.helpline = helpline  # whose save() commits an operator's turn as it commits a text's
        self.store = helpline.store
        self.flows = helpline.flows
        self.live = live
        self.sender = sender
        self.lock_wait = lock_wait
        self.clock = clock

    # --- reading ---

    def queue(self, max_age: float | None = 0) -> list[Waiting]:
        """Sessions in hand-off: people at risk first (the danger word, or a
        screening that ended in a trafficking or child referral), then the
        longest waiting since they asked for a person."""
        rows = [r for r in self.live.waiting(max_age) if r.state == HANDED_OFF]
        if not rows:
            return []
        fs = self.flows()
        waiting = []
        for row, lines in zip(rows, self.store.transcripts.read_many([row.cid for row in rows])):
            entries = parse(lines)
            used = keywords_used(entries)
            # Before the asked record was kept: the oldest time the transcript has, else their last text.
            asked = asked_at(lines) or min((e.t for e in entries if e.t), default=row.t) or row.t
            waiting.append(Waiting(row, claimed_by(entries), sum(1 for e in entries if e.who == "person"), used,
                                   asked, handoff_context.risks(
                                       handoff_context.outcome_of(fs, row.flags, row.history), used, row.flags),
                                   answered=answered(entries), told_to_wait=told_to_wait(entries),
                                   near=someone_near(entries)))
        return sorted(waiting, key=lambda w: (not w.risks, w.asked))

    def conversation(self, conv: str) -> Conversation:
        """A hand-off with its transcript (bodies: for the responder who holds it).

        The session is read again, not taken from the live list's snapshot: a
        person who erased the chat or stopped the messages a moment ago was
        shown as they were (their answers, "Answer this person") for up to
        the snapshot's age."""
        row = self.live.read_again(conv)
        if row is None:
            raise ActionRefused("This conversation has ended: the person erased it, or it expired.")
        if row.state != HANDED_OFF:
            raise ActionRefused("This person is no longer waiting for a person.")
        entries = parse(self.store.transcripts.read(row.cid))
        closes = row.t + WHATSAPP_WINDOW if row.channel == "whatsapp" else None
        return Conversation(row, entries, claimed_by(entries), closes)

    def _row(self, conv: str) -> Row:
        row = self.live.find(conv)
        if row is None:
            raise ActionRefused("This conversation has ended: the person erased it, or it expired.")
        return row

    # --- actions ---

    def claim(self, conv: str, operator: str, seen_holder: str | None = None) -> None:
        """Take the hand-off (or take it over from another operator).

        ``seen_holder``: who the operator's page showed answering ('' for nobody,
        an Answer button). When someone else took it since, it is theirs: two
        operators pressing Answer a moment apart made the second one take over
        from the first without being asked. None (a caller that does not say)
        takes it whoever holds it."""
        with self._locked(conv) as h:
            holder = claimed_by(h.entries)
            if holder == operator:
                return
            if seen_holder is not None and holder and holder != seen_holder:
                raise ActionRefused(f"{holder} is already answering this person. To take over from them, "
                                    "open the chat and choose Take over.")
            self._commit(h, operator_turns.claim(h.session, operator, self.clock(), taken_from=holder))

    def unclaim(self, conv: str, operator: str) -> None:
        """Put the hand-off back in the queue for another operator."""
        with self._locked(conv) as h:
            self._must_hold(h, operator)
            self._commit(h, operator_turns.requeue(h.session, operator, self.clock()))

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
            if not window_open(h.session.channel, h.session.updated_at, now):
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
                self._record_sent(conv, h, operator, now, text=text, unsure=True)
                raise ReplyFailed(f"{exc} It was not sent again. Check before you send it again (ask whether "
                                  "they got it): it is in the chat above, marked \u201cnot confirmed\u201d.",
                                  maybe_sent=True) from None
            self._record_sent(conv, h, operator, now, text=text, sid=sid)
            return sid

    def transfer(self, conv: str, operator: str, to: str, note: str = "", online: tuple[str, ...] = ()) -> None:
        """Hand the chat ``operator`` holds to the colleague ``to``, who must be
        ``online`` (on the console now, and able to respond: the caller checks
        the role), with an internal hand-over note they see in the chat."""
        note = clean(note)
        if to == operator:
            raise ActionRefused("You are already answering this person.")
        if to not in online:
            raise ActionRefused(f"{to or 'That colleague'} is not on the console now. Pick someone who is online.")
        if len(note) > self.NOTE_LIMIT:
            raise ActionRefused(f"That note is {len(note)} characters; keep it under {self.NOTE_LIMIT}.")
        with self._locked(conv) as h:
            self._must_hold(h, operator)
            self._commit(h, operator_turns.transfer(h.session, operator, to, self.clock(), note))

    def unclaim_all(self, operator: str) -> int:
        """Put back in the queue every hand-off ``operator`` holds (they signed
        out, or went off duty): no card says they are answering with nobody
        there. Returns how many."""
        return self._requeue_held(lambda holder: holder == operator)

    def requeue_unattended(self, present: Collection[str]) -> int:
        """Put back in the queue every hand-off held by someone whose console is
        closed (not ``present``: a laptop shut, a browser gone, without signing
        out). Colleagues on duty see them waiting again, counted and alerted;
        a card saying "rita is answering" kept them from looking while the
        person texted into silence. Returns how many."""
        return self._requeue_held(lambda holder: holder not in present)

    def _requeue_held(self, whose: Callable[[str], bool]) -> int:
        done = 0
        for waiting in self.queue(max_age=None):
            if not waiting.holder or not whose(waiting.holder):
                continue
            try:
                self.unclaim(waiting.row.conv, waiting.holder)
                done += 1
            except ActionRefused:
                continue  # taken over or ended meanwhile
            except (StoreError, *STORE_DOWN) as exc:
                log.warning("a hand-off was not put back in the queue: %s", type(exc).__name__)
        return done

    def release(self, conv: str, operator: str, outcome: str = "", note: str = "") -> None:
        """Hand the person back to the bot: their next text gets the main menu. Sends nothing.
        ``outcome``, ``note``: the wrap-up (see :meth:`_wrap_up`)."""
        with self._locked(conv) as h:
            self._must_hold(h, operator)
            self._wrap_up(h, operator, outcome, note)
            self._commit(h, operator_turns.release(h.session, self.flows(), operator, outcome))

    def close(self, conv: str, operator: str, outcome: str = "", note: str = "") -> None:
        """End the chat: their next text starts again at the main menu. Sends nothing."""
        with self._locked(conv) as h:
            self._must_hold(h, operator)
            self._wrap_up(h, operator, outcome, note)
            self._commit(h, operator_turns.close(h.session, operator, outcome))

    NOTE_LIMIT = 1000  # characters of a wrap-up note

    def _wrap_up(self, h: _Locked, operator: str, outcome: str, note: str) -> None:
        """Keep the responder's internal note (if any) for the next responder of
        this person, under their lock and before the commit: a SALIR that comes
        after erases it with the session. Never sent; only the outcome id goes
        in the event (and so in the figures)."""
        note = clean(note)
        if len(note) > self.NOTE_LIMIT:
            raise ActionRefused(f"That note is {len(note)} characters; keep it under {self.NOTE_LIMIT}.")
        if note:
            self.store.notes.write(h.opened, {"by": operator, "t": f"{self.clock():.0f}", "outcome": outcome,
                                               "text": note})

    def last_note(self, conv: str) -> dict[str, str] | None:
        """The internal note a responder left when this person's last chat ended, if any."""
        return self.store.notes.read(self._row(conv).cid)

    # --- nobody on duty ---

    def hand_back_everyone(self, still_off: Callable[[], bool] = lambda: True, tried: set[str] | None = None) -> int:
        """Nobody is on duty: everyone in a hand-off, answered or not, gets the
        hand-off's ``unavailable`` text (the hotline numbers, in their
        language) once, through Twilio, and is back with the bot. Returns how
        many were handed back. Stops if someone comes on duty meanwhile. One
        whose last text said someone is near is sent nothing unasked: they stay
        in the hand-off, and their next text gets the numbers from the bot.
        ``tried``: conversations not to try again (Twilio refused them a
        moment ago); the ones tried now are added to it.

        Idempotent: each person is handed back under their lock, only if they
        are still in the hand-off, so running it twice (two workers, a second
        look) texts nobody twice.
        """
        self.live.refresh()
        tried = set() if tried is None else tried

        def still_to_try() -> Iterator[str]:
            for waiting in self.queue(max_age=None):
                if waiting.row.conv in tried:
                    continue
                if not still_off():
                    return
                tried.add(waiting.row.conv)
                yield waiting.row.conv

        return self._each(still_to_try(), self._hand_back, "a waiting person was not handed back")

    def _hand_back(self, conv: str) -> int:
        with self._locked(conv) as h:
            s = h.session
            fs = self.flows()
            found = handoff_node(fs, s.position)
            if not self._may_send_unasked(h):
                return 0  # still in the hand-off: their next text gets the numbers from the bot
            if found is not None:
                try:
                    self._send(h, fs.translate(s.lang, found[1].unavailable.msgid))
                except ReplyFailed as exc:
                    if not exc.maybe_sent:
                        # Still in the hand-off: their next text gets the numbers from the bot.
                        log.warning("a waiting person could not be sent the numbers; the bot answers their next text")
                        return 0
            try:
                self._commit(h, operator_turns.hand_back(s, fs))
            except LockLost:
                # The send outlasted the lock: look again, and only hand them back (never text twice).
                with self._locked(conv) as again:
                    self._commit(again, operator_turns.hand_back(again.session, fs))
            return 1

    # --- waiting too long ---

    def tell_long_waits(self, after: float, still_on: Callable[[], bool] = lambda: True) -> int:
        """Everyone nobody has answered since they asked for a person ``after``
        seconds ago or more gets the hand-off's ``still_waiting`` text (nobody
        is free yet, the hotline numbers) once, through Twilio, and stays in
        line. Returns how many were sent it.

        Like :meth:`hand_back_everyone`, each is looked at again under their
        lock, so two workers looking at once text nobody twice. Stops if duty
        ends meanwhile (``still_on``): they get the numbers from the hand-back.
        """
        if self.sender.problem() or not any(n.still_waiting for f in self.flows().flows.values() for n in f.nodes
                                            if n.kind == HANDOFF):
            return 0  # replies not set up, or flows with no such text: nothing to send, no lock to take
        now = self.clock()
        due = (w.row.conv for w in self.queue(max_age=0)
               if not (w.holder or w.answered or w.told_to_wait or w.near or now - w.asked < after
                       or not window_open(w.row.channel, w.row.t, now)))
        return self._each(due, self._tell_to_wait, "a person waiting too long was not sent the numbers", still_on)

    def _tell_to_wait(self, conv: str) -> int:
        with self._locked(conv) as h:
            s = h.session
            if claimed_by(h.entries) or told_to_wait(h.entries) or answered(h.entries):
                return 0  # a responder took them, or another worker told them, since the queue was read
            fs = self.flows()
            found = handoff_node(fs, s.position)
            if found is None or found[1].still_waiting is None or not self._may_send_unasked(h):
                return 0  # looked at again at the next look (after their next text, if someone was near)
            try:
                self._send(h, fs.translate(s.lang, found[1].still_waiting.msgid))
                sent = True
            except ReplyFailed as exc:
                if not (exc.refused or exc.maybe_sent):
                    log.warning("a person waiting too long was not sent the numbers: Twilio could not be reached")
                    return 0  # nothing went out and nothing is recorded: the next look tries again
                # Refused (an opted-out number): recorded, never tried again. Maybe sent: recorded as sent.
                sent = exc.maybe_sent
                log.warning("a person waiting too long could not be sent the numbers")
            try:
                self._commit(h, operator_turns.told_to_wait(s, self.clock(), sent=sent))
            except LockLost:
                with self._locked(conv) as again:
                    if not told_to_wait(again.entries):
                        self._commit(again, operator_turns.told_to_wait(again.session, self.clock(), sent=sent))
            return 1 if sent else 0

    def _each(self, convs: Iterable[str], act: Callable[[str], int], failed: str,
              go_on: Callable[[], bool] = lambda: True) -> int:
        """``act`` on each conversation in turn, while ``go_on()``; one who left the
        hand-off meanwhile (SALIR, MENU, a responder), or a Redis failure, does
        not stop the others."""
        done = 0
        for conv in convs:
            if not go_on():
                break
            try:
                done += act(conv)
            except ActionRefused:
                continue
            except (StoreError, *STORE_DOWN) as exc:
                log.warning("%s: %s", failed, type(exc).__name__)
        return done

    def _may_send_unasked(self, h: _Locked) -> bool:
        """Whether a message they did not ask for may go to them now: WhatsApp would
        deliver it (within 24 hours of their last text), and their last text did
        not say someone is near ("ya llegó": the bot says nothing unasked then)."""
        s = h.session
        return window_open(s.channel, s.updated_at, self.clock()) and not someone_near(h.entries)

    # --- under the contact's lock ---

    @contextlib.contextmanager
    def _locked(self, conv: str) -> Iterator[_Locked]:
        """The hand-off of ``conv`` under its contact's lock, or ActionRefused.

        The lock is always given back at the end (a no-op after a commit,
        which releases it itself: the store compares the lock's token).
        """
        row = self._row(conv)
        self.helpline.do_what_was_spooled(row.cid)  # a quick exit asked for while Redis was down ends the hand-off first
        opened = self.store.open_turn(row.cid, None, wait=self.lock_wait)
        try:
            fields = opened.fields or {}
            if fields.get("conv") != conv:
                self.live.forget(conv)
                raise ActionRefused("This conversation has ended: the person erased it, or it expired.")
            try:
                session = Session.from_fields(fields)
            except SessionFormatError:
                raise ActionRefused("This conversation cannot be read.") from None
            if session.state != HANDED_OFF:
                raise ActionRefused("This person is no longer waiting for a person "
                                    "(they went back to the menu, stopped, or the chat was ended).")
            yield _Locked(row, opened, session, parse(self.store.transcripts.read(row.cid)))
        finally:
            self.store.release(opened)

    def _send(self, h: _Locked, text: str, status_callback: str | None = None) -> str:
        """Send ``text`` to the person of ``h``, holding their lock until Twilio answers or the deadline passes.

        The lock is made to outlast the send's deadline first: the person's
        SALIR then waits until the message has gone (or we stopped waiting),
        and erases it with the rest; it never runs while one is in flight.
        """
        if not self.store.extend(h.opened, int((self.sender.deadline + self.SEND_MARGIN) * 1000)):
            raise LockLost("the lock expired before the message was sent")
        try:
            sid = self.sender.send(h.session.address, h.session.channel, text, status_callback)
        except SendFailed as exc:
            raise ReplyFailed(str(exc), maybe_sent=exc.maybe_sent, refused=exc.refused) from None
        # Kept with the conversation now, not at its status callback: a SALIR waiting
        # for this lock erases first, and its quick exit must delete this one at Twilio too.
        try:
            self.store.remember_sid(h.session.cid, sid)
        except (StoreError, *STORE_DOWN) as exc:
            log.warning("a sent message's sid was not kept for a quick exit: %s", type(exc).__name__)
        return sid

    def _record_sent(self, conv: str, h: _Locked, operator: str, now: float, **reply) -> None:
        """Add a reply that was (or may have been) sent to the transcript.

        Should the lock have run out meanwhile (Redis slow to answer), the
        hand-off is looked at again under a new lock: still there, the reply
        goes in; gone (SALIR erased it), nothing of the reply is kept.
        """
        try:
            try:
                self._commit(h, operator_turns.replied(h.session, operator, now, **reply))
            except LockLost:
                with self._locked(conv) as again:
                    self._commit(again, operator_turns.replied(again.session, operator, now, **reply))
        except ActionRefused:
            raise ActionRefused("The person left the hand-off (or erased the chat) while your reply was being sent. "
                                "It may have reached them; nothing of it is kept here.") from None
        except (StoreError, *STORE_DOWN):
            log.error("an operator reply was sent but could not be recorded")
            raise ActionRefused("The reply was sent, but could not be added to this page.") from None

    def _must_hold(self, h: _Locked, operator: str) -> None:
        holder = claimed_by(h.entries)
        if holder != operator:
            raise ActionRefused(f"{holder} is answering this person. Take it over first."
                                if holder else "Claim this hand-off first.")

    def _commit(self, h: _Locked, turn: Turn) -> None:
        """Save an operator's turn as a text's is saved. A turn that takes the
        person out of the hand-off also deletes its transcript, in the same
        script that checks we still hold the lock: no body outlives the hand-off."""
        self.helpline.save(h.opened, turn, turn.session.channel, self.clock())
        if turn.session.state != HANDED_OFF:
            self.live.forget(h.row.conv)
