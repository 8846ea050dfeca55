"""Fixtures for phone calls (tests/test_voice.py, tests/test_voice_check.py): the app with a responder
line, and a call that goes through the real webhook signed as Twilio signs it."""
from __future__ import annotations

import itertools

import pytest

from bot import create_app
from bot.channels import voice as twiml
from bot.config import TestConfig
from tests.helpers import sign

RESPONDER = "+15550009999"  # the responder line a call is put through to
HELPLINE_NUMBER = "+15559990000"
CALLER = "+15550002222"
VOICE = "/twilio/voice"
_sids = itertools.count(1)


@pytest.fixture
def call_app(redis_client, redis_url, tmp_path):
    """The app with a responder line, on the test Redis."""
    return create_app(TestConfig(redis_url, str(tmp_path), VOICE_RESPONDER_NUMBER=RESPONDER))


# --- the runner --------------------------------------------------------------------------------------


def new_call_sid() -> str:
    return f"CA{next(_sids):032d}"


def post(client, url: str, form: dict):
    """POST as Twilio does: ``url`` is absolute (PUBLIC_URL + path + query), signed as called."""
    base = "http://localhost"
    assert url.startswith(base), url
    resp = client.post(url[len(base):], data=form, headers={"X-Twilio-Signature": sign(url, form)}, base_url=base)
    assert resp.status_code in (200, 204), resp.status_code
    return resp


def rendered(got: twiml.Heard) -> list[str]:
    lines = [f"[{lang}] {text}" for lang, text in got.said]
    if got.dial:
        lines.append(f"<dial {got.dial}>")
    if got.hangup:
        lines.append("<hang up>")
    return lines


class Call:
    """One call through the webhook, following the URLs each answer names."""

    def __init__(self, app, caller: str = CALLER):
        self.app = app
        self.client = app.test_client()
        self.form = {"CallSid": new_call_sid(), "AccountSid": "AC" + "0" * 32, "From": caller,
                     "To": HELPLINE_NUMBER, "Direction": "inbound"}
        self.last: twiml.Heard | None = None
        self.answers: list[str] = []

    def _answer(self, url: str, extra: dict) -> list[str]:
        resp = post(self.client, url, {**self.form, "CallStatus": "in-progress", **extra})
        xml = resp.data.decode()
        self.answers.append(xml)
        self.last = twiml.heard(xml)
        return rendered(self.last)

    def start(self) -> list[str]:
        return self._answer("http://localhost" + VOICE, {})

    def press(self, key: str) -> list[str]:
        return self._answer(self.last.action, {"Digits": key})

    def say(self, words: str, confidence: str = "0.9") -> list[str]:
        return self._answer(self.last.action, {"SpeechResult": words, "Confidence": confidence})

    def silence(self) -> list[str]:
        return self._answer(self.last.redirect, {})

    def dialed(self, status: str, put_through: str | None = None) -> list[str]:
        """Twilio's report on the ``<Dial>``, with the sid of the call it placed."""
        return self._answer(self.last.dial_action, {"DialCallStatus": status, "DialCallSid": put_through or new_call_sid()})

    def hang_up(self) -> list[str]:
        resp = post(self.client, "http://localhost/twilio/voice/status", {**self.form, "CallStatus": "completed"})
        assert resp.status_code == 204
        return []

    @property
    def cid(self) -> str:
        return self.app.extensions["voice"].cid(self.form["CallSid"])


def start_in(call: Call, lang: str) -> None:
    call.start()
    call.press({"es": "1", "en": "2"}[lang])
