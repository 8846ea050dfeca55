"""The live list and the queue: who is talking to the bot now, who waits for
a person; and going on and off duty."""
from __future__ import annotations

import logging
import time

from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from ... import handoff_context
from ...desk import keywords_used
from .accounts import responder_required
from .blueprint import LANG_NAMES, LIST_LIMIT, bp, console, last_event_id

CHANNEL_NAMES = {"sms": "SMS", "whatsapp": "WhatsApp", "voice": "Phone call"}


@bp.app_template_global("wait_limit")
def _wait_limit() -> int:
    """Minutes after which a waiting card says "Waiting too long" (OPS_WAIT_LIMIT_MINUTES)."""
    return max(1, int(current_app.config.get("OPS_WAIT_LIMIT_MINUTES") or 5))


@bp.app_template_filter("waited_seconds")
def _waited_seconds(asked: float) -> float:
    return max(0.0, time.time() - float(asked or 0))


@bp.app_template_filter("waited")
def _waited(asked: float) -> str:
    """How long since they asked for a person: '3 min', '1 h 5 min' (queue.js keeps it current)."""
    s = int(_waited_seconds(asked))
    if s < 60:
        return "under a minute"
    if s < 3600:
        return f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60} min"


@bp.app_template_global("handoff_context")
def _handoff_context(hand) -> handoff_context.Context:
    """What the bot knows about the person of a hand-off, for the page's context panel (reads only)."""
    row = hand.row
    return handoff_context.build(console().desk.flows(), row.flags, row.history, row.lang, row.channel,
                                 keywords_used(hand.entries), LANG_NAMES, CHANNEL_NAMES)

log = logging.getLogger(__name__)


@bp.get("/")
def live():
    c = console()
    rows = c.live_sessions.rows(max_age=0)
    return render_template(
        "ops/live.html",
        queue=c.desk.queue(max_age=None),  # the snapshot just read
        rows=[r.public() for r in rows[:LIST_LIMIT]],
        total=c.live_sessions.total(max_age=None),
        last_id=last_event_id(),
        replies_problem=c.desk.sender.problem(),
    )


@bp.get("/queue")
def queue_fragment():
    """The queue's HTML, for the script to swap in when a hand-off changes."""
    return render_template("ops/_queue.html", queue=console().desk.queue())


@bp.get("/sessions.json")
def sessions_json():
    sessions = console().live_sessions
    rows = sessions.rows()
    return jsonify(sessions=[r.public() for r in rows[:LIST_LIMIT]], total=sessions.total(max_age=None))


@bp.post("/duty")
@responder_required
def duty():
    on = request.form.get("on") == "1"
    c = console()
    c.duty.switch(on, current_user.name)
    log.info("operator %s went %s duty", current_user.name, "on" if on else "off")
    if on:
        flash("You are on duty. People who ask for a person now wait in the queue below.", "ok")
        return redirect(url_for("ops.live"))
    state = c.duty.state()
    if state.on:
        others = ", ".join(state.who) if state.who else "the staffed hours"
        flash(f"You are off duty. Still on duty: {others}. People who ask for a person wait for them.", "ok")
    else:
        c.watch.kick()  # the people waiting get the numbers now, off this request
        flash("Off duty, and nobody else is on duty: everyone waiting gets the hotline numbers and is back with "
              "the bot, and people who ask for a person get the numbers at once.", "ok")
    return redirect(url_for("ops.live"))
