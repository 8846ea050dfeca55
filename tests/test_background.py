"""The one background thread of a process: it runs its jobs until none has
work left, and stops for good when told (an app done with)."""
from __future__ import annotations

import threading

from bot.background import Background
from tests.servers import wait_until


def test_the_thread_ends_when_no_job_has_work_left():
    runs = []
    background = Background([lambda: runs.append(1) or (0.01 if len(runs) < 3 else None)])
    background.wake()
    wait_until(background.idle, what="the thread to end")
    assert len(runs) == 3


def test_stop_ends_a_thread_with_work_left_and_no_wake_starts_another():
    ran = threading.Event()

    def always_more() -> float:  # a job that will always have more to do (Twilio unreachable, say)
        ran.set()
        return 5.0

    background = Background([always_more])
    background.wake()
    assert ran.wait(5)
    background.stop()
    assert background.idle()
    ran.clear()
    background.wake()
    assert background.idle() and not ran.wait(0.2)
