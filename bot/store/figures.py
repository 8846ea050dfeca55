"""The console's daily figures: counters per day and what counting them
needs, under the hash tag ``{stats}`` so that the script that counts a batch
touches one slot of a Redis Cluster (see :mod:`bot.figures` for what is
counted)::

    p:{stats}:day:<YYYY-MM-DD>   hash  measure -> count
    p:{stats}:cursor             id of the last events-stream entry counted
    p:{stats}:pos                hash  conv -> "flow.node" where a live conversation is
    p:{stats}:quiet              zset  conv -> time of its last text
"""
from __future__ import annotations

import datetime as dt

from .connection import lua, text
from .events import EventStream
from .keys import Keys


class FigureCounters:
    def __init__(self, client, keys: Keys):
        self.r = client
        self.keys = keys
        self.stream = EventStream(client, keys)
        self._apply = client.register_script(lua("figures_apply"))

    def cursor(self) -> str:
        return text(self.r.get(self.keys.stats("cursor")))

    def entries_after(self, cursor: str, count: int) -> list[tuple[str, dict[str, str]]]:
        """Up to ``count`` events-stream entries after ``cursor`` ('' for the first), as (id, fields)."""
        return self.stream.entries_after(cursor, count)

    def positions(self, convs: list[str]) -> list[str]:
        """Where each conversation was last counted ('' for nowhere)."""
        return [text(p) for p in self.r.hmget(self.keys.stats("pos"), convs)] if convs else []

    def quiet_since(self, before: float) -> list[tuple[str, float]]:
        """The conversations followed whose last text is older than ``before``."""
        found = self.r.zrangebyscore(self.keys.stats("quiet"), "-inf", before, withscores=True)
        return [(text(conv), t) for conv, t in found]

    def apply(self, cursor: str, new_cursor: str, ttl: int, increments: dict[tuple[dt.date, str], int],
              where: dict[str, tuple[str, float]], left: list[tuple[str, dt.date, str]] = ()) -> bool:
        """Add ``increments`` ((day, measure) -> amount) and move the followed
        conversations (conv -> (where, time of its last text); '' where: no
        longer followed), and the cursor to ``new_cursor``: all or nothing,
        and only if the cursor is still ``cursor`` (False: another process
        counted meanwhile). ``left``: followed conversations gone quiet, each
        (conv, day, measure or ''), counted only if this call is the one that
        stops following them."""
        days = sorted({day for day, _ in increments} | {day for _, day, measure in left if measure})
        keys = [self.keys.stats("cursor"), self.keys.stats("pos"), self.keys.stats("quiet"),
                *(self.keys.stats_day(d) for d in days)]
        index = {d: i + 4 for i, d in enumerate(days)}
        args: list = [cursor, new_cursor, ttl, len(increments), len(left)]
        for (day, name), amount in increments.items():
            args += [index[day], name, amount]
        for conv, day, measure in left:
            args += [conv, index[day] if measure else 0, measure]
        for conv, (pos, t) in where.items():
            args += [conv, pos, f"{t:.3f}"]
        return self._apply(keys=keys, args=args) == 1

    def days(self, days: list[dt.date]) -> list[dict[str, int]]:
        """The counts of each day, in one round trip."""
        pipe = self.r.pipeline(transaction=False)
        for day in days:
            pipe.hgetall(self.keys.stats_day(day))
        return [{text(k): int(v) for k, v in raw.items()} for raw in pipe.execute()]
