"""The operators' console under ``/ops/``: sign-in, live sessions, hand-offs.

Server-rendered pages; a little JavaScript (``bot/static/ops/ops.js``)
keeps the live list and an open hand-off up to date from a server-sent
event stream (``ops_events.py``) and sends replies without a reload. Every
page works without it, only without live updates.

Every route needs a signed-in operator (Flask-Login) but the sign-in page
and the stylesheet and script; every POST needs a CSRF token (Flask-WTF),
in the form or, from the script, in an ``X-CSRFToken`` header. Viewers see
the live list, the figures, the simulator and the flows; responders also take
hand-offs and switch the on-duty state; editors are responders who also
change the flows and their translations, publish and roll back. What the person wrote is shown only
in a hand-off, to the responder who holds it.

The figures (``ops_figures.py``), the simulator (``ops_sim.py``) and the
content pages (``ops_flows.py``: flows, their map, translations, reviews;
editing, publishing and rolling back for editors) are routes of the same
blueprint, in their own modules.
"""
from __future__ import annotations

import datetime as dt
import logging
import sys
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import click
import redis
from flask import (Blueprint, Flask, Response, current_app, flash, jsonify, redirect, render_template, request,
                   session, url_for)
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from redis.exceptions import RedisClusterException

from ..figures import Figures
from ..handoff import (ActionRefused, Desk, Directory, Duty, DutyWatch, Hours, HoursError, ReplyFailed, TwilioSender,
                       WHATSAPP_WINDOW, keywords_used)
from ..services import Cached, safe_error
from ..store import RedisStore, StoreError
from .auth import EDITOR_ONLY, ROLES, AccountError, Accounts, Operator, Throttle, login_manager, responder_required

log = logging.getLogger(__name__)

bp = Blueprint("ops", __name__, url_prefix="/ops", static_folder="../static/ops", static_url_path="/static")
csrf = CSRFProtect()

SIGN_IN_HOURS = 12  # a sign-in lasts this long, then the console asks again
OPEN_ENDPOINTS = {"ops.login", "ops.static"}  # the only /ops routes that need no sign-in


@dataclass
class Console:
    """What the console's views use, built once per app."""

    accounts: Accounts
    throttle: Throttle
    directory: Directory
    desk: Desk
    duty: Duty
    watch: DutyWatch
    figures: Figures
    sim_store: RedisStore
    live_slots: object  # threading.BoundedSemaphore: live streams this process may hold


def console() -> Console:
    return current_app.extensions["ops"]


def init_app(app: Flask) -> None:
    """Register the console: blueprint, sign-in, CSRF, and the ``flask ops`` commands."""
    import threading

    cfg = app.config
    store: RedisStore = app.extensions["store"]
    hours = None
    if cfg.get("HANDOFF_HOURS"):
        try:
            hours = Hours.parse(cfg["HANDOFF_HOURS"], cfg["OPS_TIMEZONE"])
        except HoursError as exc:
            raise SystemExit(f"{exc} (see README, Operators' console)") from None
    directory = Directory(store, page=LIST_LIMIT)
    sender = TwilioSender(cfg["TWILIO_ACCOUNT_SID"], cfg["TWILIO_AUTH_TOKEN"], cfg["TWILIO_MESSAGING_SERVICE_SID"],
                          cfg["TWILIO_FROM_NUMBER"], api_base=cfg["TWILIO_API_BASE"])
    duty = Duty(store, hours, ttl=cfg["OPS_DUTY_TTL"])
    if hours is not None:
        # Hours make "on duty" more than the p:duty flag RedisStore.on_duty reads.
        app.extensions["helpline"].on_duty = Cached(duty.is_on, seconds=2.0)
    desk = Desk(store, app.extensions["content"], directory, sender, lock_wait=cfg["LOCK_WAIT"])
    desk.zone = cfg["OPS_TIMEZONE"]  # a refused reply says when WhatsApp's window closed, in the operators' time
    watch = DutyWatch(duty, desk)
    if not app.testing and click.get_current_context(silent=True) is None:
        watch.start()  # serving (not a flask command): this process looks for duty ending
    app.extensions["ops"] = Console(
        accounts=Accounts(store.r, store.prefix),
        throttle=Throttle(store.r, store.prefix, secret=cfg["SECRET_KEY"]),
        directory=directory,
        desk=desk,
        duty=duty,
        watch=watch,
        figures=Figures(store.r, store.prefix, tz=cfg["OPS_TIMEZONE"], drop_after=cfg["OPS_DROPOFF_AFTER"]),
        sim_store=RedisStore(store.r, prefix=f"{store.prefix}:sim", session_ttl=3 * 3600, retry_window=600),
        live_slots=threading.BoundedSemaphore(max(1, cfg["OPS_LIVE_STREAMS"])),
    )
    # CSRF: checked by this blueprint only (the Twilio webhook is signed instead).
    cfg.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    # A console tab stays open all night: the token lives as long as the sign-in.
    cfg.setdefault("WTF_CSRF_TIME_LIMIT", None)
    cfg["SESSION_COOKIE_SAMESITE"] = "Lax"
    cfg["SESSION_COOKIE_SECURE"] = bool(cfg.get("OPS_SECURE_COOKIE"))
    hooks_before = list(app.before_request_funcs.get(None, ()))
    csrf.init_app(app)
    # With WTF_CSRF_CHECK_DEFAULT off, the hook Flask-WTF puts before every
    # request of the app only returns; _guard calls csrf.protect() itself. The
    # webhook paid for calling it on every text (~0.7 % of its CPU), so it goes.
    app.before_request_funcs[None] = hooks_before
    login_manager.init_app(app)
    # Flask-Login looks at its remember-me cookie after every response of the
    # app, and the Twilio webhook paid for that on every text (about 1 % of its
    # CPU). Only the console signs people in and out, so only its responses
    # get the hook (in this app's hooks for the blueprint: ``bp`` itself is
    # shared by every app the tests create).
    app.after_request_funcs[None].remove(login_manager._update_remember_cookie)
    app.after_request_funcs.setdefault(bp.name, []).append(login_manager._update_remember_cookie)
    from . import ops_events, ops_figures, ops_flows, ops_sim  # noqa: F401 - their routes join the blueprint

    ops_flows.init_app(app)
    app.register_blueprint(bp)


@login_manager.user_loader
def _load_operator(user_id: str) -> Operator | None:
    return console().accounts.load(user_id)


@login_manager.unauthorized_handler
def _unauthorized():
    if request.method != "GET" or _wants_data():
        return jsonify(error="Please sign in again."), 401
    return redirect(url_for("ops.login", next=request.full_path.rstrip("?")))


# Fetched by the script or a download, never shown as a page: a 401, not a redirect to sign in.
DATA_ENDPOINTS = {"ops.live_events", "ops.queue_fragment", "ops.sessions_json", "ops.handoff_entries",
                  "ops.figures_csv", "ops.flow_check"}


def _wants_data() -> bool:
    accept = request.headers.get("Accept", "")
    return request.endpoint in DATA_ENDPOINTS or "text/event-stream" in accept or "application/json" in accept


@bp.before_request
def _guard():
    if request.endpoint in OPEN_ENDPOINTS:
        if request.endpoint == "ops.login" and request.method == "POST":
            csrf.protect()
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if time.time() - session.get("ops_t", 0) > SIGN_IN_HOURS * 3600:
        console().accounts.sign_out(current_user._get_current_object())
        logout_user()
        session.pop("ops_t", None)
        flash("You were signed out after 12 hours. Please sign in again.", "info")
        return login_manager.unauthorized()
    csrf.protect()
    return None


@bp.errorhandler(CSRFError)
def _csrf_failed(exc: CSRFError):
    if _wants_data() or request.headers.get("X-CSRFToken"):
        return jsonify(error="This page is out of date. Reload it and try again."), 400
    return render_template("ops/message.html", title="Please try again",
                           message="This form was open for too long, or was sent from another site. "
                                   "Go back, reload the page and try again."), 400


@bp.errorhandler(403)
def _forbidden(exc):
    if getattr(exc, "description", None) == EDITOR_ONLY:
        if _wants_data() or request.headers.get("X-CSRFToken"):
            return jsonify(error=EDITOR_ONLY), 403
        return render_template("ops/message.html", title=EDITOR_ONLY,
                               message="Your account can read the conversations, their map and their translations, "
                                       "but not change them. Ask whoever runs the console for an editor account."), 403
    if _wants_data():
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


STORAGE_DOWN = ("The console cannot reach its storage (Redis) right now, so nothing was read or changed. "
                "Try again in a minute. If it lasts, check that Redis is running (GET /healthz says whether "
                "it answers).")


def _storage_unavailable(exc):
    """Redis does not answer (down, stalled, a cluster without a majority): a 503 that says so, not a 500."""
    log.error("console: storage unavailable: %s", safe_error(exc))
    if request.endpoint == "ops.live_events":  # an EventSource gives up on an error status; this one retries
        return Response("retry: 5000\nevent: unavailable\ndata: {}\n\n", mimetype="text/event-stream")
    if _wants_data() or request.headers.get("X-CSRFToken"):
        return jsonify(error=STORAGE_DOWN), 503
    # Rendered without the console's context processors and Flask-Login's,
    # which would ask Redis again for the operator and the duty.
    page = current_app.jinja_env.get_template("ops/unavailable.html").render(message=STORAGE_DOWN)
    return Response(page, 503, mimetype="text/html", headers={"Retry-After": "30"})


for _error in (redis.ConnectionError, redis.TimeoutError, redis.exceptions.ClusterError, RedisClusterException):
    bp.register_error_handler(_error, _storage_unavailable)


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


@bp.app_template_filter("clock")
def _clock(t: float) -> str:
    return dt.datetime.fromtimestamp(t).strftime("%H:%M") if t else ""


@bp.context_processor
def _common():
    values = {"CHANNELS": {"sms": "SMS", "whatsapp": "WhatsApp"}, "STATES": STATE_NAMES, "LANGS": LANG_NAMES}
    if current_user.is_authenticated:
        c = console()
        if current_user.can_respond:
            c.duty.renew(current_user.name)  # an open console keeps its responder on duty
        state = c.duty.state()
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
LANG_NAMES = {"en": "English", "es": "Spanish"}


# --- signing in and out ---------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """Only a path of this console: never an open redirect."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and parts.path.startswith("/ops/") and "\\" not in target:
            return target
    return url_for("ops.live")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("ops.live"))
    status = 200
    if request.method == "POST":
        c = console()
        name = request.form.get("username", "")
        password = request.form.get("password", "")
        ip = request.remote_addr or "?"
        device = _device(c.throttle, name)
        wait = c.throttle.attempt(name, ip, device)
        if wait:
            flash(f"Too many failed sign-ins. Wait {_seconds(wait)}, then try again.", "error")
            status = 429
        else:
            op = c.accounts.verify(name, password)
            if op is None:
                wait = c.throttle.wait(name, ip, device)
                message = "Wrong username or password."
                if wait:
                    message += f" Too many failed sign-ins: wait {_seconds(wait)} before the next try."
                flash(message, "error")
                status = 401
            else:
                c.throttle.succeeded(name, ip, device)
                session.clear()
                login_user(c.accounts.sign_in(op, SIGN_IN_HOURS * 3600))
                session["ops_t"] = time.time()
                log.info("operator %s signed in", op.name)
                response = redirect(_safe_next(request.args.get("next")))
                # This browser is now one the operator signs in from (see auth.py).
                response.set_cookie(c.throttle.device_cookie(op.name), c.throttle.new_device(op.name),
                                    max_age=c.throttle.DEVICE_DAYS * 86400, path=url_for("ops.live"),
                                    secure=current_app.config["SESSION_COOKIE_SECURE"], httponly=True,
                                    samesite="Strict")
                return response
    return render_template("ops/login.html", username=request.form.get("username", "")), status


def _device(throttle: Throttle, name: str) -> str | None:
    """The id of this browser if it signed in as ``name`` before (its device cookie), else None."""
    try:
        name = Accounts.check_name(name)
    except AccountError:
        return None
    return throttle.device(name, request.cookies.get(throttle.device_cookie(name)))


def _seconds(n: int) -> str:
    if n < 90:
        return f"{n} seconds"
    return f"{(n + 59) // 60} minutes"


@bp.post("/logout")
def logout():
    # The sign-in ends on the server too: a copy of this cookie signs nobody in.
    console().accounts.sign_out(current_user._get_current_object())
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("ops.login"))


# --- live sessions and the queue ---------------------------------------------------------------


LIST_LIMIT = 200  # rows in the live list (the most recent)


@bp.get("/")
def live():
    c = console()
    rows = c.directory.rows(max_age=0)
    return render_template(
        "ops/live.html",
        queue=c.desk.queue(max_age=None),  # the snapshot just read
        rows=[r.public() for r in rows[:LIST_LIMIT]],
        total=c.directory.total(max_age=None),
        last_id=_last_event_id(),
        replies_problem=c.desk.sender.problem(),
    )


@bp.get("/queue")
def queue_fragment():
    """The queue's HTML, for the script to swap in when a hand-off changes."""
    return render_template("ops/_queue.html", queue=console().desk.queue())


@bp.get("/sessions.json")
def sessions_json():
    directory = console().directory
    rows = directory.rows()
    return jsonify(sessions=[r.public() for r in rows[:LIST_LIMIT]], total=directory.total(max_age=None))


def _last_event_id() -> str:
    store: RedisStore = current_app.extensions["store"]
    try:
        last = store.r.xrevrange(store.events_key, count=1)
    except redis.RedisError:
        return ""
    if not last:
        return "0-0"
    ident = last[0][0]
    return ident.decode() if isinstance(ident, bytes) else ident


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


# --- a hand-off -------------------------------------------------------------------------------------


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
    done = KEYWORD_DONE.get(entry.kind, "the bot answered it").format(lang=LANG_NAMES.get(entry.lang, entry.lang))
    return f"They texted {entry.text}: {done}."


@bp.app_template_filter("keyword_card")
def _keyword_card(intent: str) -> str:
    return KEYWORD_CARD.get(intent, f"Used a keyword the bot answered ({intent})")


def _entries_json(conv) -> list[dict]:
    store: RedisStore = current_app.extensions["store"]
    sids = [e.sid for e in conv.entries if e.sid]
    statuses = {}
    if sids:
        pipe = store.r.pipeline(transaction=False)
        for sid in sids:
            pipe.hget(f"{store.prefix}:msg:{sid}", "status")
        statuses = {sid: (s.decode() if isinstance(s, bytes) else s) for sid, s in zip(sids, pipe.execute())}
    found = []
    for e in conv.entries:
        item = {"who": e.who, "text": e.text, "by": e.by, "t": e.t, "kind": e.kind,
                "status": statuses.get(e.sid) or ("sent" if e.sid else ("not confirmed" if e.unsure else ""))}
        if e.who == "keyword":
            item["label"] = keyword_label(e)
            item["sent"] = list(e.sent)
        found.append(item)
    return found


def _refused(exc: ActionRefused, conv: str):
    if _wants_data() or request.headers.get("X-CSRFToken"):
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
        last_id=_last_event_id(),
        replies_problem=console().desk.sender.problem(),
        REPLY_WINDOW_H=WHATSAPP_WINDOW // 3600,
    )


@bp.get("/handoff/<conv>/entries.json")
@responder_required
def handoff_entries(conv: str):
    try:
        hand = console().desk.conversation(conv)
    except ActionRefused as exc:
        return jsonify(ended=True, message=str(exc))
    mine = hand.holder == current_user.name
    return jsonify(
        ended=False,
        holder=hand.holder,
        mine=mine,
        entries=_entries_json(hand) if mine else [],
        window_open=hand.window_open(time.time()),
        window_closes=hand.window_closes,
    )


def _act(conv: str, action: str, done: str):
    c = console()
    try:
        getattr(c.desk, action)(conv, current_user.name)
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


@bp.post("/handoff/<conv>/claim")
@responder_required
def claim(conv: str):
    return _act(conv, "claim", "You are answering this person (and on duty while your console is open). "
                               "They see your replies as texts from the helpline.")


@bp.post("/handoff/<conv>/unclaim")
@responder_required
def unclaim(conv: str):
    return _act(conv, "unclaim", "Put back in the queue for someone else.")


@bp.post("/handoff/<conv>/release")
@responder_required
def release(conv: str):
    return _act(conv, "release", "Handed back to the bot. Their next text gets the main menu.")


@bp.post("/handoff/<conv>/close")
@responder_required
def close(conv: str):
    return _act(conv, "close", "Chat ended. If they write again, they start at the main menu.")


@bp.post("/handoff/<conv>/reply")
@responder_required
def reply(conv: str):
    text = request.form.get("text", "")
    try:
        console().desk.reply(conv, current_user.name, text, _status_callback())
    except ActionRefused as exc:
        if request.headers.get("X-CSRFToken"):
            return jsonify(error=str(exc), maybe_sent=isinstance(exc, ReplyFailed) and exc.maybe_sent), 409
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


# --- commands: flask --app app ops ... -------------------------------------------------------------


@bp.cli.command("add-user")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True,
              help="responder: takes hand-offs and replies; viewer: looks only; "
                   "editor: a responder who also edits, publishes and rolls back the flows.")
def add_user(name: str, role: str) -> None:
    """Create an operator (or change their role and password).

    The password is read from standard input: typed twice at a terminal,
    else the first line (``printf '%s\\n' "$PW" | flask --app app ops add-user ana --role viewer``).
    """
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        new = console().accounts.add(name, role, password)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    console().throttle.forget(name)  # a new password: any wait from guessing the old one goes
    name = name.strip().lower()
    click.echo(f"{'Added' if new else 'Updated'} {name} ({role})."
               + ("" if new else " Browsers signed in as them are signed out."))


@bp.cli.command("remove-user")
@click.argument("name")
def remove_user(name: str) -> None:
    """Remove an operator; their open consoles are signed out."""
    try:
        gone = console().accounts.remove(name)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    if not gone:
        raise click.ClickException(f"there is no operator {name!r}")
    click.echo(f"Removed {name}.")


@bp.cli.command("users")
def list_users() -> None:
    """List the operators and their roles."""
    for name, role in console().accounts.names():
        click.echo(f"{name}\t{role}")


@bp.cli.command("figures-update")
def figures_update() -> None:
    """Count the events not counted yet into the daily figures (for cron)."""
    n = console().figures.catch_up(max_batches=10_000)
    click.echo(f"Counted {n} new event entries.")
