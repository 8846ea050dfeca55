"""Staffed hours (``HANDOFF_HOURS``): the spans of the week when the line
counts as on duty without anyone switching it on."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_SPAN_RE = re.compile(r"^\s*([A-Za-z]{3}(?:\s*-\s*[A-Za-z]{3})?(?:\s*,\s*[A-Za-z]{3}(?:\s*-\s*[A-Za-z]{3})?)*)\s+"
                      r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class HoursError(ValueError):
    pass


@dataclass(frozen=True)
class Hours:
    """Staffed hours, e.g. ``Mon-Fri 09:00-17:00; Sat 10:00-14:00``.

    A span that ends at or before it starts runs past midnight
    (``Fri 22:00-06:00`` is Friday night to Saturday morning).

    >>> h = Hours.parse("Mon-Fri 09:00-17:00", "UTC")
    >>> h.within(dt.datetime(2025, 1, 6, 10, 0, tzinfo=dt.timezone.utc))  # a Monday
    True
    >>> h.within(dt.datetime(2025, 1, 5, 10, 0, tzinfo=dt.timezone.utc))  # a Sunday
    False
    """

    spans: tuple[tuple[frozenset[int], int, int], ...]  # (weekdays, start minute, end minute)
    tz: ZoneInfo
    text: str

    @classmethod
    def parse(cls, text: str, tz: str) -> "Hours":
        try:
            zone = ZoneInfo(tz)
        except Exception:  # noqa: BLE001 - ZoneInfoNotFoundError, ValueError for odd names
            raise HoursError(f"OPS_TIMEZONE={tz!r} is not a time zone name like America/Chicago or UTC") from None
        spans = []
        for part in filter(None, (p.strip() for p in text.split(";"))):
            m = _SPAN_RE.match(part)
            if not m:
                raise HoursError(f"HANDOFF_HOURS: {part!r} should look like 'Mon-Fri 09:00-17:00' "
                                 "(spans separated by ';')")
            days: set[int] = set()
            for chunk in m.group(1).split(","):
                ends = [d.strip().lower() for d in chunk.split("-")]
                if any(d not in _DAYS for d in ends):
                    raise HoursError(f"HANDOFF_HOURS: {chunk.strip()!r}: days are Mon Tue Wed Thu Fri Sat Sun")
                a, b = _DAYS.index(ends[0]), _DAYS.index(ends[-1])
                days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
            h1, m1, h2, m2 = (int(g) for g in m.groups()[1:])
            if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59:
                raise HoursError(f"HANDOFF_HOURS: {part!r}: times are HH:MM, 00:00 to 24:00")
            spans.append((frozenset(days), h1 * 60 + m1, h2 * 60 + m2))
        return cls(tuple(spans), zone, text.strip())

    def within(self, when: dt.datetime) -> bool:
        return self.window_end(when) is not None

    def window_end(self, when: dt.datetime) -> dt.datetime | None:
        """When the span ``when`` falls in ends; None if it falls in none."""
        local = when.astimezone(self.tz)
        minute = local.hour * 60 + local.minute
        day = local.weekday()
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        for days, start, end in self.spans:
            if end > start:
                if day in days and start <= minute < end:
                    return midnight + dt.timedelta(minutes=end)
            else:  # past midnight
                if day in days and minute >= start:
                    return midnight + dt.timedelta(days=1, minutes=end)
                if (day - 1) % 7 in days and minute < end:
                    return midnight + dt.timedelta(minutes=end)
        return None
