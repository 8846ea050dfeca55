"""An operator's actions as engine transitions (bot/engine/operator.py): pure,
one table row per action, with the session before and what the turn says."""
from __future__ import annotations

from pathlib import Path

import pytest
from statemachine.exceptions import TransitionNotAllowed

from bot.engine import events as ev
from bot.engine import operator as op
from bot.engine import transcript
from bot.engine.runner import SAVE
from bot.engine.session import Session
from bot.published_flows import load

REPO = Path(__file__).resolve().parents[1]
FS, _ = load(str(REPO / "flows"), str(REPO / "locales"))
T = 1767225600.0


def waiting() -> Session:
    return Session(cid="c1", address="+15550001111", state="handed_off", lang="es", conv="conv1", flow="handoff",
                   node="ask", history=["main.menu"], misses=2, started_at=T - 60, updated_at=T - 30)


@pytest.mark.parametrize("action, kind, record, state", [
    (lambda s: op.claim(s, "rita", T), ev.CLAIMED, op.CLAIM_RECORD, "handed_off"),
    (lambda s: op.requeue(s, "rita", T), ev.UNCLAIMED, op.REQUEUE_RECORD, "handed_off"),
    (lambda s: op.replied(s, "rita", T, "hola", sid="SM1"), ev.OPERATOR_REPLY, op.REPLY_RECORD, "handed_off"),
    (lambda s: op.release(s, FS, "rita"), ev.RELEASED, None, "in_flow"),
    (lambda s: op.close(s, "rita"), ev.CLOSED, None, "closed"),
])
def test_each_action_is_one_turn_with_its_event_and_record(action, kind, record, state):
    before = waiting()
    turn = action(before)
    assert before == waiting(), "the session given is not changed"
    assert turn.action == SAVE and turn.replies == [] and turn.session.state == state
    assert [e.as_fields() for e in turn.events] == [{"kind": kind, "by": "operator", "op": "rita"}]
    assert turn.session.updated_at == before.updated_at, "t stays the person's last text"
    lines = [transcript.read(line) for line in turn.transcript]
    assert [line["k"] for line in lines] == ([record] if record else [])
    if record:
        assert lines[0]["by"] == "rita" and lines[0]["t"] == T


def test_a_reply_that_may_have_been_sent_is_recorded_as_unsure():
    [line] = op.replied(waiting(), "rita", T, "hola", unsure=True).transcript
    assert transcript.read(line) == {"k": "reply", "t": T, "by": "rita", "text": "hola", "unsure": "1"}


def test_back_to_the_bot_is_at_the_main_menu_not_shown_with_nothing_to_go_back_to():
    for turn, by in ((op.release(waiting(), FS, "rita"), {"by": "operator", "op": "rita"}),
                     (op.hand_back(waiting(), FS), {"by": "duty"})):
        s = turn.session
        assert s.position == FS.system.main_menu and s.history == [] and s.misses == 0
        assert turn.replies == [] and [e.as_fields() for e in turn.events] == [{"kind": ev.RELEASED, **by}]


def test_an_action_the_lifecycle_does_not_allow_is_a_bug_not_a_silent_change():
    with pytest.raises(TransitionNotAllowed):
        op.release(Session(cid="c1", state="in_flow"), FS, "rita")
