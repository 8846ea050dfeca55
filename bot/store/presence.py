"""Who has the console open now (see :mod:`bot.web.console.wrapup`)::

    p:ops:presence   sorted set: operator name -> when their presence lapses

Renewed by each open console's event stream, dropped at sign-out. Names of
operators only: nothing about the people who text.
"""
from __future__ import annotations

from .connection import text
from .keys import Keys


class PresenceRecords:
    def __init__(self, client, keys: Keys):
        self.r = client
        self.keys = keys

    def seen(self, name: str, until: float, now: float) -> None:
        """``name`` is here until ``until``; lapsed entries are dropped on the way (reads never write)."""
        pipe = self.r.pipeline(transaction=False)
        pipe.zadd(self.keys.presence(), {name: until})
        pipe.zremrangebyscore(self.keys.presence(), "-inf", now)
        pipe.execute()

    def gone(self, name: str) -> None:
        self.r.zrem(self.keys.presence(), name)

    def online(self, now: float) -> list[str]:
        """Who is present at ``now``, by name."""
        return sorted(text(n) for n in self.r.zrangebyscore(self.keys.presence(), f"({now}", "+inf"))
