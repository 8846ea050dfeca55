"""Helpers shared by the tests: a signed Twilio request, TwiML parsing."""
from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

from twilio.request_validator import RequestValidator

AUTH_TOKEN = "test-auth-token"
_sids = itertools.count(1)


def new_sid() -> str:
    return f"SM{next(_sids):032d}"


def sign(url: str, params: dict, token: str = AUTH_TOKEN) -> str:
    """X-Twilio-Signature for ``url`` and ``params``, computed by the twilio library."""
    return RequestValidator(token).compute_signature(url, params)


def inbound(text: str = "hola", sender: str = "+15550001111", **extra) -> dict:
    """The form Twilio posts for an inbound SMS (or WhatsApp with a whatsapp: sender)."""
    form = {
        "MessageSid": new_sid(),
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": "whatsapp:+15559990000" if sender.startswith("whatsapp:") else "+15559990000",
        "Body": text,
        "NumMedia": "0",
    }
    form.update(extra)
    return form


def post_signed(client, path: str, form: dict, base: str = "http://localhost", token: str = AUTH_TOKEN, headers=None):
    """POST ``form`` to ``path`` with a valid Twilio signature."""
    h = {"X-Twilio-Signature": sign(base + path, form, token)}
    h.update(headers or {})
    return client.post(path, data=form, headers=h, base_url=base)


def messages(twiml: bytes | str) -> list[str]:
    """The texts of the <Message> elements of a TwiML response."""
    root = ET.fromstring(twiml)
    assert root.tag == "Response"
    return [m.text or "" for m in root.findall("Message")]
