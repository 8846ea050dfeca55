"""What happened in a turn, for the store, the console and the figures.

Events never carry a message body or a phone number: only the kind of thing
that happened, where in the flows, and coarse facts (language, channel,
outcome). The service layer adds the pseudonymous conversation id.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# Event kinds, so producers and consumers agree on spelling.
STARTED = "started"  # a new conversation: lang, channel
VISITED = "visited"  # a node was shown: flow, node
MISSED = "missed"  # an unrecognised reply: flow, node
KEYWORD = "keyword"  # a global keyword: intent
OUTCOME = "outcome"  # a node with an outcome was reached: outcome, flow, node
LANGUAGE = "language"  # the language changed: lang
HANDOFF_REQUESTED = "handoff_requested"  # on_duty: yes/no
HANDOFF_MESSAGE = "handoff_message"  # a text arrived during a hand-off (body kept elsewhere)
RELEASED = "released"
CLOSED = "closed"
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
