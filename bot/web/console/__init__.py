"""The operators' console under ``/ops/``: one blueprint, its routes by area.

Server-rendered pages; a little JavaScript (``bot/static/ops/ops.js``)
keeps the live list and an open hand-off up to date from a server-sent
event stream (:mod:`.events`) and sends replies without a reload. Every page
works without it, only without live updates.

* :mod:`.blueprint`: the blueprint, what every request goes through (sign-in,
  CSRF, roles, headers), and :func:`init_app`, which builds what the views use.
* :mod:`.accounts`: operators, their roles, and the wait after wrong passwords.
* :mod:`.auth`: signing in and out.
* :mod:`.live`: the live list, the queue, going on and off duty.
* :mod:`.events`: the live updates (server-sent events).
* :mod:`.alerts`: the waiting count for every page's alerts, and the time filters.
* :mod:`.handoff`: a hand-off as its responder sees it, and the actions on it.
* :mod:`.replies`: the canned replies beside its reply box.
* :mod:`.figures`: the daily figures and their CSV.
* :mod:`.flows`: the flows, their map, translations and reviews; editing,
  publishing and rolling back for editors.
* :mod:`.simulator`: trying the conversations as a texter would.
* :mod:`.commands`: ``flask --app app ops …``.

Each route module imports the blueprint from :mod:`.blueprint` and nothing
imports back, so there is no import cycle (tests/test_boundaries.py).
"""
from . import alerts, auth, commands, events, figures, flows, handoff, live, replies, simulator, wrapup  # noqa: F401 - their routes join bp
from .blueprint import bp, init_app

__all__ = ["bp", "init_app"]
