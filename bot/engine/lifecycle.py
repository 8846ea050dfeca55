"""The session lifecycle, as a python-statemachine StateChart.

The flow graph (which question comes next) is data walked by the runner;
this chart is the small, fixed life of a conversation around it::

    new --start--> in_flow <--language_chosen-- choosing_language
                   in_flow --choose_language--> choosing_language
                   in_flow --hand_off--> handed_off --release--> in_flow
       in_flow / handed_off --close--> closed --reopen--> in_flow
       (any but opted_out) --opt_out--> opted_out --opt_in--> in_flow

The machine is bound to the :class:`~bot.engine.session.Session` object
(``model=session``, ``state_field="state"``), so the state lives in the
session and is persisted with it once, after the turn. Errors propagate
(``catch_errors_as_events = False``) and an event the current state does not
allow raises ``TransitionNotAllowed``: a lifecycle mistake is a bug to see,
not something to swallow.

>>> from bot.engine.session import Session
>>> s = Session(cid="c")
>>> Lifecycle(model=s, state_field="state").send("start")
>>> s.state
'in_flow'
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from statemachine import State, StateChart


class Lifecycle(StateChart):
    catch_errors_as_events = False
    atomic_configuration_update = True
    allow_event_without_transition = False
    enable_self_transition_entries = False

    new = State(initial=True)
    choosing_language = State()
    in_flow = State()
    handed_off = State()
    closed = State()
    opted_out = State()

    start = new.to(in_flow)
    choose_language = in_flow.to(choosing_language)
    language_chosen = choosing_language.to(in_flow)
    hand_off = in_flow.to(handed_off) | choosing_language.to(handed_off)
    release = handed_off.to(in_flow)
    close = in_flow.to(closed) | handed_off.to(closed) | choosing_language.to(closed)
    reopen = closed.to(in_flow)
    opt_out = (
        new.to(opted_out)
        | choosing_language.to(opted_out)
        | in_flow.to(opted_out)
        | handed_off.to(opted_out)
        | closed.to(opted_out)
    )
    opt_in = opted_out.to(in_flow)


STATES = tuple(s.value for s in Lifecycle.states_map.values())


class _Current:
    """The model a thread's chart is bound to: it reads and writes the state
    of whichever session the thread is stepping now."""

    __slots__ = ("session",)

    def __init__(self, session):
        self.session = session

    @property
    def state(self) -> str:
        return self.session.state

    @state.setter
    def state(self, value: str) -> None:
        self.session.state = value


_threads = threading.local()


def bind(session) -> Lifecycle:
    """The lifecycle chart, with its state in ``session.state``.

    Building a StateChart resolves every callback name against the chart and
    its model, which costs more than the event itself (BENCHMARKS.md, "What
    was cut"). The chart keeps nothing of its own between events
    (its configuration is read from the model each time, and a refused event
    leaves it as it was), so each thread builds one and points it at the
    session it is stepping. Valid until the thread's next ``bind``: a turn
    binds once and is done with it before the next.
    """
    current = getattr(_threads, "current", None)
    if current is None:
        current = _Current(session)
        _threads.chart = Lifecycle(model=current, state_field="state")
        _threads.current = current
    else:
        current.session = session
    return _threads.chart


def unbind() -> None:
    """Let go of the session the thread's chart points at: a turn is over, and
    what it held (the person's number, an erased conversation) must not stay in
    the thread until its next turn."""
    current = getattr(_threads, "current", None)
    if current is not None:
        current.session = None


@contextmanager
def bound(session) -> Iterator[Lifecycle]:
    """:func:`bind` for one event or one turn, then :func:`unbind`."""
    try:
        yield bind(session)
    finally:
        unbind()
