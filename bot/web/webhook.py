"""The Twilio Messaging webhook, for SMS and WhatsApp.

The signature is checked before anything else is read or stored; a bad one
gets 403. What cannot be a signed Twilio form (no signature header, another
content type, no Content-Length, a body over ``TWILIO_MAX_BYTES``) is refused
from its headers, before its body is read. A validly signed request always gets 200: if anything
inside fails, the person gets the static fail-safe reply with the numbers
that matter.
"""
from __future__ import annotations

import logging

from flask import Blueprint, Request, Response, current_app, request

from .. import metrics
from ..channels import twilio
from ..helpline import safe_error
from ..store import STORE_DOWN, StoreError
from .limits import TWILIO_MAX_BYTES

bp = Blueprint("webhook", __name__)
log = logging.getLogger(__name__)

TWIML = "application/xml"


FORM = "application/x-www-form-urlencoded"


@bp.before_request
def refuse_early() -> Response | None:
    """Refuse what cannot be a signed Twilio form before a byte of its body is read.

    A missing signature, another content type, a body of unknown length or
    one over ``TWILIO_MAX_BYTES`` is answered from the headers alone, so an
    anonymous sender cannot make the server parse, hash or spool to disk a
    body it will refuse anyway.
    """
    req = request
    cfg = current_app.config
    if not cfg["TWILIO_AUTH_TOKEN"] or not cfg["PUBLIC_URL"]:
        missing = "TWILIO_AUTH_TOKEN" if not cfg["TWILIO_AUTH_TOKEN"] else "PUBLIC_URL"
        log.warning("refused POST %s: %s is not set, so no signature can be checked", req.path, missing)
        return forbidden()
    if not req.headers.get("X-Twilio-Signature"):
        log.warning("refused POST %s: no X-Twilio-Signature header (not a request from Twilio)", req.path)
        return forbidden()
    length = req.content_length  # None: no body, or a chunked one
    if length is None and req.environ.get("HTTP_TRANSFER_ENCODING"):
        # Twilio always says how long its form is. A chunked body would be
        # read up to the cap and quietly cut there.
        return Response("Length Required\n", 411, mimetype="text/plain")
    if length and length > TWILIO_MAX_BYTES:
        return Response(f"Payload Too Large: at most {TWILIO_MAX_BYTES} bytes\n", 413, mimetype="text/plain")
    if length and req.mimetype != FORM:  # no body is an empty form, whatever its type
        return Response(f"Unsupported Media Type: Twilio posts {FORM}\n", 415, mimetype="text/plain")
    return None


def signed(req: Request, cfg: dict) -> bool:
    """Check the signature against PUBLIC_URL + the path: the URL Twilio called.

    Never against the Host the request names: Twilio signs every host of an
    account with the same auth token, so a request signed for another host
    would pass. A mismatch is logged in one line saying what was checked,
    which is how a wrong PUBLIC_URL shows itself (never the body or the number).
    """
    url = twilio.signed_url(cfg["PUBLIC_URL"], req.path, req.query_string.decode("latin-1"))
    form = req.form  # the MultiDict itself: Twilio signs every value of a repeated key
    if twilio.signature_is_valid(cfg["TWILIO_AUTH_TOKEN"], url, form, req.headers.get("X-Twilio-Signature")):
        return True
    log.warning("refused POST %s: X-Twilio-Signature does not match %s with %d form field(s) and this "
                "TWILIO_AUTH_TOKEN; the request named host %r. If Twilio calls another URL, set PUBLIC_URL "
                "to its base", req.path, url, len(form), req.environ.get("HTTP_HOST", "")[:100])
    return False


def forbidden() -> Response:
    return Response("Forbidden: missing or invalid X-Twilio-Signature\n", 403, mimetype="text/plain")


def _status_url(cfg: dict, erased: bool = False) -> str:
    # The answer to a quick exit says so: its callback deletes it at Twilio.
    url = f"{cfg['PUBLIC_URL']}/twilio/status"
    return f"{url}?erased=1" if erased else url


@bp.post("/twilio/messages")
def messages() -> Response:
    with metrics.Timer() as timer:
        req, app = request, current_app
        cfg = app.config
        if not signed(req, cfg):
            return forbidden()
        channel = "sms"
        msg = None
        try:
            # A plain dict (the first value of each field, as MultiDict.get gives): werkzeug's
            # MultiDict.get raises and catches an exception for every absent field, and a text
            # lacks most of those parse_incoming asks for (buttons, lists, locations).
            msg = twilio.parse_incoming(req.form.to_dict())
            if msg is None:
                outcome, body = "silent", twilio.twiml([])
            else:
                channel = msg.channel
                metrics.RECEIVED[channel].inc()
                handled = app.extensions["helpline"].handle(msg)
                body = twilio.twiml(handled.replies, _status_url(cfg, handled.erased))
                outcome = "retry" if handled.turn is None else ("reply" if handled.replies or handled.queued else "silent")
                sent = len(handled.replies)
        except Exception as exc:  # noqa: BLE001 - the person must get an answer whatever failed
            if isinstance(exc, (*STORE_DOWN, StoreError)):
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
                body = twilio.twiml(handled.replies, _status_url(cfg, handled.erased))
                outcome, sent = ("reply" if handled.replies else "silent"), len(handled.replies)
        if outcome in ("reply", "failsafe") and sent:
            metrics.SENT[channel, "twiml"].inc(sent)
        metrics.ANSWERS[outcome].inc()
    metrics.WEBHOOK_SECONDS.observe(timer.seconds)
    return Response(body, mimetype=TWIML)


@bp.post("/twilio/status")
def status() -> Response:
    req, app = request, current_app
    if not signed(req, app.config):
        return forbidden()
    update = twilio.parse_status(req.form)
    if update is not None:
        try:
            app.extensions["helpline"].delivered(update, erased=req.args.get("erased") == "1")
        except Exception as exc:  # noqa: BLE001 - Twilio would retry; the status is not worth a 500
            log.error("delivery status not recorded: %s", safe_error(exc))
    return Response(status=204)
