"""Figures for the console: counts per day, aggregated from the event stream.

Nothing here identifies a person: what is kept and shown are numbers per
day (how many conversations started, in which language and channel; how
often each node was shown; where people stopped; screening outcomes; how
hand-offs went). The stream's conversation ids are used only while a
conversation is live, to know where it stopped, and are dropped then.

Why counters and not a scan of the stream at view time: the stream is
capped (``EVENTS_MAXLEN`` entries, a day or so on a busy line), and figures
are asked for over weeks. :meth:`Figures.catch_up` reads the stream entries
it has not counted yet and adds them to daily hashes, in one Lua script that
also moves its cursor, so two processes catching up at once never count an
entry twice. It runs off the webhook's path: when the figures page or the
CSV is asked for, every few seconds while a console is open (the live
stream), and from ``flask --app app ops figures-update`` (for a cron job
on a line where nobody opens the console for a day).

Kept by :class:`bot.store.figures.FigureCounters`::

    p:{stats}:day:<YYYY-MM-DD>   hash  measure -> count (kept DAYS_KEPT days)
    p:{stats}:cursor             id of the last stream entry counted
    p:{stats}:pos                hash  conv -> "flow.node" where a live conversation is
                                       (or "!waiting": asked for a person, nobody answered yet)
    p:{stats}:quiet              zset  conv -> time of its last text

"Answered by a person" (``handoff|answered``) counts the first claim after a
request, so a take-over or a claim after "put back" is not a second person;
``handoff|claimed`` still counts every claim. A request nobody claims in a
day stops being followed.

Where people stop ("left"): a conversation that is in the flows (not
finished, not with a person) and sends nothing for ``drop_after`` seconds
(an hour by default) is counted as having left at the node it was at, on
the day of its last text; so is a quick exit (``exit``) and an opt-out
(``stop``). If they come back later, they are followed again from there.

Days are calendar days in ``OPS_TIMEZONE``.
"""
from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable
from zoneinfo import ZoneInfo

from .engine import events as ev
from .store.figures import FigureCounters

DAYS_KEPT = 800  # a little over two years of daily counts
BATCH = 1000  # stream entries per script call

# Operator actions on a hand-off (bot/engine/operator.py), by the measure they count in.
_HANDOFF_KINDS = {ev.CLAIMED: "claimed", ev.OPERATOR_REPLY: "replies"}
_FOLLOWED_STATES = ("in_flow", "choosing_language")
# "Answered by a person" counts hand-offs answered, not claims: a take-over or a
# second claim after "put back" is the same person answered once. So a
# conversation that asked for a person is followed (in ``pos``) under this
# marker until its first claim, and only that claim counts as ``answered``.
WAITING = "!waiting"
HANDED_OFF = "handed_off"
WAITING_FOLLOWED = 86400  # seconds: a request nobody claimed in a day is forgotten


class Figures:
    def __init__(self, counters: FigureCounters, tz: str = "UTC", drop_after: int = 3600,
                 clock: Callable[[], float] = time.time):
        self.counters = counters
        self.tz = ZoneInfo(tz)
        self.drop_after = drop_after
        self.clock = clock

    def day_of(self, t: float) -> dt.date:
        return dt.datetime.fromtimestamp(t, self.tz).date()

    def today(self) -> dt.date:
        return self.day_of(self.clock())

    # --- counting --------------------------------------------------------------------------

    def catch_up(self, max_batches: int = 50) -> int:
        """Count the stream entries not counted yet; returns how many were counted."""
        counted = 0
        for _ in range(max_batches):
            cursor = self.counters.cursor()
            entries = self.counters.entries_after(cursor, BATCH)
            done = self._apply_batch(cursor, entries)
            if done is None:  # another process moved the cursor: read again from there
                continue
            counted += done
            if len(entries) < BATCH:
                break
        return counted

    def _apply_batch(self, cursor: str, entries: list[tuple[str, dict[str, str]]]) -> int | None:
        incr: Counter = Counter()  # (day, field) -> amount
        decoded = []
        for _, fields in entries:
            entry = ev.read_entry(fields)
            if entry is not None:  # a turn's (not a delivery status)
                decoded.append(entry)
        touched = list({f["conv"] for f in decoded})
        where: dict[str, str | None] = dict(zip(touched, (p or None for p in self.counters.positions(touched))))
        last_t: dict[str, float] = {}
        for f in decoded:
            self._count(f, incr, where, last_t)

        # Conversations quiet for too long have left where they were. Counted
        # by whichever process takes them off the quiet list (in the script):
        # with no new entry the cursor does not move, and two processes
        # catching up at once would both count them.
        now = self.clock()
        quiet = [(c, t) for c, t in self.counters.quiet_since(now - self.drop_after) if c not in where]
        left = []  # (conv, day, measure or '' for none)
        if quiet:
            for (conv, t), pos in zip(quiet, self.counters.positions([c for c, _ in quiet])):
                if pos == WAITING:  # waiting for a person is not leaving: kept a day
                    if t > now - WAITING_FOLLOWED:
                        continue
                    left.append((conv, self.day_of(t), ""))
                else:
                    left.append((conv, self.day_of(t), "left|quiet|" + pos.replace(".", "|", 1) if pos else ""))

        if not entries and not left:
            return 0
        new_cursor = entries[-1][0] if entries else cursor
        moved = {conv: (pos or "", last_t.get(conv, now)) for conv, pos in where.items()}
        if not self.counters.apply(cursor, new_cursor, DAYS_KEPT * 86400, dict(incr), moved, left):
            return None
        return len(entries)

    def _count(self, f: dict, incr: Counter, where: dict, last_t: dict) -> None:
        t, kinds = f["t"], f["ev"]
        day = self.day_of(t)
        conv, st, at = f["conv"], f.get("st", ""), f.get("at", "")
        names = set()
        for e in kinds:
            kind = e.get("kind", "")
            names.add(kind)
            if kind == ev.STARTED:
                incr[(day, "conv")] += 1
                incr[(day, "conv|ch|" + (f.get("ch") or "sms"))] += 1
                incr[(day, "conv|lang|" + (e.get("lang") or f.get("lang") or "?"))] += 1
            elif kind == ev.VISITED:
                incr[(day, f"visit|{e.get('flow', '')}|{e.get('node', '')}")] += 1
            elif kind == ev.MISSED:
                incr[(day, f"miss|{e.get('flow', '')}|{e.get('node', '')}")] += 1
            elif kind == ev.OUTCOME:
                incr[(day, "outcome|" + e.get("outcome", ""))] += 1
            elif kind == ev.KEYWORD:
                incr[(day, "keyword|" + e.get("intent", ""))] += 1
            elif kind == ev.UNDERSTOOD:  # free text, counted by what it meant: an intent and/or a place
                incr[(day, "understood|" + e.get("to", ""))] += 1
            elif kind == ev.HANDOFF_REQUESTED:
                incr[(day, "handoff|requested")] += 1
                if e.get("on_duty") == "no":
                    incr[(day, "handoff|unavailable")] += 1
            elif kind in _HANDOFF_KINDS:
                incr[(day, "handoff|" + _HANDOFF_KINDS[kind])] += 1
            elif kind in (ev.RELEASED, ev.CLOSED) and e.get("by") in ("operator", "person"):
                incr[(day, f"handoff|{kind}")] += 1
                if e.get("wrapup"):  # the responder's wrap-up outcome: an id from flows/console/outcomes.yaml
                    incr[(day, "wrapup|" + e["wrapup"])] += 1
            elif kind == ev.RELEASED and e.get("by") == "duty":  # waited, and nobody was on duty any more
                incr[(day, "handoff|lapsed")] += 1
            elif kind == ev.ERASED:  # quick exit (its turn keeps no keyword event)
                incr[(day, "exit")] += 1
            elif kind == ev.OPTED_OUT:
                incr[(day, "optout")] += 1

        previous = where.get(conv)
        if ev.ERASED in names:
            pos = at or previous
            if pos:
                incr[(day, "left|exit|" + pos.replace(".", "|", 1))] += 1
            where[conv] = None
        elif ev.OPTED_OUT in names:
            if previous:
                incr[(day, "left|stop|" + previous.replace(".", "|", 1))] += 1
            where[conv] = None
        elif st in _FOLLOWED_STATES and at:
            where[conv] = at
            last_t[conv] = t
        elif st == HANDED_OFF and ev.HANDOFF_REQUESTED in names:
            where[conv] = WAITING
            last_t[conv] = t
        elif st == HANDED_OFF and ev.CLAIMED in names and previous == WAITING:
            incr[(day, "handoff|answered")] += 1
            where[conv] = None
        elif st == HANDED_OFF and previous == WAITING:  # they wrote again while waiting
            last_t[conv] = t
        else:  # finished, with a person, opted out: not a place anyone "left" the bot
            where[conv] = None

    # --- reading -----------------------------------------------------------------------------

    def read(self, start: dt.date, end: dt.date) -> "Period":
        """The counts from ``start`` to ``end``, both included."""
        days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
        period = Period(start, end)
        for day, counts in zip(days, self.counters.days(days)):
            period.daily[day] = counts
            period.total.update(counts)
        return period


@dataclass
class Period:
    start: dt.date
    end: dt.date
    daily: dict[dt.date, dict[str, int]] = field(default_factory=dict)
    total: Counter = field(default_factory=Counter)

    def group(self, prefix: str) -> dict[str, int]:
        """``{rest: count}`` for every measure ``prefix|rest``."""
        cut = len(prefix) + 1
        return {k[cut:]: v for k, v in self.total.items() if k.startswith(prefix + "|")}

    def by_node(self, measure: str) -> dict[tuple[str, str], int]:
        found: dict[tuple[str, str], int] = {}
        for rest, n in self.group(measure).items():
            flow, _, node = rest.partition("|")
            found[(flow, node)] = found.get((flow, node), 0) + n
        return found

    def left(self) -> dict[tuple[str, str], dict[str, int]]:
        """``{(flow, node): {"quiet": n, "exit": n, "stop": n}}``."""
        found: dict[tuple[str, str], dict[str, int]] = {}
        for rest, n in self.group("left").items():
            how, flow, node = (rest.split("|") + ["", ""])[:3]
            found.setdefault((flow, node), {"quiet": 0, "exit": 0, "stop": 0})[how] = n
        return found

    def series(self) -> list[tuple[dt.date, int]]:
        """Conversations started per day."""
        return [(day, counts.get("conv", 0)) for day, counts in self.daily.items()]


# How each stored measure reads in the CSV: measure, key.
def csv_rows(period: Period, label: Callable[[str, str], str] | None = None) -> Iterable[list[str]]:
    """date, measure, what, count, key: one row per day and measure, counts
    only. ``what`` is the key in words (``label(measure, key)``: a step's
    question, a language's name); ``key`` stays for analysts joining days."""
    yield ["date", "measure", "what", "count", "key"]
    for day, counts in period.daily.items():
        for name in sorted(counts):
            measure, key = _csv_measure(name)
            yield [day.isoformat(), measure, label(measure, key) if label else key, str(counts[name]), key]


def _csv_measure(name: str) -> tuple[str, str]:
    parts = name.split("|")
    head = parts[0]
    if name == "conv":
        return "conversations", "all"
    if head == "conv":
        return ("conversations_by_channel" if parts[1] == "ch" else "conversations_by_language"), parts[2]
    if head in ("visit", "miss"):
        return {"visit": "node_visits", "miss": "unrecognised_replies"}[head], ".".join(parts[1:])
    if head == "left":
        return f"left_{parts[1]}", ".".join(parts[2:])
    if head in ("outcome", "keyword"):
        return head + "s", parts[1]
    if head == "handoff":
        return "handoffs", parts[1]
    if head == "wrapup":
        return "wrapup_outcomes", parts[1]
    if head == "understood":
        return "understood_as", "|".join(parts[1:])
    if name in ("exit", "optout"):
        return {"exit": "quick_exits", "optout": "opt_outs"}[name], "all"
    return head, ".".join(parts[1:])
