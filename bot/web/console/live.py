"""The live list and the queue: who is talking to the bot now, who waits for
a person; and going on and off duty, or pausing the staffed hours."""
from __future__ import annotations

import logging
import time

from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from ... import handoff_context
from ...desk import keywords_used
from ...duty import DutyState
from .accounts import responder_required
from .blueprint import CHANNEL_NAMES, LIST_LIMIT, bp, console, language_names, last_event_id, wait_limit_minutes

log = logging.getLogger(__name__)


@bp.app_template_global("wait_limit")
def _wait_limit() -> int:
    """Minutes after which a waiting card says "Waiting too long" (OPS_WAIT_LIMIT_MINUTES)."""
    return wait_limit_minutes(current_app.config)


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
                                 keywords_used(hand.entries), language_names(), CHANNEL_NAMES)


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


def _people(n: int) -> str:
    return "1 person is" if n == 1 else f"{n} people are"


@bp.post("/duty")
@responder_required
def duty():
    """Go on duty; go off duty (only oneself); or pause the staffed hours (a
    supervisor, for the whole line). Leaving while people wait first shows
    what will happen to them and asks to confirm (a page: works without JS)."""
    c = console()
    form = request.form
    if form.get("on") == "1":
        c.duty.switch(True, current_user.name)
        log.info("operator %s went on duty", current_user.name)
        flash("You are on duty. People who ask for a person now wait in the queue below.", "ok")
        return redirect(url_for("ops.live"))
    pause = form.get("pause") == "1"
    state = c.duty.state()
    if pause and not current_user.can_edit:
        flash("Only a supervisor (an editor account) can pause the line.", "error")
        return redirect(url_for("ops.live"))
    if pause and state.why != "hours":
        flash("The line is not open by the staffed hours right now: there is nothing to pause.", "info")
        return redirect(url_for("ops.live"))
    if not pause and current_user.name not in state.who:
        flash("You are not on duty, so there is nothing to go off.", "info")
        return redirect(url_for("ops.live"))
    queue = c.desk.queue(max_age=None)
    after = DutyState(False, "paused", until=state.until) if pause else c.duty.after_leaving(current_user.name)
    if queue and form.get("confirm") != "1":
        mine = sum(1 for w in queue if w.holder == current_user.name)
        return render_template("ops/duty_confirm.html", pause=pause, waiting=_people(len(queue)), after=after,
                               mine=mine)
    if pause:
        c.duty.pause(current_user.name)
        log.info("operator %s paused the staffed hours", current_user.name)
    else:
        c.duty.switch(False, current_user.name)
        log.info("operator %s went off duty", current_user.name)
    # What they held goes back to the queue, as at sign-out: no card may say they
    # are answering once they are gone (nobody on duty: the watch hands them back).
    back = 0 if pause else c.desk.unclaim_all(current_user.name)
    before, state = state, c.duty.state()
    if back:
        flash("The person you were answering went back to the queue." if back == 1 else
              f"The {back} people you were answering went back to the queue.", "info")
    if state.on and state.why == "hours":
        flash(f"You are off duty. The staffed hours keep the line open until {state.until.strftime('%a %H:%M')}: "
              "people who ask for a person wait in the queue.", "ok")
    elif state.on:
        others = ", ".join(state.who) if state.who else "the staffed hours"
        flash(f"You are off duty. Still on duty: {others}. People who ask for a person wait for them.", "ok")
    else:
        c.watch.kick()  # the people waiting get the numbers now, off this request
        lead = f"Line paused until {before.until.strftime('%a %H:%M')}" if pause else "Off duty"
        flash(f"{lead}, and nobody else is on duty: everyone waiting gets the hotline numbers and is back with "
              "the bot, and people who ask for a person get the numbers at once.", "ok")
    return redirect(url_for("ops.live"))
