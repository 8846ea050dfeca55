"""After a quick exit, the embedded Redis's append-only file is rewritten so
that what was erased leaves the disk too (see :class:`DiskRewrite`)."""
from __future__ import annotations

import threading
import time

import redis

from .keys import Keys


class DiskRewrite:
    """Rewrite the embedded Redis's append-only file after erasures, at most
    once every ``interval`` seconds across every process (a job for
    :class:`bot.background.Background`).

    The embedded Redis writes every command to its append-only file and
    rewrites the file only when it has doubled past 64 MB, so an erased
    session would stay on disk for weeks. After an erase, this job asks for a
    background rewrite (``BGREWRITEAOF``), which writes only what is still
    stored; at most one a minute across all processes (``p:aof:rewrite``,
    NX with a TTL), and always one that starts after the erase. Only for the
    embedded server: what a managed Redis keeps is its operator's to
    configure (README, "What Redis keeps on disk").
    """

    def __init__(self, client: redis.Redis, keys: Keys, interval: float = 60.0, clock=time.time):
        self.r = client
        self.key = keys.aof_rewrite()
        self.interval = interval
        self.clock = clock
        self._last_erase: float | None = None  # the latest erase not yet in a rewrite
        self._lock = threading.Lock()

    def erased(self) -> None:
        """An erase was committed: a rewrite must start after it."""
        with self._lock:
            self._last_erase = self.clock()

    def __call__(self) -> float | None:
        with self._lock:
            erase = self._last_erase
        if erase is None:
            return None
        started = self.clock()
        ms = max(1, int(self.interval * 1000))
        if self.r.set(self.key, f"{started:.6f}", nx=True, px=ms):
            try:
                self.r.bgrewriteaof()  # "scheduled" behind a snapshot in progress: still after the erase
            except redis.ResponseError:
                # A rewrite already running may have started before the erase: ours after it.
                self.r.delete(self.key)
                return 0.5
            return self._done(started)
        other = self.r.get(self.key)
        if other is not None and float(other) >= erase:
            return self._done(float(other))  # another process's rewrite started after our erase
        wait = self.r.pttl(self.key)
        return max(wait, 50) / 1000 if wait and wait > 0 else 0.05

    def _done(self, started: float) -> float | None:
        with self._lock:
            if self._last_erase is not None and self._last_erase <= started:
                self._last_erase = None
                return None
            return self.interval  # erased again since: the next rewrite when this one's minute is up
