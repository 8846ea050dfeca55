"""``GET /ops/live/events``: the console's live updates, as server-sent events.

Read from the Redis event stream (``p:events``) with ``XREAD BLOCK`` on a
connection of its own, whose socket timeout is longer than the block (redis-
py's default client gives up after 5 s; the shared client after
``REDIS_TIMEOUT``). What is sent per stream entry is what the live list
shows, and no more: the conversation id, channel, language, state, where in
the flows, the time, the kinds of events, and the number masked to its
last two digits. Never a message body: an open hand-off page fetches the
transcript itself when told its conversation changed.

Threads. Under gunicorn's gthread workers a stream holds one of the
worker's threads for as long as it is open, and those threads also answer
Twilio. So a process keeps at most ``OPS_LIVE_STREAMS`` streams open (1 by
default); a console beyond that gets what is new and is told to come back in
five seconds (``retry``), which is polling through the same URL. Each stream
also ends after ``STREAM_SECONDS`` and the browser reconnects where it left
off (``Last-Event-ID``), so a thread is never held for good and a signed-out
operator's stream stops. Raise ``GUNICORN_THREADS`` with
``OPS_LIVE_STREAMS`` when several operators keep the console open.

While it runs, a responder's stream also keeps them on duty, if they are
(see :class:`bot.duty.Duty`), and counts new events into the figures.

An open hand-off page names its conversation (``?conv=``), and is told, on
every poll and every few seconds of a stream, once that conversation is no
longer a hand-off: a ``session`` event with ``gone`` (no session: erased,
or expired) or its new state. It cannot wait for the turn's own entry: a
quick exit's entries, its ERASED one too, are dropped from the stream soon
after (:class:`bot.erasure.StreamEntries`), before a page that polls, or is
between two streams, reads past them. The answer needs nothing of the
erased conversation: only that its session is not there.
"""
from __future__ import annotations

import json
import logging
import re
import time

from flask import Response, current_app, request
from flask_login import current_user

from ...engine import events as ev
from ...engine.events import read_entry
from ...helpline import safe_error
from ...store import STORE_DOWN, EventStream
from .blueprint import bp, console
from .handoff import ended_how
from .wrapup import marker

log = logging.getLogger(__name__)

BLOCK_MS = 2000  # one XREAD waits at most this long
STREAM_SECONDS = 300  # then the browser reconnects
RENEW_EVERY = 20  # seconds between renewals of the on-duty flag
FIGURES_EVERY = 15  # seconds between catch-ups of the figures
RETRY_MS = 3000  # the browser reconnects after this long
BUSY_RETRY_MS = 5000
WATCH_EVERY = BUSY_RETRY_MS / 1000  # seconds between looks at an open hand-off page's conversation
_ID_RE = re.compile(r"^\d{1,20}-\d{1,20}$")
_CONV_RE = re.compile(r"^[0-9A-Za-z_-]{1,64}$")


def _stream_reader() -> EventStream:
    """A reader for blocking reads only: its own connection, a timeout past the block."""
    cfg = current_app.config
    return EventStream.for_blocking_reads(cfg["REDIS_URL_RESOLVED"], BLOCK_MS / 1000 + 3,
                                          current_app.extensions["store"].keys, cluster=bool(cfg.get("REDIS_CLUSTER")))


def _sse(event: str, data: dict, ident: str | None = None) -> str:
    head = f"id: {ident}\n" if ident else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _duty_payload(state) -> dict:
    return {"on": state.on, "why": state.why, "by": state.by, "who": list(state.who)}


@bp.get("/live/events")
def live_events():
    c = console()
    after = request.headers.get("Last-Event-ID") or request.args.get("after") or ""
    if not _ID_RE.match(after):
        after = "$"
    watched = request.args.get("conv", "")  # the hand-off the page shows, if any
    if not _CONV_RE.match(watched):
        watched = ""
    responder = current_user.name if current_user.can_respond else ""
    here = marker(current_user.name)  # presence (wrap-up): who has the console open
    events = _stream_reader()
    slot = c.live_slots.acquire(blocking=False)

    def entries(block: int | None):
        nonlocal after
        for ident, fields in events.read(after, 200, block):
            after = ident
            yield _message(c, ident, fields)

    def ended():
        """The watched hand-off's end, once it has ended (then it is not looked at again)."""
        nonlocal watched
        if watched:
            found = _ended(c, watched)
            if found:
                watched = ""
                yield found

    def stream():
        nonlocal after
        try:
            if after == "$":  # start from now, with a real id so a reconnect resumes here
                after = events.last_id()
            duty = c.duty.state()
            yield f"retry: {RETRY_MS if slot else BUSY_RETRY_MS}\n"
            yield _sse("duty", _duty_payload(duty))
            if not slot:  # this process holds as many streams as it may: what is new, then poll
                here()
                if responder:
                    c.duty.renew(responder)
                # With the id it started from: a page that came without one ("$")
                # resumes there on its next poll instead of missing what came between.
                yield _sse("mode", {"poll": BUSY_RETRY_MS // 1000}, after)
                yield from entries(None)
                yield from ended()
                return
            yield _sse("mode", {"poll": 0}, after)
            here()
            start = renewed = counted = watched_at = time.monotonic()
            yield from ended()
            while time.monotonic() - start < STREAM_SECONDS:
                yield from entries(BLOCK_MS)
                # A comment after every read: keeps proxies from closing an idle
                # stream, and a browser that has gone is noticed within one block
                # (the write fails), so its thread and slot are free again at once.
                yield ": keep-alive\n\n"
                now = time.monotonic()
                state = c.duty.state()
                if state != duty:
                    duty = state
                    yield _sse("duty", _duty_payload(state))
                if now - watched_at >= WATCH_EVERY:
                    watched_at = now
                    yield from ended()
                if now - renewed >= RENEW_EVERY:
                    renewed = now
                    here()
                    if responder:
                        c.duty.renew(responder)
                if now - counted >= FIGURES_EVERY:
                    counted = now
                    try:
                        c.figures.catch_up()
                    except STORE_DOWN as exc:
                        log.warning("figures not updated: %s", safe_error(exc))
        except STORE_DOWN as exc:
            # The browser reconnects by itself, from the last id it got.
            log.warning("live stream stopped: %s", safe_error(exc))

    closed = []

    def cleanup() -> None:
        # On the response's close, which the server calls even when the
        # stream never started (a generator's own `finally` would not run).
        if not closed:
            closed.append(True)
            if slot:
                c.live_slots.release()
            events.close()

    response = Response(stream(), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    response.call_on_close(cleanup)
    return response


def _ended(c, conv: str) -> str:
    """A ``session`` event saying how ``conv`` is no longer a hand-off ('' while it is one):
    ``gone`` when it has no session (erased, or expired), else its state."""
    how = ended_how(c, conv)
    if how == "gone":
        return _sse("session", {"conv": conv, "gone": True, "kinds": []})
    if how:
        return _sse("session", {"conv": conv, "st": how, "kinds": []})
    return ""


def _message(c, ident: str, fields: dict) -> str:
    entry = read_entry(fields)
    if entry is None:  # a delivery status: the open hand-off page refreshes its ticks
        return _sse("delivery", {}, ident)
    conv, t = entry["conv"], entry["t"]
    kinds = [e.get("kind", "") for e in entry["ev"]]
    if ev.ERASED in kinds:
        c.live_sessions.forget(conv)
        return _sse("session", {"conv": conv, "gone": True, "kinds": kinds}, ident)
    row = c.live_sessions.find(conv, since=t)
    return _sse("session", {
        "conv": conv,
        "masked": row.masked if row else "··",
        "ch": entry.get("ch", ""),
        "lang": entry.get("lang", ""),
        "st": entry.get("st", ""),
        "at": entry.get("at", ""),
        "t": t,
        "kinds": kinds,
        # A chat handed to a colleague: their console alerts them (a name, never the person's words).
        "transfer_to": next((e.get("op", "") for e in entry["ev"]
                             if e.get("kind") == ev.CLAIMED and e.get("via") == "transfer"), ""),
    }, ident)
