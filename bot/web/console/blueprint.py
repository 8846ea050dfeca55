"""The console's one blueprint (``ops``, under ``/ops/``) and what every
console request goes through: sign-in, CSRF, roles, security headers, the
answer when Redis is out of reach. The routes are in the modules beside this
one, by area; :mod:`bot.web.console` imports them all.

Every route needs a signed-in operator (Flask-Login) but the sign-in page
and the stylesheet and script; every POST needs a CSRF token (Flask-WTF),
in the form or, from the script, in an ``X-CSRFToken`` header. Viewers see
the live list, the figures, the simulator and the flows; responders also take
hand-offs and switch the on-duty state; editors are responders who also
change the flows and their translations, publish and roll back. What the person wrote is shown only
in a hand-off, to the responder who holds it.

An open console keeps its responder on duty: every request renews it
(:func:`_guard`), as does the live stream while it is open.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass

import click
from flask import (Blueprint, Flask, Response, current_app, flash, jsonify, redirect, render_template, request,
                   session, url_for)
from flask_login import current_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from ...channels.twilio_rest import TwilioSender
from ...desk import Desk
from ...duty import Duty, DutyWatch
from ...engine.translations import language_name
from ...engine.yamlsource import MAX_BYTES
from ...figures import Figures
from ...flow_editing import FlowEditor, Paths
from ...helpline import safe_error
from ...live_sessions import LiveSessions
from ...store import ANSWERED_WITH_ERROR, CANNOT_SERVE, STORE_DOWN, SessionStore, Stores, cannot_serve, refusal
from .. import limits
from .accounts import EDITOR_ONLY, Accounts, Operator, Throttle, login_manager

log = logging.getLogger(__name__)

bp = Blueprint("ops", __name__, url_prefix="/ops", static_folder="../../static/ops", static_url_path="/static")
csrf = CSRFProtect()

SIGN_IN_HOURS = 12  # a sign-in lasts this long, then the console asks again
OPEN_ENDPOINTS = {"ops.login", "ops.static"}  # the only /ops routes that need no sign-in
LIST_LIMIT = 200  # rows in the live list (the most recent)


@dataclass
class Console:
    """What the console's views use, built once per app."""

    accounts: Accounts
    throttle: Throttle
    live_sessions: LiveSessions
    desk: Desk
    duty: Duty
    watch: DutyWatch
    figures: Figures
    flows: FlowEditor
    sim_store: SessionStore
    live_slots: object  # threading.BoundedSemaphore: live streams this process may hold


def console() -> Console:
    return current_app.extensions["ops"]


def wait_limit_minutes(cfg) -> int:
    """OPS_WAIT_LIMIT_MINUTES: past it, an unanswered card says "Waiting too long" and the
    person is told once that nobody is free yet (:meth:`bot.desk.Desk.tell_long_waits`)."""
    return max(1, int(cfg.get("OPS_WAIT_LIMIT_MINUTES") or 5))


def init_app(app: Flask) -> None:
    """Register the console: blueprint, sign-in, CSRF, and the ``flask ops`` commands."""
    cfg = app.config
    store: SessionStore = app.extensions["store"]
    stores: Stores = app.extensions["stores"]
    duty: Duty = app.extensions["duty"]
    live_sessions = LiveSessions(store, page=LIST_LIMIT)
    # The list's snapshot goes from memory once stale, console open or not (sessions erased since).
    background = app.extensions["background"]
    background.jobs.append(live_sessions.forget_stale)
    live_sessions.wake = background.wake
    sender = TwilioSender(cfg["TWILIO_ACCOUNT_SID"], cfg["TWILIO_AUTH_TOKEN"], cfg["TWILIO_MESSAGING_SERVICE_SID"],
                          cfg["TWILIO_FROM_NUMBER"], api_base=cfg["TWILIO_API_BASE"])
    desk = Desk(app.extensions["helpline"], live_sessions, sender, lock_wait=cfg["LOCK_WAIT"])
    desk.zone = cfg["OPS_TIMEZONE"]  # a refused reply says when WhatsApp's window closed, in the operators' time
    # Who has a console open (presence, renewed by every open console page): a chat held
    # by someone who has none goes back to the queue while others are on duty.
    # Past the wait limit an unanswered card turns amber, and the person is told once
    # that nobody is free yet, with the numbers (flows: the hand-off's still_waiting).
    watch = DutyWatch(duty, desk, present=lambda: store.presence.online(time.time()),
                      wait_limit=wait_limit_minutes(cfg) * 60)
    if not app.testing and click.get_current_context(silent=True) is None:
        watch.start()  # serving (not a flask command): this process looks for duty ending
    flows = FlowEditor(stores.drafts, stores.flows_audit, Paths(cfg["FLOWS_DIR"], cfg["LOCALES_DIR"]),
                       app.extensions["flows_version"], app.extensions["content"])
    app.extensions["flows_admin"] = flows
    app.extensions["ops"] = Console(
        accounts=Accounts(stores.accounts, cfg["OPS_PASSWORD_HASH"]),
        throttle=Throttle(stores.failed_sign_ins, secret=cfg["SECRET_KEY"]),
        live_sessions=live_sessions,
        desk=desk,
        duty=duty,
        watch=watch,
        figures=Figures(stores.figures, tz=cfg["OPS_TIMEZONE"], drop_after=cfg["OPS_DROPOFF_AFTER"]),
        flows=flows,
        sim_store=stores.simulator,
        live_slots=threading.BoundedSemaphore(max(1, cfg["OPS_LIVE_STREAMS"])),
    )
    # CSRF: checked by this blueprint only (the Twilio webhook is signed instead).
    cfg.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    # A console tab stays open all night: the token lives as long as the sign-in.
    cfg.setdefault("WTF_CSRF_TIME_LIMIT", None)
    cfg["SESSION_COOKIE_SAMESITE"] = "Lax"
    cfg["SESSION_COOKIE_SECURE"] = bool(cfg.get("OPS_SECURE_COOKIE"))
    csrf.init_app(app)  # with WTF_CSRF_CHECK_DEFAULT off its app-wide hook only returns; _guard protects
    login_manager.init_app(app)
    app.register_blueprint(bp)


@login_manager.user_loader
def _load_operator(user_id: str) -> Operator | None:
    return console().accounts.load(user_id)


@login_manager.unauthorized_handler
def _unauthorized():
    if request.method != "GET" or wants_data():
        return jsonify(error="Please sign in again."), 401
    return redirect(url_for("ops.login", next=request.full_path.rstrip("?")))


# Fetched by the script or a download, never shown as a page: a 401, not a redirect to sign in.
DATA_ENDPOINTS = {"ops.live_events", "ops.queue_fragment", "ops.sessions_json", "ops.handoff_entries",
                  "ops.figures_csv", "ops.flow_check"}


def wants_data() -> bool:
    accept = request.headers.get("Accept", "")
    return request.endpoint in DATA_ENDPOINTS or "text/event-stream" in accept or "application/json" in accept


bp.before_request(limits.editor_allows_more)  # registered first: runs before _guard reads the form


@bp.before_request
def _guard():
    if request.endpoint in OPEN_ENDPOINTS:
        if request.endpoint == "ops.login" and request.method == "POST":
            csrf.protect()
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if time.time() - session.get("ops_t", 0) > SIGN_IN_HOURS * 3600:
        console().accounts.sign_out(current_user)
        logout_user()
        session.pop("ops_t", None)
        flash("You were signed out after 12 hours. Please sign in again.", "info")
        return login_manager.unauthorized()
    csrf.protect()
    if current_user.can_respond:
        console().duty.renew(current_user.name)  # an open console keeps its responder on duty
    return None


@bp.errorhandler(CSRFError)
def _csrf_failed(exc: CSRFError):
    if wants_data() or request.headers.get("X-CSRFToken"):
        return jsonify(error="This page is out of date. Reload it and try again."), 400
    return render_template("ops/message.html", title="Please try again",
                           message="This form was open for too long, or was sent from another site. "
                                   "Go back, reload the page and try again."), 400


@bp.errorhandler(413)
def _too_large(exc):
    """Over the size a request may send (bot/web/limits.py), whichever cap refused it: the
    editor's script reads JSON, and a page of HTML would read to it as the server gone."""
    limit = request.max_content_length or current_app.config.get("MAX_CONTENT_LENGTH") or 0
    advice = (f"A flow file may hold at most {MAX_BYTES // 1024} KB: shorten it, or split it into two flows."
              if request.endpoint in limits.EDITOR_ENDPOINTS else "Shorten what you wrote, and send it again.")
    message = (f"That is more than the console takes at once ({limit // 1024} KB), so nothing was checked, saved or "
               f"sent. {advice}")
    if wants_data() or request.headers.get("X-CSRFToken"):
        return jsonify(error=message), 413
    return render_template("ops/message.html", title="Too much at once", message=message), 413


@bp.errorhandler(403)
def _forbidden(exc):
    if getattr(exc, "description", None) == EDITOR_ONLY:
        if wants_data() or request.headers.get("X-CSRFToken"):
            return jsonify(error=EDITOR_ONLY), 403
        return render_template("ops/message.html", title=EDITOR_ONLY,
                               message="Your account can read the conversations, their map and their translations, "
                                       "but not change them. Ask whoever runs the console for an editor account."), 403
    if wants_data():
        return jsonify(error="Only responders can do this."), 403
    return render_template("ops/message.html", title="Only responders can do this",
                           message="Your account can look at the console but not answer people. "
                                   "Ask whoever runs the console for a responder account."), 403


# --- what every console response says to the browser ------------------------------------------------

# Scripts and styles from this site only, no inline script (ops.js and
# flows.js are files; the pages carry none). Inline style *attributes* are
# allowed: the bars of the figures and the translation progress are drawn
# with a width from the server; an attribute can load nothing from elsewhere
# (default-src 'self') and run nothing. No framing (clickjacking),
# no plugins, forms post only here.
CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "style-src-attr 'unsafe-inline'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
# Mermaid puts a <style> element in each map it draws (flows_map.html only).
CSP_MAP = CSP.replace("style-src 'self'", "style-src 'self'; style-src-elem 'self' 'unsafe-inline'")
CACHEABLE = {"ops.static", "ops.vendor"}  # files: everything else is someone's live data


@bp.after_request
def _security_headers(response):
    headers = response.headers
    headers["Content-Security-Policy"] = CSP_MAP if request.endpoint == "ops.flow_map" else CSP
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"  # frame-ancestors, for browsers older than CSP 2
    # same-origin, not no-referrer: Flask-WTF checks the Referer of every form
    # sent over HTTPS; other sites never see a console address.
    headers["Referrer-Policy"] = "same-origin"
    if request.endpoint not in CACHEABLE or response.status_code >= 400:
        # Transcripts, the queue, figures: kept in no cache, on disk or in a proxy.
        headers["Cache-Control"] = "no-store"
    return response


STORAGE_DOWN = ("The console cannot use its storage (Redis) right now (it does not answer, or it is full or "
                "read-only, or cannot save to disk), so nothing was read or changed. Try again in a minute. If it "
                "lasts, GET /healthz says which: \"unreachable\", or why Redis cannot write (its log says more).")


def _storage_unavailable(exc):
    """Redis does not answer (down, stalled, a cluster without a majority), or answers that it cannot
    serve (full, read-only, loading, its disk failing, busy with a script): a 503 that says so, not a 500.
    Logged as one warning line, without a traceback: the error's type and where, and Redis's error code
    (never the error's text, which quotes the command, and with it a key or a message)."""
    log.warning("console: storage unavailable (%s): %s", refusal(exc) or "no answer", safe_error(exc))
    if request.endpoint == "ops.live_events":  # an EventSource gives up on an error status; this one retries
        return Response("retry: 5000\nevent: unavailable\ndata: {}\n\n", mimetype="text/event-stream")
    if wants_data() or request.headers.get("X-CSRFToken"):
        return jsonify(error=STORAGE_DOWN), 503
    # Rendered without the console's context processors and Flask-Login's,
    # which would ask Redis again for the operator and the duty.
    page = current_app.jinja_env.get_template("ops/unavailable.html").render(message=STORAGE_DOWN)
    return Response(page, 503, mimetype="text/html", headers={"Retry-After": "30"})


for _error in CANNOT_SERVE:
    bp.register_error_handler(_error, _storage_unavailable)


@bp.errorhandler(ANSWERED_WITH_ERROR)
def _answered_with_error(exc):
    """Redis answered with an error that redis-py gives no class of its own (MISCONF, BUSY, a script's
    command refused for want of memory...): when it is a refusal (bot/store/connection.py, REFUSALS),
    the same 503. Any other error Redis answers (WRONGTYPE, a script's own error) is a bug, and goes
    on to be one: a 500, with its traceback in the log."""
    if cannot_serve(exc):
        return _storage_unavailable(exc)
    raise exc


@bp.app_template_filter("ago")
def _ago(t: float) -> str:
    """'just now', '4 min ago', '2 h ago' (the script keeps it current)."""
    if not t:
        return "—"
    s = max(0, int(time.time() - t))
    if s < 60:
        return "just now"
    if s < 3600:
        return f"{s // 60} min ago"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min ago"
    return f"{s // 86400} d ago"


def local_time(t: float) -> dt.datetime:
    """``t`` in the operators' time zone (OPS_TIMEZONE, as the figures count days), as
    every time the console shows is written, and the page's script too: never the
    server's own zone."""
    return dt.datetime.fromtimestamp(t, console().figures.tz)


@bp.app_template_filter("clock")
def _clock(t: float) -> str:
    """'16:12', in the operators' time zone."""
    return local_time(t).strftime("%H:%M") if t else ""


@bp.context_processor
def _common():
    values = {"CHANNELS": CHANNEL_NAMES, "STATES": STATE_NAMES, "LANGS": language_names()}
    if current_user.is_authenticated:
        state = console().duty.state()
        values["duty"] = state
        values["me_on_duty"] = current_user.name in state.who
    return values


STATE_NAMES = {
    "new": "New",
    "choosing_language": "Choosing language",
    "in_flow": "With the bot",
    "handed_off": "Wants a person",
    "closed": "Ended",
    "opted_out": "Opted out (STOP)",
}
CHANNEL_NAMES = {"sms": "SMS", "whatsapp": "WhatsApp", "voice": "Phone call"}


def served_flows():
    """The flow set served now (looking for a newer published one), or None before any loaded."""
    content = current_app.extensions["content"]
    return content() if content.loaded else None


def language_names() -> dict[str, str]:
    """The English name (Babel's, as everywhere in the app) of each language the
    flows offer now: what a page and its script call them. Never asks Redis."""
    fs = current_app.extensions["content"].current()
    return {code: language_name(code) for code in (fs.system.languages if fs else ())}


def last_event_id() -> str:
    """The events stream's newest id, for a page's live updates to start after ('' if Redis is down)."""
    try:
        return current_app.extensions["stores"].events.last_id()
    except STORE_DOWN:
        return ""
