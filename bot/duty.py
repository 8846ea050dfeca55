"""On duty: whether a person can take a hand-off now, and who; and the watch
that hands everyone waiting back to the bot, with the hotline numbers, the
moment nobody is.

* :class:`Duty`: each responder's own on duty (renewed while their console
  is open, so a closed laptop does not leave people waiting) or the staffed
  hours (:mod:`bot.staffed_hours`), which a supervisor may pause. Going off
  duty is one responder's: it never switches the line off for the others.
  Kept by :class:`bot.store.duty.DutyRecords`.
* :class:`DutyWatch`: when the line goes from on duty to off (the last
  responder goes off duty, their console closed long enough for on duty to
  lapse, or the staffed hours end), hands back everyone in a hand-off: each
  gets the hand-off's ``unavailable`` text (the hotline numbers, in their
  language) once, through Twilio, and is back with the bot, so a later text
  is answered rather than met with silence. One whose last text said
  someone is near is sent nothing unasked: their next text gets the numbers.
  While the line stays on, it puts back in the queue the chats of a
  responder whose console closed without signing out, for a colleague on
  duty to answer, and sends anyone nobody has answered for too long
  (``OPS_WAIT_LIMIT_MINUTES``) the hand-off's ``still_waiting`` text, once:
  nobody is free yet, the numbers, and their place in line kept.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Collection

from .staffed_hours import Hours
from .store.duty import DutyRecords

if TYPE_CHECKING:
    from .desk import Desk

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DutyState:
    on: bool
    why: str  # "toggle", "hours", "off", "paused" (off during the hours)
    by: str = ""  # a responder on duty (the first of ``who``)
    until: dt.datetime | None = None  # end of the current hours span
    # The responders on duty, by name: the store keeps them by when each one's duty
    # lapses, which every open console's renewal moves while the people stay the same.
    who: tuple[str, ...] = ()


class Duty:
    """Whether someone can take a hand-off now, and who.

    Each responder goes on duty for themselves (``p:ops:duty:who``, a sorted
    set of names scored by when their on duty lapses: ``ttl`` seconds after
    their console last renewed it, so a closed laptop leaves nobody waiting
    for nobody). ``p:duty``, which every text reads (:meth:`takes_handoffs`),
    is set while anyone is on and lapses with the last of them. Within
    ``hours`` the line is on duty too, unless a responder paused it
    (``p:ops:duty:off``, until the end of the current span).

    ``p:ops:duty:armed`` is set while the line is on duty; whoever finds the
    line off and deletes it (one DEL: one worker wins) hands back everyone
    still waiting (:class:`DutyWatch`).
    """

    def __init__(self, records: DutyRecords, hours: Hours | None = None, ttl: int = 120,
                 clock: Callable[[], float] = time.time):
        self.records = records
        self.hours = hours
        self.ttl = ttl
        self.clock = clock

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.timezone.utc)

    def state(self) -> DutyState:
        on, paused, lapsing = self.records.read(self.clock())
        who = tuple(sorted(lapsing))
        if on is not None or who:
            return DutyState(True, "toggle", by=who[0] if who else on, who=who)
        end = self.hours.window_end(self._now()) if self.hours else None
        if end is not None:
            return DutyState(False, "paused", until=end) if paused else DutyState(True, "hours", until=end)
        return DutyState(False, "off")

    def is_on(self) -> bool:
        return self.state().on

    def takes_handoffs(self) -> bool:
        """What a text asking for a person reads: whether it waits in the queue.
        Without staffed hours, the line's flag alone (one command)."""
        return self.is_on() if self.hours else self.records.line_on()

    def switch(self, on: bool, by: str) -> None:
        """``by`` goes on duty, or off: only ``by``. The line goes off with the last
        responder on duty, unless the staffed hours keep it on (only :meth:`pause`
        stops those: one responder leaving must not switch the line off for the
        others answering in the hours)."""
        now = self.clock()
        if on:
            self.records.go_on(by, now + self.ttl, self.ttl)
            return
        self._line_after_leaving(self.records.go_off(by, now), now)

    def _line_after_leaving(self, latest: tuple[str, float] | None, now: float) -> None:
        """The line's flag once someone left: on while the latest responder still
        on duty is (``latest``: their name and when they lapse), else off."""
        if latest:
            name, until = latest
            self.records.keep_line_on(name, max(1, int((until - now) * 1000)))
        else:
            self.records.line_off()

    def pause(self, by: str) -> bool:
        """Pause the staffed hours until the end of the current span (a supervisor's
        decision, for the whole line). False outside the hours (nothing to pause)."""
        end = self.hours.window_end(self._now()) if self.hours else None
        if end is None:
            return False
        self.records.pause_hours(by, max(1, int((end - self._now()).total_seconds())))
        return True

    def after_leaving(self, name: str) -> DutyState:
        """What the line would be were ``name`` to go off duty now (for the confirmation)."""
        state = self.state()
        others = tuple(n for n in state.who if n != name)
        if others:
            return DutyState(True, "toggle", by=others[0], who=others)
        end = self.hours.window_end(self._now()) if self.hours else None
        if end is not None and state.why != "paused":
            return DutyState(True, "hours", until=end)
        return DutyState(False, "off")

    def renew(self, name: str) -> bool:
        """``name``'s console is open: if they are on duty, keep it alive. Whether they are.

        The renewal writes their entry, then the line's flag, for ``ttl``
        seconds. Had they gone off duty between the two, that flag would
        outlast whoever is left on duty (a closed console lapses sooner), and
        people asking for a person would wait for nobody: so once it is
        written, they must still be on duty, or the flag is put back as their
        going off left it.
        """
        now = self.clock()
        if not self.records.renew(name, now, self.ttl):
            return False
        if self.records.until(name) is not None:
            return True
        self._line_after_leaving(self.records.latest(now), now)
        return False

    def arm(self) -> None:
        """The line is on duty: the next time it is found off, everyone waiting is handed back."""
        self.records.arm()

    def disarm(self) -> bool:
        """Whether this caller is the one to hand back the waiting (the line was on since the last time)."""
        return self.records.disarm()


class DutyWatch:
    """Hands back everyone waiting for a person the moment nobody is on duty.

    Duty can end with no request to notice it: on duty lapses when the last
    console closed, the staffed hours end. So each process looks every
    ``tick`` seconds (a thread of its own, started when serving), and the
    console asks for a look at once when a responder goes off duty. Across
    processes one wins (:meth:`Duty.disarm`); it hands back everyone
    (:meth:`Desk.hand_back_everyone`), and looks again ``AGAIN`` seconds
    later: a worker may still have read "on duty" from its two-second cache
    (``helpline.Cached``) and let one more person into the queue.

    While the line is on, every ``UNATTENDED_EVERY`` seconds it also puts
    back in the queue the chats held by someone whose console is closed
    (``present``: who has one open, see bot/web/console/wrapup.py), and tells
    those nobody has answered ``wait_limit`` seconds after they asked that
    nobody is free yet, with the numbers (:meth:`Desk.tell_long_waits`).
    """

    AGAIN = 3.0
    UNATTENDED_EVERY = 10.0

    def __init__(self, duty: Duty, desk: Desk, tick: float = 2.0, present: Callable[[], Collection[str]] | None = None,
                 wait_limit: float | None = None):
        self.duty = duty
        self.desk = desk
        self.tick = tick
        self.present = present
        self.wait_limit = wait_limit
        self._looked = float("-inf")  # when the held chats were last looked at
        self._stop = threading.Event()
        self._busy = threading.Lock()
        self._thread: threading.Thread | None = None
        self._kicked: list[threading.Thread] = []

    def check(self) -> int:
        """One look; returns how many people were handed back (or put back in the queue)."""
        with self._busy:
            if self.duty.is_on():
                self.duty.arm()
                return self._while_on()
            if not self.duty.disarm():
                return 0
            tried: set[str] = set()
            try:
                done = self._hand_back(tried)
            except BaseException:
                self.duty.arm()  # Redis failed us half-way: the next look starts again
                raise
        if not self._stop.wait(self.AGAIN):
            with self._busy:
                done += self._hand_back(tried)
        return done

    def _while_on(self) -> int:
        now = time.monotonic()
        if now - self._looked < self.UNATTENDED_EVERY:
            return 0
        self._looked = now
        done = 0
        if self.present is not None:
            requeued = self.desk.requeue_unattended(set(self.present()))
            if requeued:
                log.info("%d %s held by a closed console put back in the queue", requeued,
                         "chat" if requeued == 1 else "chats")
            done += requeued
        if self.wait_limit:
            told = self.desk.tell_long_waits(self.wait_limit, still_on=self.duty.is_on)
            if told:
                log.info("%d %s waiting too long got the hotline numbers", told,
                         "person" if told == 1 else "people")
            done += told
        return done

    def _hand_back(self, tried: set[str]) -> int:
        done = self.desk.hand_back_everyone(still_off=lambda: not self.duty.is_on(), tried=tried)
        if done:
            log.info("nobody on duty: %d waiting %s the hotline numbers", done,
                     "person got" if done == 1 else "people got")
        return done

    def kick(self) -> None:
        """Look now, off the request's thread (sending takes a moment per person)."""
        thread = threading.Thread(target=self._safe_check, name="duty-watch-now", daemon=True)
        self._kicked = [t for t in self._kicked if t.is_alive()] + [thread]
        thread.start()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="duty-watch", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """No more looks (a look under way finishes; one waiting to look again does not)."""
        self._stop.set()

    def join(self, timeout: float = 30.0) -> None:
        """Wait for the looks under way (tests, and a clean shutdown)."""
        for thread in [self._thread, *self._kicked]:
            if thread is not None:
                thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            self._safe_check()

    def _safe_check(self) -> None:
        try:
            self.check()
        except Exception as exc:  # noqa: BLE001 - the watch must outlive a Redis outage
            log.warning("duty watch: %s", type(exc).__name__)
