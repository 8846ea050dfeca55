"""A queue of work items in a sorted set, each with when it is next due, that
any process may take: a taken item is leased (moved ``lease`` seconds into the
future), not removed, until the process that took it says it is done. A
process that dies with it leaves it to be taken again when the lease runs out.

Used for what a quick exit leaves to do off the request path: the Twilio sids
to delete (:class:`bot.store.deliveries.TwilioDeletions`) and the erased
conversations whose entries the events stream still holds
(:class:`bot.store.events.ErasedTrails`).
"""
from __future__ import annotations

import time

from .connection import lua, text


class LeasedQueue:
    def __init__(self, client, key: str):
        self.r = client
        self.key = key
        self._take = client.register_script(lua("take_due"))

    def put(self, items: list[str], when: float) -> None:
        """Queue ``items``, due at ``when`` (an item already queued keeps its place)."""
        if items:
            self.r.zadd(self.key, {item: when for item in items}, nx=True)

    def due(self, limit: int, lease: float) -> list[str]:
        """Up to ``limit`` items whose time has come, each leased for ``lease`` seconds."""
        now = time.time()
        return [text(item) for item in self._take(keys=[self.key], args=[now, now + lease, limit])]

    def done(self, *items: str) -> None:
        if items:
            self.r.zrem(self.key, *items)

    def later(self, item: str, when: float) -> None:
        self.r.zadd(self.key, {item: when}, xx=True)

    def next_due(self) -> float | None:
        """When the next queued item is due; None if the queue is empty."""
        first = self.r.zrange(self.key, 0, 0, withscores=True)
        return first[0][1] if first else None
