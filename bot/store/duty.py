"""Who is on duty (see :mod:`bot.duty` for what it means)::

    p:duty              set while anyone is on duty (its value: one of them); every text reads it
    p:ops:duty:who      sorted set: responder -> when their on duty lapses
    p:ops:duty:off      the staffed hours paused by a responder, until the span ends
    p:ops:duty:armed    the line was on duty since the last hand-back
"""
from __future__ import annotations

from .connection import text
from .keys import Keys


class DutyRecords:
    def __init__(self, client, keys: Keys):
        self.r = client
        self.keys = keys

    def line_on(self) -> bool:
        """Whether any responder is on duty (the hours aside): what every text asks."""
        return bool(self.r.exists(self.keys.duty()))

    def read(self, now: float) -> tuple[str | None, bool, tuple[str, ...]]:
        """(the line's flag, or None; whether the hours are paused; who is on duty now), in one round trip."""
        pipe = self.r.pipeline(transaction=False)
        pipe.get(self.keys.duty())
        pipe.exists(self.keys.duty_off())
        pipe.zrangebyscore(self.keys.duty_who(), f"({now}", "+inf")
        on, paused, who = pipe.execute()
        return (None if on is None else text(on)), bool(paused), tuple(text(name) for name in who)

    def go_on(self, name: str, until: float, ttl: int) -> None:
        """``name`` is on duty until ``until``; the line with them, the hours unpaused, a hand-back armed."""
        pipe = self.r.pipeline(transaction=False)
        pipe.zadd(self.keys.duty_who(), {name: until})
        pipe.set(self.keys.duty(), name, ex=ttl)
        pipe.delete(self.keys.duty_off())
        pipe.set(self.keys.duty_armed(), "1")
        pipe.execute()

    def go_off(self, name: str, now: float) -> tuple[str, float] | None:
        """``name`` is off duty; the responder on duty the longest after that, and until when (None: nobody)."""
        pipe = self.r.pipeline(transaction=False)
        pipe.zrem(self.keys.duty_who(), name)
        return self._latest(pipe, now)

    def latest(self, now: float) -> tuple[str, float] | None:
        """The responder on duty the longest, and until when (None: nobody)."""
        return self._latest(self.r.pipeline(transaction=False), now)

    def _latest(self, pipe, now: float) -> tuple[str, float] | None:
        pipe.zremrangebyscore(self.keys.duty_who(), "-inf", now)
        pipe.zrange(self.keys.duty_who(), -1, -1, withscores=True)
        last = pipe.execute()[-1]
        if not last:
            return None
        name, until = last[0]
        return text(name), until

    def until(self, name: str) -> float | None:
        """When ``name``'s on duty lapses (None: they are not on duty)."""
        return self.r.zscore(self.keys.duty_who(), name)

    def keep_line_on(self, name: str, ms: int) -> None:
        self.r.set(self.keys.duty(), name, px=ms)

    def line_off(self) -> None:
        self.r.delete(self.keys.duty())

    def pause_hours(self, by: str, seconds: int) -> None:
        self.r.set(self.keys.duty_off(), by, ex=seconds)

    def renew(self, name: str, now: float, ttl: int) -> bool:
        """Keep ``name`` on duty ``ttl`` seconds more, if they are on duty. Whether they are.

        Their open console renews them while they may be clicking "Go off duty":
        a renewal that read them as on duty just before they left must not put
        them back, nor the line's flag (people asking for a person would wait
        for nobody). So each write only updates what is still there: the entry
        (ZADD XX), then the flag (SET XX). Each key on its own, as on a cluster;
        a flag written just after they left is mended by :meth:`bot.duty.Duty.renew`.
        """
        until = self.until(name)
        if until is None or until <= now:
            return False
        if not self.r.zadd(self.keys.duty_who(), {name: now + ttl}, xx=True, ch=True):
            return False  # they went off duty since the read
        pipe = self.r.pipeline(transaction=False)
        pipe.set(self.keys.duty(), name, ex=ttl, xx=True)
        pipe.set(self.keys.duty_armed(), "1", nx=True)
        pipe.execute()
        return True

    def arm(self) -> None:
        self.r.set(self.keys.duty_armed(), "1", nx=True)

    def disarm(self) -> bool:
        """Whether this caller disarmed it (one DEL: one process wins)."""
        return bool(self.r.delete(self.keys.duty_armed()))
