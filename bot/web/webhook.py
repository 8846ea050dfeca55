"""The Twilio Messaging webhook, for SMS and WhatsApp.

The signature is checked before anything else is read or stored; a bad one
gets 403. A validly signed request always gets 200: if anything inside fails,
the person gets the static fail-safe reply with the numbers that matter.
"""
from __future__ import annotations

import logging

import redis
from flask import Blueprint, Flask, Request, Response, current_app, request

from .. import metrics
from ..channels import twilio
from ..services import safe_error
from ..store import StoreError

bp = Blueprint("webhook", __name__)
log = logging.getLogger(__name__)

TWIML = "application/xml"


def _origin(req: Request) -> str:
    """``scheme://host`` as the client asked for it (after ProxyFix), plus the
    app's mount point. Worked out once per request: werkzeug validates the
    host on every ``request.host``."""
    env = req.environ
    return f"{env['wsgi.url_scheme']}://{req.host}{env.get('SCRIPT_NAME', '')}"


def _request_url(req: Request, origin: str) -> str:
    """The URL as the client asked for it, from the WSGI environ.

    werkzeug's ``request.url`` builds an IRI with full quoting rules, a fifth
    of a webhook's CPU; Twilio signs the plain URL it called.
    """
    env = req.environ
    query = env.get("QUERY_STRING")
    url = f"{origin}{env.get('PATH_INFO', '')}"
    return f"{url}?{query}" if query else url


def _signed(req: Request, cfg: dict, origin: str) -> bool:
    url = twilio.signed_url(_request_url(req, origin), cfg["PUBLIC_URL"], req.path, req.query_string.decode())
    return twilio.signature_is_valid(
        # The MultiDict itself: Twilio signs every value of a repeated key.
        cfg["TWILIO_AUTH_TOKEN"], url, req.form, req.headers.get("X-Twilio-Signature")
    )


def _forbidden() -> Response:
    return Response("Forbidden: missing or invalid X-Twilio-Signature\n", 403, mimetype="text/plain")


def _status_url(req: Request, cfg: dict, origin: str, erased: bool = False) -> str:
    # From the environ, not request.host_url (werkzeug's IRI building again).
    # The answer to a quick exit says so: its callback deletes it at Twilio.
    public = cfg["PUBLIC_URL"]
    url = f"{public}{req.environ.get('SCRIPT_NAME', '')}/twilio/status" if public else f"{origin}/twilio/status"
    return f"{url}?erased=1" if erased else url


def _current() -> tuple[Request, Flask]:
    """The request and the app themselves, looked up once: every attribute
    read through Flask's ``request`` / ``current_app`` proxies looks them up
    again (a dozen times per text)."""
    return request._get_current_object(), current_app._get_current_object()


@bp.post("/twilio/messages")
def messages() -> Response:
    with metrics.Timer() as timer:
        req, app = _current()
        cfg = app.config
        origin = _origin(req)
        if not _signed(req, cfg, origin):
            return _forbidden()
        channel = "sms"
        msg = None
        try:
            msg = twilio.parse_incoming(req.form)
            if msg is None:
                outcome, body = "silent", twilio.twiml([])
            else:
                channel = msg.channel
                metrics.messages_in(channel).inc()
                handled = app.extensions["helpline"].handle(msg)
                body = twilio.twiml(handled.replies, _status_url(req, cfg, origin, handled.erased))
                outcome = "retry" if handled.turn is None else ("reply" if handled.replies else "silent")
                sent = len(handled.replies)
        except Exception as exc:  # noqa: BLE001 - the person must get an answer whatever failed
            if isinstance(exc, (redis.RedisError, StoreError)):
                metrics.REDIS_ERRORS.inc()
            # A quick exit or an opt-out still gets its own line, and is done once Redis is back.
            handled = app.extensions["helpline"].without_store(msg) if msg is not None else None
            if handled is None:
                log.error("inbound message failed, sent the fail-safe reply: %s", safe_error(exc))
                outcome, body = "failsafe", twilio.failsafe_twiml()
                sent = len(twilio.FAILSAFE_REPLIES)
            else:
                log.error("inbound message failed; a quick exit or opt-out, answered and kept to be done: %s",
                          safe_error(exc))
                body = twilio.twiml(handled.replies, _status_url(req, cfg, origin, handled.erased))
                outcome, sent = ("reply" if handled.replies else "silent"), len(handled.replies)
        if outcome in ("reply", "failsafe") and sent:
            metrics.messages_out(channel, "twiml").inc(sent)
        metrics.replies(outcome).inc()
    metrics.WEBHOOK_SECONDS.observe(timer.seconds)
    return Response(body, mimetype=TWIML)


@bp.post("/twilio/status")
def status() -> Response:
    req, app = _current()
    if not _signed(req, app.config, _origin(req)):
        return _forbidden()
    update = twilio.parse_status(req.form)
    if update is not None:
        try:
            app.extensions["helpline"].delivered(update, erased=req.args.get("erased") == "1")
        except Exception as exc:  # noqa: BLE001 - Twilio would retry; the status is not worth a 500
            log.error("delivery status not recorded: %s", safe_error(exc))
    return Response(status=204)
