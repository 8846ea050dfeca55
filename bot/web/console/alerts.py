"""What every console page needs for its alerts, and the times it shows.

``GET /ops/live/waiting.json``: how many people wait with nobody answering
them, for the tab title and the alerts on every page (ops.js). A count only:
never a number, a name or a word.

Template filters for times, in the operators' time zone (OPS_TIMEZONE): ``stamp``
(a message's time, with its date when not today) and ``day_clock`` (a moment
with its day, for the WhatsApp window).
"""
from __future__ import annotations

import logging
import time

from flask import jsonify

from ...store import STORE_DOWN
from .blueprint import DATA_ENDPOINTS, bp, console, local_time

log = logging.getLogger(__name__)


# Data, not a page: signed out, it answers 401 (the script reloads to sign in) rather than redirect.
DATA_ENDPOINTS.add("ops.waiting_count")


@bp.get("/live/waiting.json")
def waiting_count():
    try:
        queue = console().desk.queue()
    except STORE_DOWN:
        # The script keeps the count it had; the page says the connection is lost.
        return jsonify(error="Storage unavailable."), 503
    return jsonify(waiting=sum(1 for w in queue if not w.holder))


@bp.app_template_filter("stamp")
def _stamp(t: float) -> str:
    """'11:12' today, 'Wed 2 Dec 11:12' another day (the script renders the same)."""
    if not t:
        return ""
    when = local_time(t)
    if when.date() == local_time(time.time()).date():
        return when.strftime("%H:%M")
    return _day_clock(t)


@bp.app_template_filter("day_clock")
def _day_clock(t: float) -> str:
    """'Thu 3 Dec 11:12': a moment that may be tomorrow, said with its day."""
    if not t:
        return ""
    when = local_time(t)
    return f"{when:%a} {when.day} {when:%b %H:%M}"
