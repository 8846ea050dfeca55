"""A hand-off, as the responder answering it sees it: the transcript, the
reply box, and claiming, putting back, handing back to the bot and ending it
(the actions themselves: :mod:`bot.desk`)."""
from __future__ import annotations

import logging
import time

from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from ...desk import HANDED_OFF, WHATSAPP_WINDOW, ActionRefused, ReplyFailed, keywords_used
from ...engine.translations import language_name
from ...helpline import safe_error
from ...store import STORE_DOWN, StoreError
from .accounts import responder_required
from .blueprint import bp, console, last_event_id, wants_data
from .wrapup import online_responders, outcome_asked

log = logging.getLogger(__name__)


def _status_callback() -> str:
    base = current_app.config["PUBLIC_URL"] or request.host_url.rstrip("/")
    return base + "/twilio/status"


# A word the person used during a hand-off that the bot answered at once
# (flows/keywords.yaml): what the responder reads in the chat, and on the
# queue's card (there without the person's own words).
KEYWORD_DONE = {
    "danger": "the bot sent them the emergency numbers",
    "help": "the bot sent them how to use the line, with the hotline numbers",
    "switch_language": "the bot now writes to them in {lang}",
}
KEYWORD_CARD = {
    "danger": "Asked for the emergency numbers",
    "help": "Asked for help (the hotline numbers)",
    "switch_language": "Changed language",
}


def keyword_label(entry) -> str:
    done = KEYWORD_DONE.get(entry.kind, "the bot answered it").format(lang=language_name(entry.lang))
    return f"They texted {entry.text}: {done}."


@bp.app_template_filter("keyword_card")
def _keyword_card(intent: str) -> str:
    return KEYWORD_CARD.get(intent, f"Used a keyword the bot answered ({intent})")


def _entries_json(conv) -> list[dict]:
    store = current_app.extensions["store"]
    statuses = store.statuses.of([e.sid for e in conv.entries if e.sid])
    found = []
    for e in conv.entries:
        item = {"who": e.who, "text": e.text, "by": e.by, "t": e.t, "kind": e.kind, "from": e.taken_from,
                "transferred": e.transferred, "note": e.note, "failed": e.failed, "near": e.near,
                "status": statuses.get(e.sid) or ("sent" if e.sid else ("not confirmed" if e.unsure else ""))}
        if e.who == "keyword":
            item["label"] = keyword_label(e)
            item["sent"] = list(e.sent)
        found.append(item)
    return found


def ended_how(c, conv: str) -> str:
    """'' while ``conv`` is a hand-off; else what became of it, for an open page to clear itself
    and say so: "gone" (no session: the person erased it, or it expired) or the session's state
    ("closed", "in_flow" ...). Needs nothing of an erased conversation: only that its session is
    not there. ``c``: the console. The session is read again (see LiveSessions.read_again)."""
    row = c.live_sessions.read_again(conv)
    if row is None:
        return "gone"
    return "" if row.state == HANDED_OFF else row.state


def _left(conv: str) -> str:
    """:func:`ended_how`, or '' when the storage cannot say now (the page learns it from its live updates)."""
    try:
        return ended_how(console(), conv)
    except (StoreError, *STORE_DOWN):
        return ""


def _refused(exc: ActionRefused, conv: str):
    if wants_data() or request.headers.get("X-CSRFToken"):
        return jsonify(error=str(exc)), 409
    flash(str(exc), "error")
    return redirect(url_for("ops.handoff", conv=conv))


@bp.get("/handoff/<conv>")
@responder_required
def handoff(conv: str):
    try:
        hand = console().desk.conversation(conv)
    except ActionRefused as exc:
        flash(str(exc), "info")
        return redirect(url_for("ops.live"))
    mine = hand.holder == current_user.name
    return render_template(
        "ops/handoff.html",
        hand=hand,
        row=hand.row.public(),
        mine=mine,
        used=keywords_used(hand.entries),
        entries=_entries_json(hand) if mine else [],
        window_open=hand.window_open(time.time()),
        window_closes=hand.window_closes,
        last_id=last_event_id(),
        replies_problem=console().desk.sender.problem(),
        last_note=_last_note(conv) if mine else None,
        REPLY_WINDOW_H=WHATSAPP_WINDOW // 3600,
    )


def _last_note(conv: str) -> dict | None:
    """The internal note left when this person's last chat ended (for the responder holding this one)."""
    try:
        return console().desk.last_note(conv)
    except (ActionRefused, StoreError):
        return None


@bp.get("/handoff/<conv>/entries.json")
@responder_required
def handoff_entries(conv: str):
    how = _left(conv)  # from the session itself: the live list's snapshot may be a moment old
    if how:
        return jsonify(ended=True, why=how, message="This hand-off has ended.")
    try:
        hand = console().desk.conversation(conv)
    except ActionRefused as exc:
        return jsonify(ended=True, why=_left(conv) or "ended", message=str(exc))
    mine = hand.holder == current_user.name
    return jsonify(
        ended=False,
        holder=hand.holder,
        mine=mine,
        entries=_entries_json(hand) if mine else [],
        window_open=hand.window_open(time.time()),
        window_closes=hand.window_closes,
    )


def _act(conv: str, action: str, done: str, **wrapup: str | None):
    c = console()
    try:
        getattr(c.desk, action)(conv, current_user.name, **wrapup)
    except ActionRefused as exc:
        return _refused(exc, conv)
    except StoreError as exc:
        log.error("operator action %s failed: %s", action, safe_error(exc))
        return _refused(ActionRefused("The person's conversation is busy right now. Try again."), conv)
    log.info("operator %s: %s", current_user.name, action)
    if action == "claim" and current_user.name not in c.duty.state().who:
        # Answering someone is being on duty: were the others to go off, the
        # people waiting would be handed back while this one is answered.
        c.duty.switch(True, current_user.name)
    if request.headers.get("X-CSRFToken"):
        return jsonify(ok=True, message=done)
    flash(done, "ok")
    if action in ("release", "close", "unclaim"):
        return redirect(url_for("ops.live"))
    return redirect(url_for("ops.handoff", conv=conv))


def _wrap_up(conv: str, action: str, done: str):
    """Release or close: both end the hand-off with the outcome the form names."""
    try:
        outcome, note = outcome_asked(request.form)
    except ActionRefused as exc:
        return _refused(exc, conv)
    return _act(conv, action, done, outcome=outcome, note=note)


@bp.post("/handoff/<conv>/claim")
@responder_required
def claim(conv: str):
    # The page says who it showed answering (the forms' "holder"): a claim made meanwhile wins.
    return _act(conv, "claim", "You are answering this person (and on duty while your console is open). "
                               "They see your replies as texts from the helpline.",
                seen_holder=request.form.get("holder"))


@bp.post("/handoff/<conv>/unclaim")
@responder_required
def unclaim(conv: str):
    return _act(conv, "unclaim", "Put back in the queue for someone else.")


@bp.post("/handoff/<conv>/release")
@responder_required
def release(conv: str):
    return _wrap_up(conv, "release", "Handed back to the bot. Their next text gets the main menu.")


@bp.post("/handoff/<conv>/close")
@responder_required
def close(conv: str):
    return _wrap_up(conv, "close", "Chat ended. If they write again, they start at the main menu.")


@bp.post("/handoff/<conv>/transfer")
@responder_required
def transfer(conv: str):
    to = request.form.get("to", "").strip()
    try:
        online = tuple(online_responders())
    except StoreError:
        online = ()
    try:
        console().desk.transfer(conv, current_user.name, to, request.form.get("note", ""), online)
    except ActionRefused as exc:
        return _refused(exc, conv)
    except StoreError as exc:
        log.error("operator transfer failed: %s", safe_error(exc))
        return _refused(ActionRefused("The person's conversation is busy right now. Try again."), conv)
    log.info("operator %s: transfer", current_user.name)
    flash(f"Handed to {to}. They see your note in the chat.", "ok")
    return redirect(url_for("ops.live"))


@bp.post("/handoff/<conv>/reply")
@responder_required
def reply(conv: str):
    text = request.form.get("text", "")
    try:
        console().desk.reply(conv, current_user.name, text, _status_callback())
    except ActionRefused as exc:
        if request.headers.get("X-CSRFToken"):
            # ``ended``: the chat is over (erased, back with the bot ...): the page clears itself.
            return jsonify(error=str(exc), maybe_sent=isinstance(exc, ReplyFailed) and exc.maybe_sent,
                           ended=_left(conv)), 409
        flash(str(exc), "error")
        return redirect(url_for("ops.handoff", conv=conv))
    except StoreError as exc:
        log.error("operator reply failed: %s", safe_error(exc))
        return _refused(ActionRefused("The person's conversation is busy right now. Nothing was sent; try again."),
                        conv)
    if request.headers.get("X-CSRFToken"):
        return jsonify(ok=True)
    flash("Sent.", "ok")
    return redirect(url_for("ops.handoff", conv=conv))
