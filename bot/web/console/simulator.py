"""``/ops/simulator``: talk to the bot in the browser, as a texter would.

The same :class:`~bot.helpline.Helpline` and engine as the webhook, with
its own store (keys under ``p:sim:``, events in ``p:sim:events``), so a
trial never shows in the live list or the figures, and never reaches Twilio.
Each browser gets a made-up address (``sim-<random>``, ``whatsapp:`` in
front for WhatsApp) kept in its console session; "Start again" erases that
conversation, as SALIR would, and makes a new address.

An editor can start a trial of **their draft** (``version=draft``): the
conversation then runs on the flow set built from their unpublished changes
(:meth:`bot.flow_editing.FlowEditor.draft_flows`), and the page says so. A
draft with problems cannot be tried; once it is published or discarded, the
trial goes back to the live conversations.
"""
from __future__ import annotations

import json
import secrets
import uuid

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from ...channels import whatsapp
from ...channels.twilio import IncomingMessage
from ...engine.segments import count_segments
from ...helpline import Helpline
from ...store import SIMULATOR_TTL
from .blueprint import bp, console

LOG_KEPT = 200  # lines of a trial conversation shown
SIM_TTL = SIMULATOR_TTL


def _settings() -> dict:
    sim = dict(session.get("sim") or {})
    if not sim.get("id"):
        sim = {"id": secrets.token_hex(6), "ch": sim.get("ch", "sms"), "lang": sim.get("lang", "es"),
               "duty": sim.get("duty", False)}
        session["sim"] = sim
    return sim


def _address(sim: dict) -> str:
    base = f"sim-{sim['id']}"
    return "whatsapp:" + base if sim["ch"] == "whatsapp" else base


def _draft_flows(sim: dict):
    """The editor's draft flow set when this trial runs on it, else None (the live set)."""
    if not sim.get("draft") or not current_user.can_edit:
        return None
    return console().flows.draft_flows(current_user.name)


def _flows(sim: dict):
    """What the trial runs on: a callable giving a FlowSet, as Helpline wants. A draft trial
    whose draft is gone or broken goes back to the live conversations, and says so."""
    if sim.get("draft"):
        fs = _draft_flows(sim)
        if fs is not None:
            return lambda: fs
        sim["draft"] = False
        session["sim"] = {**sim, "draft": False}
        flash("Your draft was published, discarded, or has problems: this trial now runs on the live conversations.",
              "info")
    return current_app.extensions["content"]


def _helpline(sim: dict, flows=None) -> Helpline:
    duty = bool(sim.get("duty"))
    return Helpline(console().sim_store, flows or _flows(sim), current_app.config["SECRET_KEY"],
                    lock_wait=current_app.config["LOCK_WAIT"], on_duty=lambda: duty)


def _send(sim: dict, text: str, choice: str | None = None) -> None:
    helpline = _helpline(sim)
    msg = IncomingMessage(address=_address(sim), channel=sim["ch"], text=text, message_sid=f"SIM{uuid.uuid4().hex}",
                          choice=choice)
    handled = helpline.handle(msg)
    lines = [{"who": "you", "text": text, "tap": bool(choice)}]
    # Why it went where it went (the keyword, answer, option or phrase of
    # understanding.yaml, the language found): for staff trying a change.
    for reading in handled.turn.readings if handled.turn else ():
        lines.append({"who": "why", "text": str(reading)})
    looks = [None] * len(handled.replies)
    if sim["ch"] == "whatsapp" and handled.turn is not None:  # buttons and lists, as WhatsApp shows them
        s = handled.turn.session
        looks = whatsapp.appearance(helpline.last_flows or helpline.flows(), s.position,
                                    s.state in ("in_flow", "choosing_language"), s.lang, handled.replies)
    for reply, look in zip(handled.replies, looks):
        seg = count_segments(reply)
        lines.append({"who": "bot", "text": reply, "seg": seg.segments, "enc": seg.encoding, "wa": look})
    if not handled.replies:
        state = handled.turn.session.state if handled.turn else ""
        note = ("(The bot stays quiet: the person is waiting for someone from the team. "
                "In the simulator nobody answers; text MENU to go back to the bot.)"
                if state == "handed_off" else "(No reply.)")
        lines.append({"who": "note", "text": note})
    log = current_app.extensions["stores"].simulator_log
    cid = helpline.cid(_address(sim))
    if handled.erased:
        # As SALIR erases a person's chat: nothing typed in the trial stays either
        # (staff may paste a real person's words to try a flow). Only the bot's line.
        log.delete(cid)
        lines = [line for line in lines if line["who"] == "bot"]
        lines.append({"who": "note", "text": "(The trial conversation was erased, as a person's is.)"})
    log.add(cid, [json.dumps(line, ensure_ascii=False) for line in lines], LOG_KEPT, SIM_TTL)


def _erase(sim: dict) -> None:
    helpline = _helpline(sim, current_app.extensions["content"])
    store = helpline.store
    cid = helpline.cid(_address(sim))
    opened = store.open_turn(cid, None, wait=current_app.config["LOCK_WAIT"])
    store.commit(opened, action="erase", fields=None, replies=[], opt_out=False)
    current_app.extensions["stores"].simulator_log.delete(cid)


@bp.get("/simulator")
def simulator():
    sim = _settings()
    _flows(sim)  # a draft trial whose draft is gone goes back to the live conversations
    sim = _settings()
    helpline = _helpline(sim, current_app.extensions["content"])  # only to read the trial
    lines = [json.loads(x) for x in current_app.extensions["stores"].simulator_log.read(helpline.cid(_address(sim)))]
    fields = helpline.store.load(helpline.cid(_address(sim))) or {}
    has_draft = bool(current_user.can_edit
                     and not console().flows.drafts.get(current_user.name).empty)
    return render_template("ops/simulator.html", sim=sim, lines=lines, has_draft=has_draft,
                           state=fields.get("st", ""), where=".".join(filter(None, (fields.get("flow"), fields.get("node")))))


@bp.post("/simulator/send")
def simulator_send():
    sim = _settings()
    text = request.form.get("text", "")
    _send(sim, text)
    return redirect(url_for("ops.simulator"))


@bp.post("/simulator/tap")
def simulator_tap():
    """A tap on a WhatsApp button or list row: its id, and its title as the text."""
    sim = _settings()
    choice = request.form.get("choice", "")[:200]
    _send(sim, request.form.get("title", "")[:100], choice=choice or None)
    return redirect(url_for("ops.simulator"))


@bp.post("/simulator/start")
def simulator_start():
    """Start again, as a texter of the chosen language and channel."""
    sim = _settings()
    _erase(sim)
    ch = request.form.get("channel", "sms")
    lang = request.form.get("lang", "es")
    sim = {"id": secrets.token_hex(6), "ch": ch if ch in ("sms", "whatsapp") else "sms",
           "lang": lang, "duty": request.form.get("duty") == "1", "draft": False}
    if request.form.get("version") == "draft":
        if not current_user.can_edit:
            flash("Only editors have drafts to try. This trial runs on the live conversations.", "info")
        elif _draft_flows({"draft": True}) is None:
            flash("Your draft is empty or has problems to fix first (open it under Flows). "
                  "This trial runs on the live conversations.", "error")
        else:
            sim["draft"] = True
    session["sim"] = sim
    fs = _flows(sim)()
    words = fs.keywords.languages.get(lang)
    if words:  # as `flask chat --lang es` does: the first text is the language's keyword
        _send(sim, sorted(words)[0].upper())
    return redirect(url_for("ops.simulator"))


@bp.post("/simulator/reset")
def simulator_reset():
    sim = _settings()
    _erase(sim)
    session["sim"] = {**sim, "id": secrets.token_hex(6), "draft": False}
    flash("The trial conversation was erased. Start a new one below.", "ok")
    return redirect(url_for("ops.simulator"))
