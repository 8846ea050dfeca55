"""The Twilio Voice webhook: the same flows by phone call.

``POST /twilio/voice`` answers a call and each key or phrase of it;
``POST /twilio/voice/dialed`` hears how putting the caller through went;
``POST /twilio/voice/status`` is the number's call status callback, and
erases the call when it is over. All three are signed and checked exactly
as the messaging webhook's requests are (bot/web/webhook.py): refused from
their headers when they cannot be a signed Twilio form, 403 on a bad
signature. A validly signed request always gets 200: when anything fails,
the caller hears the fail-safe numbers in both languages, and the call ends.

``GET /voice/audio/<file>`` serves the recorded audio of flows/audio/ that
``<Play>`` names: Twilio fetches it without a signature, so it lives outside
``/twilio/``, where every request must be signed.
"""
from __future__ import annotations

import logging
import os

from flask import Blueprint, Flask, Response, current_app, request, send_from_directory

from .. import metrics
from ..helpline import safe_error
from ..store import STORE_DOWN, StoreError
from ..voice_calls import CallSettings, VoiceCalls
from .webhook import TWIML, forbidden, refuse_early, signed

bp = Blueprint("voice", __name__)
log = logging.getLogger(__name__)

AUDIO_DIR = "audio"


@bp.before_request
def _refuse() -> Response | None:
    """Every call route under /twilio/ is signed and checked before it runs, as a text is."""
    if not request.path.startswith("/twilio/"):  # the audio files: public recordings, no signature
        return None
    refused = refuse_early()
    if refused is None and not signed(request, current_app.config):
        refused = forbidden()
    return refused


def init_app(app: Flask) -> None:
    cfg = app.config
    public = cfg["PUBLIC_URL"] or ""
    settings = CallSettings(
        public_url=public,
        voices=dict(cfg["VOICE_NAMES"]),
        languages=tuple(cfg["VOICE_LANGUAGES"]),
        responder=cfg["VOICE_RESPONDER_NUMBER"],
        hotline=cfg["VOICE_HOTLINE_NUMBER"],
        audio_url=lambda path: f"{public}/voice/{path}",
    )
    calls = VoiceCalls(app.extensions["helpline"], settings, cfg["SECRET_KEY"])
    app.extensions["voice"] = calls
    app.register_blueprint(bp)
    fs = app.extensions["content"].current()  # the flows loaded at start (None: broken, under a flask command)
    missing = [code for code in settings.languages if fs is not None and code not in fs.system.languages]
    if missing:
        log.warning("VOICE_LANGUAGES names %s, which the flows do not have (flows/system.yaml `languages`): "
                    "calls offer %s", ", ".join(missing), ", ".join(calls.offered_languages(fs)))


def _calls() -> VoiceCalls:
    return current_app.extensions["voice"]


def _silence() -> int:
    try:
        return max(0, min(int(request.args.get("silence", "0")), 99))
    except ValueError:
        return 0


@bp.post("/twilio/voice")
def call() -> Response:
    with metrics.Timer() as timer:
        calls = _calls()
        try:
            if request.form.get("Digits") or request.form.get("SpeechResult"):
                metrics.RECEIVED["voice"].inc()
            answer = calls.answer(request.form, at=request.args.get("at", ""), silence=_silence())
        except Exception as exc:  # noqa: BLE001 - a caller must never hear silence or an error
            if isinstance(exc, (*STORE_DOWN, StoreError)):
                metrics.REDIS_ERRORS.inc()
            answer = calls.without_store(request.form)
            if answer is None:
                log.error("call turn failed, said the fail-safe: %s", safe_error(exc))
                answer = calls.failsafe()
            else:
                log.error("call turn failed; a quick exit, said goodbye and kept to be done: %s", safe_error(exc))
        metrics.ANSWERS[answer.outcome].inc()
    metrics.WEBHOOK_SECONDS.observe(timer.seconds)
    return Response(answer.twiml, mimetype=TWIML)


@bp.post("/twilio/voice/dialed")
def dialed() -> Response:
    calls = _calls()
    try:
        answer = calls.dialed(request.form, to=request.args.get("to", ""))
    except Exception as exc:  # noqa: BLE001
        if isinstance(exc, (*STORE_DOWN, StoreError)):
            metrics.REDIS_ERRORS.inc()
        log.error("after a dial, said the fail-safe: %s", safe_error(exc))
        answer = calls.failsafe()
    return Response(answer.twiml, mimetype=TWIML)


@bp.post("/twilio/voice/status")
def status() -> Response:
    try:
        _calls().hung_up(request.form)
    except Exception as exc:  # noqa: BLE001 - spooled, and erased once Redis answers (bot/spool.py)
        log.error("call not erased at hang-up yet, kept to be done: %s", safe_error(exc))
    return Response(status=204)


@bp.get("/voice/audio/<path:name>")
def audio(name: str) -> Response:
    folder = os.path.join(current_app.config["FLOWS_DIR"], AUDIO_DIR)
    return send_from_directory(folder, name)
