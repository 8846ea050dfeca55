"""Twilio Messaging, SMS and WhatsApp: signatures in, TwiML out.

Everything Twilio-specific lives here: checking ``X-Twilio-Signature`` (done
first, before anything is read or stored), turning the webhook form into an
:class:`IncomingMessage`, and turning replies into TwiML with the twilio
library's own :class:`MessagingResponse`.
"""
from __future__ import annotations

import functools
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

WHATSAPP_PREFIX = "whatsapp:"
# Twilio's own opt-out words on SMS: Twilio confirms these itself and refuses
# our reply (error 21610), so no TwiML reply is sent for them.
TWILIO_OPT_OUT_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"})

# What a person gets when anything inside fails (Redis down, a bug): static,
# in both languages, with the numbers that matter. Each fits 3 SMS segments.
# 233733 is a US short code: a text reaches it from a US phone only; from a
# Mexican phone, Mexico's line (800 5533 000) is the one that answers.
FAILSAFE_REPLIES = (
    "Sorry, we cannot answer right now. In danger: call 911. "
    "Free, confidential help 24/7: call 1-888-373-7888, or text 233733 from a US phone. Not police, not immigration. "
    "From a Mexican phone: 800 5533 000.",
    "Perdón, no podemos responder. En peligro: llame al 911. "
    "Línea 24/7, confidencial, no es policía ni migración: 1-888-373-7888; mensaje al 233733 desde cel. de EE. UU. "
    "Celular mexicano: 800 5533 000.",
)


@dataclass(frozen=True)
class IncomingMessage:
    """A message someone sent us, as much as the bot needs of it."""

    address: str  # the From value, e.g. "+15551234567" or "whatsapp:+15551234567"
    channel: str  # "sms" or "whatsapp"
    text: str
    media_count: int = 0
    message_sid: str | None = None
    choice: str | None = None  # WhatsApp: the id of the button or list row tapped (bot/engine/choices.py)
    line: str | None = None  # the To value: the helpline's own number (or whatsapp:+…) that was texted


@dataclass(frozen=True)
class StatusUpdate:
    message_sid: str
    status: str
    error_code: str | None = None
    to: str | None = None  # the person's address: the conversation whose message it is


def signed_url(public_url: str, path: str, query: str = "") -> str:
    """The URL Twilio signed: PUBLIC_URL (the base it calls) + the path and query."""
    return public_url + path + (f"?{query}" if query else "")


def signature_is_valid(auth_token: str | None, url: str, params, signature: str | None) -> bool:
    """Check X-Twilio-Signature with the twilio library's RequestValidator.

    ``params`` may be werkzeug's MultiDict: the library reads every value of
    a repeated key, as Twilio signs them. Twilio signs the URL it was given,
    which is PUBLIC_URL + the path, so one signature of that URL settles
    every genuine request; only a mismatch goes on to ``validate``, which
    also tries the URL with and without its port, as Twilio's own signing
    varies there. (``validate`` alone computes both every time: twice the
    hashing for every text. See BENCHMARKS.md, "Instructions per text".)
    """
    if not auth_token or not signature:
        return False
    validator = RequestValidator(auth_token)
    if hmac.compare_digest(validator.compute_signature(url, params).encode(), signature.encode()):
        return True
    return validator.validate(url, params, signature)


def _int(value: str | None) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0


def parse_incoming(form: Mapping[str, str]) -> IncomingMessage | None:
    """Turn the webhook form (field -> its first value) into an IncomingMessage; None if it has no sender."""
    address = (form.get("From") or "").strip()
    if not address:
        return None
    channel = "whatsapp" if address.startswith(WHATSAPP_PREFIX) else "sms"
    # A tapped WhatsApp button or list row: its id (ButtonPayload / ListId)
    # picks the choice; its title (ButtonText / ListTitle) is read only when the
    # id cannot be placed. A payload that is not one of our ids (a template
    # made elsewhere) is read as what was typed, as before.
    payload = form.get("ButtonPayload") or form.get("ListId") or ""
    choice = payload if "#" in payload else None
    text = (form.get("ButtonText") or form.get("ListTitle") if choice else payload) or form.get("Body") or ""
    media = _int(form.get("NumMedia"))
    kind = (form.get("MessageType") or "").lower()
    located = form.get("Latitude") is not None or form.get("Longitude") is not None
    if located or kind in MEDIA_TYPES:
        # A voice note, picture, sticker or shared location. A location's Body
        # can name the place: it is not read, and its coordinates never are.
        # A picture's, a video's or a document's Body is its caption, what the
        # person wrote: read as any text ("SALIR", "EMERGENCIA" under a photo).
        media, choice = max(media, 1), None
        text = text if kind in CAPTIONED and not located else ""
    return IncomingMessage(
        address=address,
        channel=channel,
        text=text,
        media_count=media,
        message_sid=(form.get("MessageSid") or form.get("SmsMessageSid") or None),
        choice=choice,
        line=(form.get("To") or "").strip() or None,
    )


# WhatsApp's MessageType for what is not text: answered as a picture is ("I can only read text").
MEDIA_TYPES = frozenset({"image", "audio", "video", "document", "sticker", "location", "contacts"})
CAPTIONED = frozenset({"image", "video", "document"})  # their Body is the caption the person typed


def parse_status(form) -> StatusUpdate | None:
    sid = form.get("MessageSid") or form.get("SmsSid")
    status = form.get("MessageStatus") or form.get("SmsStatus")
    if not sid or not status:
        return None
    return StatusUpdate(sid, status, form.get("ErrorCode") or None, (form.get("To") or "").strip() or None)


def twiml(replies: list[str] | tuple[str, ...], status_url: str | None = None) -> str:
    """``<Response>`` with one ``<Message>`` per reply (``<Response/>`` if none).

    ``status_url`` goes on the LAST message only, as its ``action``: Twilio
    continues a messaging response with the TwiML its ``action`` request
    returns, so verbs after a ``<Message action=…>`` are never reached
    (twilio.com/docs/messaging/twiml/message, "action"; the twilio library
    marks ``statusCallback`` on ``<Message>`` deprecated in its favour). On
    the last message nothing can be cut. Delivery statuses of the earlier
    messages come through the Messaging Service's own status callback when
    the number belongs to one (README, "Point Twilio at it").
    """
    return _twiml(tuple(replies), status_url)


# Characters XML 1.0 cannot hold (control characters, lone surrogates, U+FFFE/F).
# `flows check` refuses them in flows and translations; this is the last guard:
# one of them would make the whole response unreadable to Twilio, and the person
# would get nothing, where without it they get the reply.
_NOT_IN_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# Replies are the flows' own texts (their only placeholders are keywords and
# hotline numbers, never what a person wrote), so the same few hundred
# answers repeat and their XML is built once (BENCHMARKS.md, "What was cut").
# Bounded, and emptied whenever the process restarts. Never give it a text a
# person wrote: it would outlive their quick exit.
@functools.lru_cache(maxsize=1024)
def _twiml(replies: tuple[str, ...], status_url: str | None) -> str:
    response = MessagingResponse()
    for i, text in enumerate(replies, 1):
        text = _NOT_IN_XML.sub("", text)
        if status_url and i == len(replies):
            response.message(text, action=status_url, method="POST")
        else:
            response.message(text)
    return str(response)


def failsafe_twiml() -> str:
    return twiml(FAILSAFE_REPLIES)
