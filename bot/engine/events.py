"""What happened in a turn, for the store, the console and the figures.

Events never carry a message body or a phone number: only the kind of thing
that happened, where in the flows, and coarse facts (language, channel,
outcome). The service layer adds the pseudonymous conversation id.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

# Event kinds, so producers and consumers agree on spelling.
STARTED = "started"  # a new conversation: lang, channel
VISITED = "visited"  # a node was shown: flow, node
MISSED = "missed"  # an unrecognised reply: flow, node
KEYWORD = "keyword"  # a global keyword: intent
UNDERSTOOD = "understood"  # free text placed by understanding.yaml: to (intent and/or node), never the text
OUTCOME = "outcome"  # a node with an outcome was reached: outcome, flow, node
LANGUAGE = "language"  # the language changed: lang
HANDOFF_REQUESTED = "handoff_requested"  # on_duty: yes/no
HANDOFF_MESSAGE = "handoff_message"  # a text arrived during a hand-off (body kept elsewhere)
RELEASED = "released"  # out of a hand-off: by the person (MENU), an operator, or duty ending
CLOSED = "closed"
# An operator's actions on a hand-off (bot/engine/operator.py): by, op (who)
CLAIMED = "claimed"
UNCLAIMED = "unclaimed"  # put back in the queue
OPERATOR_REPLY = "operator_reply"
REOPENED = "reopened"
RECOVERED = "recovered"  # the session pointed at a node that no longer exists
OPTED_OUT = "opted_out"
OPTED_IN = "opted_in"
ERASED = "erased"  # quick exit


@dataclass(frozen=True)
class Event:
    kind: str
    data: dict[str, str] = field(default_factory=dict)

    def as_fields(self) -> dict[str, str]:
        return {"kind": self.kind, **self.data}


# --- the stream entry ---------------------------------------------------------------
# A turn's events go to the Redis stream as ONE field holding a compact JSON
# object, ``turn``: {"conv", "ch", "lang", "st", "at", "t", "ev": [event, ...]}.
# One field, not one per value: every value is another argument through the
# commit script, another XADD argument and another AOF entry.
TURN_FIELD = "turn"
# Compact JSON, text kept as it is: what goes into Redis (the stream entries
# here, the sessions in bot/store/sessions.py).
compact_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def turn_entry(conv: str, channel: str, lang: str, state: str, at: str, t: float,
               events: list[dict[str, str]]) -> dict[str, str]:
    """The stream entry of one turn's events (``events`` as :meth:`Event.as_fields`)."""
    return {TURN_FIELD: compact_json({"conv": conv, "t": round(t, 3), "ch": channel, "lang": lang, "st": state,
                                      "at": at, "ev": events})}


def read_entry(fields: dict[str, str]) -> dict | None:
    """A stream entry as ``{"conv", "ch", "lang", "st", "at", "t", "ev": [...]}``,
    or None if it is not a turn's (a delivery status) or cannot be read.

    (A field per value, the layout of a few hours on 2026-11-22 before any
    release, is not a turn's: no deployment's stream holds one.)
    """
    try:
        if TURN_FIELD not in fields:
            return None
        entry = json.loads(fields[TURN_FIELD])
        if not isinstance(entry, dict) or not entry.get("conv") or not isinstance(entry.get("ev"), list):
            return None
        if not all(isinstance(entry.get(name, ""), str) for name in ("conv", "ch", "lang", "st", "at")):
            return None  # the readers use these as text
        entry["t"] = float(entry.get("t") or 0)
        entry["ev"] = [e for e in entry["ev"] if isinstance(e, dict)]
        return entry
    except (ValueError, TypeError):
        return None
