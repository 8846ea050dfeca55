"""What an operator does to a session in a hand-off, as engine transitions.

Pure, like :func:`bot.engine.runner.step`: each function takes the session
as it is stored and returns a :class:`~bot.engine.runner.Turn` (the session
as it should be saved, the turn's events, the lines for the hand-off's
transcript) and changes nothing else. The desk (``bot/desk.py``) holds the
person's lock, checks that the operator may act, and commits the turn
through the same path as a text from the person (``Helpline.save``).

* :func:`claim`: an operator takes the hand-off (or takes it over).
* :func:`requeue`: they put it back in the queue for someone else.
* :func:`replied`: a reply of theirs went out (or may have).
* :func:`release`: the person is back with the bot, at the main menu (not
  shown: their next text gets it).
* :func:`close`: the chat ends; a next text starts again at the main menu.
* :func:`hand_back`: nobody is on duty any more; back with the bot, as
  :func:`release`, after the desk sent them the hotline numbers.
* :func:`told_to_wait`: nobody has answered them for too long; the desk sent
  them the hand-off's ``still_waiting`` text (the numbers), and they stay in line.

The transcript records (``claim``, ``unclaim``, ``reply``, ``still_waiting``) and the events
(:data:`~bot.engine.events.CLAIMED` and the others in
:mod:`bot.engine.events`) carry who acted, never what the person wrote.
"""
from __future__ import annotations

from dataclasses import replace

from . import events as ev
from . import transcript
from .lifecycle import bound
from .model import FlowSet
from .runner import Turn, to_main_menu
from .session import Session

# Transcript records an operator's action leaves (read back by the desk).
CLAIM_RECORD = "claim"
REQUEUE_RECORD = "unclaim"
REPLY_RECORD = "reply"
STILL_WAITING_RECORD = "still_waiting"

BY_OPERATOR = "operator"
BY_DUTY = "duty"  # nobody on duty any more: the watch, not an operator, acted


def claim(session: Session, operator: str, now: float, taken_from: str = "") -> Turn:
    """``taken_from``: the responder who was answering (a take-over), recorded so the transcript says so."""
    extra = {"from": taken_from} if taken_from else {}
    return _noted(session, CLAIM_RECORD, operator, now, ev.CLAIMED, **extra)


def transfer(session: Session, operator: str, to: str, now: float, note: str = "") -> Turn:
    """``operator`` hands the chat to ``to``: a claim by ``to``, from ``operator``, with the
    hand-over note (internal: in the transcript only, erased with the hand-off)."""
    extra = {"from": operator, "via": "transfer", **({"note": note} if note else {})}
    turn = _noted(session, CLAIM_RECORD, to, now, ev.CLAIMED, **extra)
    # The event says it was a transfer (never the note): the colleague's console alerts them.
    return replace(turn, events=[ev.Event(ev.CLAIMED, {"by": BY_OPERATOR, "op": to, "via": "transfer"})])


def requeue(session: Session, operator: str, now: float) -> Turn:
    return _noted(session, REQUEUE_RECORD, operator, now, ev.UNCLAIMED)


def replied(session: Session, operator: str, now: float, text: str, sid: str = "", unsure: bool = False) -> Turn:
    """A reply that went out (``sid``: Twilio's) or may have (``unsure``)."""
    extra = {"text": text, "sid": sid} if sid else {"text": text, "unsure": "1"} if unsure else {"text": text}
    return _noted(session, REPLY_RECORD, operator, now, ev.OPERATOR_REPLY, **extra)


def release(session: Session, fs: FlowSet, operator: str, outcome: str = "") -> Turn:
    """``outcome``: the wrap-up's outcome id (flows/console/outcomes.yaml), counted in the figures."""
    return _back_to_the_bot(session, fs, _wrapped({"by": BY_OPERATOR, "op": operator}, outcome))


def hand_back(session: Session, fs: FlowSet) -> Turn:
    return _back_to_the_bot(session, fs, {"by": BY_DUTY})


def told_to_wait(session: Session, now: float, sent: bool = True) -> Turn:
    """The watch sent the ``still_waiting`` text (``sent``), or Twilio refused it: recorded once,
    so it is never sent twice and the responder who answers sees whether they got the numbers."""
    extra = {} if sent else {"failed": "1"}
    return Turn(session=session.copy(), transcript=[transcript.record(STILL_WAITING_RECORD, now, by=BY_DUTY, **extra)])


def close(session: Session, operator: str, outcome: str = "") -> Turn:
    s = session.copy()
    with bound(s) as lifecycle:
        lifecycle.send("close")
    return Turn(session=s, events=[ev.Event(ev.CLOSED, _wrapped({"by": BY_OPERATOR, "op": operator}, outcome))])


def _wrapped(data: dict[str, str], outcome: str) -> dict[str, str]:
    """The event's data with the wrap-up outcome (an id, never the note)."""
    return {**data, "wrapup": outcome} if outcome else data


def _noted(session: Session, kind: str, operator: str, now: float, event: str, **extra: str) -> Turn:
    """The session as it was (its ``t``, the person's last text, kept), and a record of the action."""
    return Turn(session=session.copy(), transcript=[transcript.record(kind, now, by=operator, **extra)],
                events=[ev.Event(event, {"by": BY_OPERATOR, "op": operator})])


def _back_to_the_bot(session: Session, fs: FlowSet, data: dict[str, str]) -> Turn:
    """Out of the hand-off, at the main menu (not shown): their next text is the bot's again."""
    s = session.copy()
    with bound(s) as lifecycle:
        lifecycle.send("release")
    to_main_menu(s, fs)
    s.misses = 0
    return Turn(session=s, events=[ev.Event(ev.RELEASED, data)])
