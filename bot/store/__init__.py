"""The storage boundary: everything the bot keeps in Redis, and nothing
outside this package talks to Redis or spells a key.

* :mod:`.keys`: every key name, one method per kind.
* :mod:`.connection`: the client, the errors that mean Redis is out of
  reach (:data:`STORE_DOWN`), the Lua scripts (``*.lua`` beside the code),
  and :func:`text`, the one bytes-to-str helper.
* :mod:`.sessions`: sessions and their turns (lock, retries, seen marks, the
  commit), and what the commit writes: :mod:`.live` (the live index), the
  hand-off transcripts and opt-outs, :mod:`.deliveries` (delivery status,
  Twilio deletions).
* :mod:`.duty`, :mod:`.accounts`, :mod:`.flows`, :mod:`.figures`,
  :mod:`.events`: the console's records.
* :mod:`.embedded`: the embedded Redis server and its disk rewrites.

:class:`Stores` holds one of each for an app.
"""
from __future__ import annotations

from .accounts import AccountRecords, FailedSignIns
from .connection import (ANSWERED_WITH_ERROR, CANNOT_SERVE, STORE_DOWN, UNREACHABLE, StoreError, cannot_serve, refusal,
                         text)
from .duty import DutyRecords
from .events import EventStream, SimulatorLog
from .figures import FigureCounters
from .flows import DraftRecords, FlowsAudit, PublishedVersion
from .keys import Keys
from .presence import PresenceRecords
from .sessions import LockLost, LockTimeout, OpenTurn, SessionStore

SIMULATOR_TTL = 3 * 3600  # a console simulator's trial conversation lasts this long


class Stores:
    """Every store of one app, on the session store's Redis client."""

    def __init__(self, sessions: SessionStore):
        client, keys = sessions.r, sessions.keys
        self.sessions = sessions
        self.duty = DutyRecords(client, keys)
        self.accounts = AccountRecords(client, keys)
        self.failed_sign_ins = FailedSignIns(client, keys)
        self.published = PublishedVersion(client, keys)
        self.drafts = DraftRecords(client, keys)
        self.flows_audit = FlowsAudit(client, keys)
        self.figures = FigureCounters(client, keys)
        self.events = EventStream(client, keys)
        # The simulator's trials: a key space of their own (hl:sim), so a
        # trial never shows among the live conversations or in the figures.
        self.simulator = sessions.sibling("sim", session_ttl=SIMULATOR_TTL, retry_window=600)
        self.simulator_log = SimulatorLog(client, self.simulator.keys)


__all__ = ["PresenceRecords", "ANSWERED_WITH_ERROR", "CANNOT_SERVE", "cannot_serve", "refusal", "STORE_DOWN", "UNREACHABLE", "AccountRecords", "DraftRecords", "DutyRecords", "EventStream",
           "FailedSignIns", "FigureCounters", "FlowsAudit", "Keys", "LockLost", "LockTimeout", "OpenTurn", "PublishedVersion",
           "SessionStore", "SimulatorLog", "StoreError", "Stores", "text"]
