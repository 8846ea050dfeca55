"""The live index: every stored session's contact id, scored by the time of
its last save (``p:{p:events}:live``), and the same for the sessions in a
hand-off (``…:live:handoff``).

A session's TTL is set at its save, so a score older than ``SESSION_TTL``
is a session that has expired. The turn's commit adds to the index, removes
the contact on erase and trims the expired scores, so the console's list and
the active-sessions gauge read a page and a count of it, whatever the number
of sessions, instead of scanning every key.
"""
from __future__ import annotations

import time

from .connection import text
from .keys import Keys


class LiveIndex:
    def __init__(self, client, keys: Keys, session_ttl: int):
        self.r = client
        self.keys = keys
        self.session_ttl = session_ttl

    def page(self, limit: int) -> tuple[list[tuple[str, float]], int]:
        """The ``limit`` sessions saved most recently, newest first, as (contact
        id, time of the save), and how many sessions there are: one round trip
        whatever the index's size."""
        low = time.time() - self.session_ttl
        pipe = self.r.pipeline(transaction=False)
        pipe.zrevrangebyscore(self.keys.live(), "+inf", low, start=0, num=limit, withscores=True)
        pipe.zcount(self.keys.live(), low, "+inf")
        page, total = pipe.execute()
        return [(text(c), score) for c, score in page], int(total)

    def count(self) -> int:
        """How many sessions are stored (not expired, not erased)."""
        return int(self.r.zcount(self.keys.live(), time.time() - self.session_ttl, "+inf"))

    def in_handoff(self) -> list[tuple[str, float]]:
        """The sessions in a hand-off (the console's queue), as (contact id, time of the save)."""
        found = self.r.zrangebyscore(self.keys.live_handoff(), time.time() - self.session_ttl, "+inf",
                                     withscores=True)
        return [(text(c), score) for c, score in found]

    def drop(self, cids: list[str]) -> None:
        """Index entries whose session is gone (a cluster's index write beside a
        commit that lost its lock; damage): dropped when a reader finds them.
        The reader drops only entries some seconds old: on a cluster the index
        and the session are written to two nodes at once, and the index can
        land first."""
        if cids:
            pipe = self.r.pipeline(transaction=False)
            pipe.zrem(self.keys.live(), *cids)
            pipe.zrem(self.keys.live_handoff(), *cids)
            pipe.execute()
