"""Signing in and out of the console (what an account is, and the wait after
wrong passwords: :mod:`.accounts`)."""
from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from ...helpline import safe_error
from ...store import STORE_DOWN
from .accounts import AccountError, Accounts, Throttle
from .blueprint import SIGN_IN_HOURS, bp, console
from .wrapup import presence

log = logging.getLogger(__name__)


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
    c = console()
    back = 0
    if current_user.is_authenticated and current_user.can_respond:
        # The chats they hold go back to the queue: no card says "rita is
        # answering" with nobody there.
        try:
            back = c.desk.unclaim_all(current_user.name)
            presence().gone(current_user.name)
        except STORE_DOWN as exc:
            back = 0
            log.warning("chats not put back at sign-out: %s", safe_error(exc))
    # The sign-in ends on the server too: a copy of this cookie signs nobody in.
    c.accounts.sign_out(current_user)
    logout_user()
    session.clear()
    flash("You are signed out." + (f" The {back} chat(s) you were answering went back to the queue." if back else ""),
          "info")
    return redirect(url_for("ops.login"))
