"""The session and its persisted shape: a flat hash of short strings, versioned.

What goes into Redis must come back equal, every field a string; what cannot
be read (another version, damage) is refused with SessionFormatError, which
the service turns into a fresh start rather than an error on every text.
"""
from __future__ import annotations

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
    fields = session.to_fields()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items()), fields
    assert fields["v"] == str(SCHEMA_VERSION)
    assert Session.from_fields(fields) == session
    assert Session.from_fields(Session.from_fields(fields).to_fields()) == session


def test_stored_shape_is_short_and_flat():
    s = dict(SESSIONS)["mid-flow, Spanish, with answers"]
    assert s.to_fields() == {
        "v": "2",
        "cid": "a1b2c3",
        "addr": "+15550001111",
        "ch": "sms",
        "st": "in_flow",
        "lang": "es",
        "conv": "conv0001",
        "flow": "numbers",
        "node": "more",
        "h0": "main.menu",
        "h1": "numbers.by_need",
        "f.debt": "y",
        "f.force": "?",
        "f.minor": "n",
        "miss": "2",
        "t0": "1767225600",
        "t": "1767225660.125",
    }


def test_every_stored_value_fits_redis_compact_hash_encoding():
    """Redis keeps a hash in its compact listpack form only while every value
    is at most 64 bytes (hash-max-listpack-value); one longer value makes it a
    hashtable, about three times the memory per session."""
    s = Session(
        cid="0123456789abcdef0123",
        address="whatsapp:+521551234567890",
        state="in_flow",
        conv="abcdef012345",
        flow="screening",
        node="held_for_ransom",
        history=[f"screening.question_number_{i}" for i in range(HISTORY_LIMIT + 3)],
        flags={f"flag_{i}": "not_sure" for i in range(12)},
        started_at=1767225600.123,
        updated_at=1767225600.456,
    )
    assert max(len(v.encode()) for v in s.to_fields().values()) <= 64


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
    ("empty hash", {}),
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
