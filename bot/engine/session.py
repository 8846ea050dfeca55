"""One person's conversation, and its persisted shape.

The session is the only state the bot keeps about a person. It holds what
routing needs and nothing more: where they are, their language, the answers
to screening questions (which expire with the session, and vanish at once on
quick exit), and the address to reply to. It is stored as a flat Redis hash
of short strings; :meth:`Session.to_fields` and :meth:`Session.from_fields`
are that shape, versioned by ``v``.

>>> s = Session(cid="c1", address="+15550001111", channel="sms")
>>> s.flags["debt"] = "yes"
>>> Session.from_fields(s.to_fields()) == s
True
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .lifecycle import STATES

SCHEMA_VERSION = 2  # 2: one field per history entry and per flag (1 joined them)
_ANSWER_CODES = {"yes": "y", "no": "n", "not_sure": "?"}
_ANSWERS_BY_CODE = {code: answer for answer, code in _ANSWER_CODES.items()}
HISTORY_LIMIT = 10  # how many questions BACK can walk back through
_HISTORY_INDEX = {f"h{i}": i for i in range(HISTORY_LIMIT)}  # field name -> position


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

    def to_fields(self) -> dict[str, str]:
        """The flat string mapping stored as a Redis hash.

        Every value stays short (well under Redis's 64-byte listpack limit),
        so the hash keeps its compact encoding: one field per history entry
        (``h0`` oldest) and per flag (``f.debt`` -> ``y`` / ``n`` / ``?``).
        One long value would make Redis store the whole hash as a hashtable,
        about three times the memory.
        """
        fields = {
            "v": str(SCHEMA_VERSION),
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
        }
        for i, entry in enumerate(self.history[-HISTORY_LIMIT:]):
            fields[f"h{i}"] = entry
        for name, answer in sorted(self.flags.items()):
            fields[f"f.{name}"] = _ANSWER_CODES.get(answer, answer)
        return fields

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> "Session":
        """Read a stored hash back; raises SessionFormatError if unreadable."""
        try:
            version = int(fields.get("v", "0"))
            if version != SCHEMA_VERSION:
                raise SessionFormatError(f"session version {version}, expected {SCHEMA_VERSION}")
            state = fields.get("st", "new")
            if state not in STATES:
                # The lifecycle chart cannot bind to it, so every text would fail.
                raise SessionFormatError(f"unknown lifecycle state {state!r}")
            flags = {}
            history = []
            for name, value in fields.items():  # one pass: this runs on every text
                if name[:2] == "f.":
                    flags[name[2:]] = _ANSWERS_BY_CODE.get(value, value)
                elif name in _HISTORY_INDEX:
                    history.append((_HISTORY_INDEX[name], value))
            history = [entry for _, entry in sorted(history)]
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
        except (KeyError, ValueError) as exc:
            if isinstance(exc, SessionFormatError):
                raise
            raise SessionFormatError(f"unreadable session: {exc!r}") from None


def _fmt_time(t: float) -> str:
    # Whole milliseconds: enough for ordering, short in Redis.
    return f"{t:.3f}".rstrip("0").rstrip(".") if t else "0"
