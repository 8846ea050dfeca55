"""One thread per process for the work a text must not wait for.

Some of what a quick exit promises cannot be done inside the webhook's
answer: Twilio's copies of the messages can only be deleted a minute or more
later, a rewrite of the embedded Redis's append-only file is debounced, and
what was asked for during an outage waits for Redis to come back. Each of
those is a *job*: a callable that does what is due and returns how many
seconds until it has more to do, or None when it has nothing left.

The thread runs every job, sleeps until the soonest of them (or until
:meth:`Background.wake`), and ends when no job has anything left; the next
``wake`` starts it again. So a process with nothing to do has no thread, and
the tests' many short-lived apps leave none behind. Jobs keep their state
where every process sees it (Redis, the spool file), so work a process left
undone when it died is picked up by another: each is woken at start when
there is work waiting (see ``create_app``).
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

from .helpline import safe_error

log = logging.getLogger(__name__)

Job = Callable[[], "float | None"]
RETRY_AFTER_ERROR = 5.0


class Background:
    def __init__(self, jobs: list[Job], name: str = "helpline-background"):
        self.jobs = list(jobs)
        self.name = name
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def wake(self) -> None:
        """Run the jobs soon, starting the thread if it is not running."""
        with self._lock:
            self._wake.set()
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()

    def idle(self) -> bool:
        """Whether the thread has ended (nothing left to do)."""
        with self._lock:
            return self._thread is None

    def stop(self, timeout: float = 10.0) -> None:
        """End the thread for good, once the job it is running returns (an app
        done with: a test's). What is left undone stays where every process
        sees it, for the next process to pick up."""
        with self._lock:
            self._stopped = True
            self._wake.set()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            self._wake.clear()
            delays = [d for d in (self._step(job) for job in self.jobs) if d is not None]
            with self._lock:
                if self._stopped or (not delays and not self._wake.is_set()):
                    self._thread = None
                    return
            self._wake.wait(max(0.0, min(delays)) if delays else 0)
            if self._stopped:
                with self._lock:
                    self._thread = None
                return

    @staticmethod
    def _step(job: Job) -> float | None:
        try:
            return job()
        except Exception as exc:  # noqa: BLE001 - a job that failed (Redis down) is tried again
            log.warning("background work failed, trying again in %gs: %s", RETRY_AFTER_ERROR, safe_error(exc))
            return RETRY_AFTER_ERROR
