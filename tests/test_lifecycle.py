"""The session lifecycle chart (python-statemachine).

The whole chart as a table: for every state and every event, where it leads,
or that it is refused with TransitionNotAllowed. The state lives on the bound
session object, not in the machine, and errors raised inside the chart reach
the caller (``catch_errors_as_events`` is off).
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from statemachine.exceptions import TransitionNotAllowed

from bot.engine.lifecycle import STATES, Lifecycle, bind
from bot.engine.session import Session

EVENTS = ("start", "choose_language", "language_chosen", "hand_off", "release", "close", "reopen", "opt_out", "opt_in")

# (state, event) -> the state it leads to. Every pair not listed is refused.
ALLOWED = {
    ("new", "start"): "in_flow",
    ("new", "opt_out"): "opted_out",
    ("in_flow", "choose_language"): "choosing_language",
    ("in_flow", "hand_off"): "handed_off",
    ("in_flow", "close"): "closed",
    ("in_flow", "opt_out"): "opted_out",
    ("choosing_language", "language_chosen"): "in_flow",
    ("choosing_language", "hand_off"): "handed_off",
    ("choosing_language", "close"): "closed",
    ("choosing_language", "opt_out"): "opted_out",
    ("handed_off", "release"): "in_flow",
    ("handed_off", "close"): "closed",
    ("handed_off", "opt_out"): "opted_out",
    ("closed", "reopen"): "in_flow",
    ("closed", "opt_out"): "opted_out",
    ("opted_out", "opt_in"): "in_flow",
}

PAIRS = [(state, event) for state in STATES for event in EVENTS]


def test_the_chart_has_the_states_and_events_of_the_table():
    assert set(STATES) == {"new", "choosing_language", "in_flow", "handed_off", "closed", "opted_out"}
    assert {e.id for e in Lifecycle.events} == set(EVENTS)
    assert Session(cid="c").state == "new" == Lifecycle.initial_state.value


@pytest.mark.parametrize("state, event", PAIRS, ids=[f"{s}-{e}" for s, e in PAIRS])
def test_transition(state, event):
    session = Session(cid="c", state=state)
    expected = ALLOWED.get((state, event))
    if expected is None:
        with pytest.raises(TransitionNotAllowed):
            bind(session).send(event)
        assert session.state == state  # a refused event changes nothing
    else:
        bind(session).send(event)
        assert session.state == expected


def test_only_opt_in_leaves_opted_out():
    # Silence after STOP is a legal promise: no event but opt_in may end it.
    leaving = {event for (state, event) in ALLOWED if state == "opted_out"}
    assert leaving == {"opt_in"}


def test_state_lives_on_the_bound_session():
    session = Session(cid="c")
    bind(session).send("start")
    assert session.state == "in_flow"
    # A new machine bound to the same object (the next turn, after a reload)
    # starts from the session's state: hand_off is only allowed from in_flow.
    bind(session).send("hand_off")
    assert session.state == "handed_off"


def test_a_session_read_back_from_storage_resumes_its_state():
    stored = Session(cid="c", state="closed").to_fields()
    session = Session.from_fields(stored)
    bind(session).send("reopen")
    assert session.state == "in_flow"


def test_machine_follows_the_session_not_a_copy_of_its_own():
    session = Session(cid="c")
    machine = bind(session)
    machine.send("start")
    session.state = "closed"  # e.g. set by the caller between two events
    machine.send("reopen")
    assert session.state == "in_flow"


class _Failing(Lifecycle):
    """The real chart with an action that fails, to see where the error goes."""

    def on_enter_handed_off(self):
        raise RuntimeError("operator queue unavailable")


def test_errors_inside_the_chart_propagate():
    assert Lifecycle.catch_errors_as_events is False
    session = Session(cid="c", state="in_flow")
    with pytest.raises(RuntimeError, match="operator queue unavailable"):
        _Failing(model=session, state_field="state").send("hand_off")
    # Not half-done: the session did not move.
    assert session.state == "in_flow"


def test_unknown_event_is_refused():
    with pytest.raises(TransitionNotAllowed):
        bind(Session(cid="c", state="in_flow")).send("teleport")


def test_turns_of_different_people_in_one_thread_keep_their_own_states():
    # bind() reuses one chart per thread: each turn must still see only its own session.
    first, second = Session(cid="a"), Session(cid="b", state="closed")
    bind(first).send("start")
    with pytest.raises(TransitionNotAllowed):
        bind(second).send("hand_off")  # refused: closed cannot hand off
    bind(second).send("reopen")
    bind(first).send("hand_off")
    assert (first.state, second.state) == ("handed_off", "in_flow")


def test_each_thread_steps_its_own_sessions():
    sessions = [Session(cid=str(n)) for n in range(8)]
    barrier = threading.Barrier(len(sessions))

    def life(session):
        barrier.wait()
        for event in ("start", "hand_off", "release", "close", "reopen", "opt_out", "opt_in"):
            bind(session).send(event)
        return session.state

    with ThreadPoolExecutor(len(sessions)) as pool:
        assert list(pool.map(life, sessions)) == ["in_flow"] * len(sessions)
