"""The session and its persisted shape: one JSON object, versioned.

What goes into Redis must come back equal; what cannot be read (another
version, damage) is refused with SessionFormatError, which the service turns
into a fresh start rather than an error on every text.
"""
from __future__ import annotations

import json

import pytest

from bot.engine.lifecycle import STATES
from bot.engine.session import HISTORY_LIMIT, SCHEMA_VERSION, Session, SessionFormatError

SESSIONS = [
    ("brand new", Session(cid="c0")),
    (
        "mid-flow, Spanish, with answers",
        Session(
            cid="a1b2c3",
            address="+15550001111",
            channel="sms",
            state="in_flow",
            lang="es",
            conv="conv0001",
            flow="numbers",
            node="more",
            history=["main.menu", "numbers.by_need"],
            flags={"debt": "yes", "force": "not_sure", "minor": "no"},
            misses=2,
            started_at=1767225600.0,
            updated_at=1767225660.125,
        ),
    ),
    (
        "WhatsApp hand-off",
        Session(
            cid="x",
            address="whatsapp:+5215512345678",
            channel="whatsapp",
            state="handed_off",
            flow="help",
            node="person",
            started_at=1.5,
            updated_at=2.001,
        ),
    ),
    ("opted out, nothing else kept", Session(cid="y", state="opted_out", conv="k", lang="es")),
    *[(f"state {s}", Session(cid="z", state=s)) for s in STATES],
]


@pytest.mark.parametrize("session", [s for _, s in SESSIONS], ids=[label for label, _ in SESSIONS])
def test_round_trip(session):
    fields = json.loads(json.dumps(session.to_fields()))  # as it comes back from Redis
    assert fields["v"] == str(SCHEMA_VERSION) == "3"
    assert Session.from_fields(fields) == session
    assert Session.from_fields(Session.from_fields(fields).to_fields()) == session


def test_stored_shape_is_short():
    s = dict(SESSIONS)["mid-flow, Spanish, with answers"]
    assert s.to_fields() == {
        "v": "3",
        "cid": "a1b2c3",
        "addr": "+15550001111",
        "ch": "sms",
        "st": "in_flow",
        "lang": "es",
        "conv": "conv0001",
        "flow": "numbers",
        "node": "more",
        "miss": "2",
        "t0": "1767225600",
        "t": "1767225660.125",
        "h": ["main.menu", "numbers.by_need"],
        "f": {"debt": "y", "force": "?", "minor": "n"},
    }


def test_a_schema_2_session_is_refused():
    """Schema 2 (a field per history entry and per flag) lived for twelve
    hours before any release: nothing reads it, and its person starts afresh."""
    schema_2 = {"v": "2", "cid": "a1b2c3", "st": "in_flow", "flow": "numbers", "node": "more", "h0": "main.menu",
                "f.debt": "y"}
    with pytest.raises(SessionFormatError, match="version '2'"):
        Session.from_fields(schema_2)


def test_only_the_last_history_entries_are_kept():
    s = Session(cid="c", history=[f"f.n{i}" for i in range(HISTORY_LIMIT + 5)])
    back = Session.from_fields(s.to_fields())
    assert back.history == s.history[-HISTORY_LIMIT:]


def test_times_are_kept_to_the_millisecond():
    s = Session(cid="c", started_at=1767225600.0004, updated_at=1767225600.1236)
    back = Session.from_fields(s.to_fields())
    assert (back.started_at, back.updated_at) == (1767225600.0, 1767225600.124)


GOOD = Session(cid="c", state="in_flow", flow="main", node="menu").to_fields()

REFUSED = [
    ("a newer version", {**GOOD, "v": str(SCHEMA_VERSION + 1)}),
    ("version 0", {**GOOD, "v": "0"}),
    ("no version", {k: v for k, v in GOOD.items() if k != "v"}),
    ("version not a number", {**GOOD, "v": "one"}),
    ("no contact id", {k: v for k, v in GOOD.items() if k != "cid"}),
    ("misses not a number", {**GOOD, "miss": "many"}),
    ("time not a number", {**GOOD, "t": "yesterday"}),
    ("unknown lifecycle state", {**GOOD, "st": "paused"}),
    ("nothing", {}),
    ("a value that is not text", {**GOOD, "node": 7}),
    ("no address but a list", {**GOOD, "addr": ["+15550001111"]}),
    ("history not a list", {**GOOD, "h": "main.menu"}),
    ("history entry not text", {**GOOD, "h": ["main.menu", None]}),
    ("flags not an object", {**GOOD, "f": ["debt"]}),
    ("flag not text", {**GOOD, "f": {"debt": True}}),
]


@pytest.mark.parametrize("fields", [f for _, f in REFUSED], ids=[label for label, _ in REFUSED])
def test_unreadable_sessions_are_refused(fields):
    with pytest.raises(SessionFormatError):
        Session.from_fields(fields)


def test_copy_is_independent():
    s = dict(SESSIONS)["mid-flow, Spanish, with answers"]
    c = s.copy()
    c.history.append("x.y")
    c.flags["new"] = "yes"
    assert s.history == ["main.menu", "numbers.by_need"]
    assert "new" not in s.flags
    assert c != s


def test_position_names_the_node_or_nothing():
    assert Session(cid="c").position == ""
    assert Session(cid="c", flow="main", node="menu").position == "main.menu"
