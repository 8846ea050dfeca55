"""The events stream (``p:events``) as its readers see it: the console's
live updates read it as it grows, and a quick exit's entries are dropped
from it (:class:`ErasedTrails`). (The turn's commit writes it; the figures
count it through :mod:`bot.store.figures`.)"""
from __future__ import annotations

import math
import time

from .connection import redis_client, text
from .keys import Keys
from .leased_queue import LeasedQueue


class EventStream:
    def __init__(self, client, keys: Keys):
        self.r = client
        self.keys = keys

    @classmethod
    def for_blocking_reads(cls, url: str, timeout: float, keys: Keys, cluster: bool = False) -> "EventStream":
        """A reader with a connection of its own, whose ``timeout`` outlasts its
        blocking reads (:meth:`close` it when done)."""
        return cls(redis_client(url, timeout, cluster=cluster), keys)

    def last_id(self) -> str:
        """The newest entry's id ("0-0" for an empty stream)."""
        last = self.r.xrevrange(self.keys.events(), count=1)
        return text(last[0][0]) if last else "0-0"

    def read(self, after: str, count: int, block: int | None) -> list[tuple[str, dict[str, str]]]:
        """Up to ``count`` entries after ``after``, as (id, fields), waiting up to ``block`` ms for one."""
        found = self.r.xread({self.keys.events(): after}, count=count, block=block)
        return [(text(ident), {text(k): text(v) for k, v in fields.items()})
                for _, items in found or [] for ident, fields in items]

    def entries_after(self, after: str, count: int) -> list[tuple[str, dict[str, str]]]:
        """Up to ``count`` entries after the id ``after`` ('' for the first), oldest first, as (id, fields)."""
        found = self.r.xrange(self.keys.events(), f"({after}" if after else "-", "+", count=count)
        return [(text(ident), {text(k): text(v) for k, v in fields.items()}) for ident, fields in found]

    def drop(self, ids: list[str]) -> None:
        if ids:
            self.r.xdel(self.keys.events(), *ids)

    def close(self) -> None:
        self.r.close()


class ErasedTrails(LeasedQueue):
    """Conversations erased by a quick exit (or a call that ended) whose turns
    the events stream still holds, each as ``"<conv> <start>"``: its random
    id and when it started (no contact id, no number), until
    :class:`bot.erasure.StreamEntries` has dropped them."""

    def __init__(self, client, keys: Keys):
        super().__init__(client, keys.erased_trails())

    @staticmethod
    def item(conv: str, started_at: float) -> str:
        """The queued form (the commit queues it, in the same script as the erase)."""
        return f"{conv} {started_at:.3f}" if math.isfinite(started_at) else f"{conv} 0"

    @staticmethod
    def parse(item: str) -> tuple[str, float]:
        """(conv, when it started) of a queued item; 0 for a start not known
        (or not a time this side of tomorrow: the whole stream is read for it)."""
        conv, _, start = item.partition(" ")
        try:
            started_at = float(start)
        except ValueError:
            return conv, 0.0
        return conv, started_at if 0 < started_at < time.time() + 86400 else 0.0


class SimulatorLog:
    """What a console simulator's trial showed (JSON lines, ``p:{cid}:log`` under ``hl:sim``)."""

    def __init__(self, client, keys: Keys):
        self.r = client
        self.keys = keys

    def add(self, cid: str, lines: list[str], kept: int, ttl: int) -> None:
        key = self.keys.sim_log(cid)
        pipe = self.r.pipeline(transaction=False)
        pipe.rpush(key, *lines)
        pipe.ltrim(key, -kept, -1)
        pipe.expire(key, ttl)
        pipe.execute()

    def read(self, cid: str) -> list[str]:
        return [text(line) for line in self.r.lrange(self.keys.sim_log(cid), 0, -1)]

    def delete(self, cid: str) -> None:
        self.r.delete(self.keys.sim_log(cid))
