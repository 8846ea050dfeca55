"""One person's conversation, and its persisted shape.

The session is the only state the bot keeps about a person. It holds what
routing needs and nothing more: where they are, their language, the answers
to screening questions (which expire with the session, and vanish at once on
quick exit), and the address to reply to. It is stored as one compact JSON
object (see bot/store/sessions.py); :meth:`Session.to_fields` and
:meth:`Session.from_fields` are that shape, versioned by ``v``.

>>> s = Session(cid="c1", address="+15550001111", channel="sms")
>>> s.flags["debt"] = "yes"
>>> Session.from_fields(s.to_fields()) == s
True
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .lifecycle import STATES

# 3: one JSON value, history a list and flags an object ("h", "f"). 2 (a
# Redis hash with a field per history entry and per flag) and 1 lived for
# hours on 2026-11-22, before any release: no deployment holds one.
SCHEMA_VERSION = 3
_V = str(SCHEMA_VERSION)
_ANSWER_CODES = {"yes": "y", "no": "n", "not_sure": "?"}
_ANSWERS_BY_CODE = {code: answer for answer, code in _ANSWER_CODES.items()}
HISTORY_LIMIT = 10  # how many questions BACK can walk back through


class SessionFormatError(ValueError):
    """A stored session this code cannot read (newer version, damaged)."""


@dataclass
class Session:
    cid: str  # pseudonymous contact id (HMAC of the address)
    address: str = ""  # where replies go; never logged, never in events
    channel: str = "sms"  # "sms" or "whatsapp"
    state: str = "new"  # lifecycle state, see lifecycle.py
    lang: str = "en"
    conv: str = ""  # random id of this conversation, for events
    flow: str = ""
    node: str = ""
    history: list[str] = field(default_factory=list)  # qualified nodes, newest last
    flags: dict[str, str] = field(default_factory=dict)  # flag -> yes/no/not_sure
    misses: int = 0  # unrecognised replies in a row at the current node
    started_at: float = 0.0
    updated_at: float = 0.0

    @property
    def position(self) -> str:
        return f"{self.flow}.{self.node}" if self.flow else ""

    def copy(self) -> "Session":
        """An independent copy (the containers are the only mutable fields).

        Field by field rather than ``dataclasses.replace``, which goes through
        ``__init__`` by keyword: a tenth of a turn in the engine.
        """
        new = object.__new__(Session)
        new.__dict__.update(self.__dict__)
        new.history = list(self.history)
        new.flags = dict(self.flags)
        return new

    def to_fields(self) -> dict:
        """The mapping stored, as JSON: text values, but the history (``h``,
        oldest first) and the flags (``f``: flag -> ``y`` / ``n`` / ``?``)."""
        return {
            "v": _V,
            "cid": self.cid,
            "addr": self.address,
            "ch": self.channel,
            "st": self.state,
            "lang": self.lang,
            "conv": self.conv,
            "flow": self.flow,
            "node": self.node,
            "miss": str(self.misses),
            "t0": _fmt_time(self.started_at),
            "t": _fmt_time(self.updated_at),
            "h": self.history[-HISTORY_LIMIT:],
            "f": {name: _ANSWER_CODES.get(answer, answer) for name, answer in sorted(self.flags.items())},
        }

    @classmethod
    def from_fields(cls, fields: dict) -> "Session":
        """Read a stored session back; raises SessionFormatError if unreadable."""
        try:
            version = fields.get("v")
            if version != _V:
                raise SessionFormatError(f"session version {version!r}, expected {_V!r}")
            history, flags = fields.get("h", []), fields.get("f", {})
            if type(history) is not list or type(flags) is not dict:
                raise SessionFormatError("history or flags of the wrong type")
            "".join(history), "".join(flags.values())  # TypeError unless all text
            history = history[-HISTORY_LIMIT:]
            flags = {name: _ANSWERS_BY_CODE.get(value, value) for name, value in flags.items()}
            "".join(map(fields.get, _TEXT, _BLANK))  # TypeError if a value is not text (damage)
            state = fields.get("st", "new")
            if state not in STATES:
                # The lifecycle chart cannot bind to it, so every text would fail.
                raise SessionFormatError(f"unknown lifecycle state {state!r}")
            return cls(
                cid=fields["cid"],
                address=fields.get("addr", ""),
                channel=fields.get("ch", "sms"),
                state=state,
                lang=fields.get("lang", "en"),
                conv=fields.get("conv", ""),
                flow=fields.get("flow", ""),
                node=fields.get("node", ""),
                history=history,
                flags=flags,
                misses=int(fields.get("miss", "0")),
                started_at=float(fields.get("t0", "0")),
                updated_at=float(fields.get("t", "0")),
            )
        except (KeyError, ValueError, TypeError) as exc:
            if isinstance(exc, SessionFormatError):
                raise
            raise SessionFormatError(f"unreadable session: {exc!r}") from None


# The values that are text (history and flags aside): anything else is damage.
_TEXT = ("cid", "addr", "ch", "st", "lang", "conv", "flow", "node", "miss", "t0", "t")
_BLANK = ("",) * len(_TEXT)


def _fmt_time(t: float) -> str:
    # Whole milliseconds: enough for ordering, short in Redis.
    return f"{t:.3f}".rstrip("0").rstrip(".") if t else "0"
