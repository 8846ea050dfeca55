"""The console's fixtures and helpers, for every test of it (a pytest plugin, see conftest.py).

* ``twilio_api``: a :class:`tests.twilio_standin.TwilioStandIn` for the
  test, the local stand-in of Twilio's REST API the app is pointed at with
  ``TWILIO_API_BASE``; it records every message the console asks Twilio to
  send and answers as Twilio does.
* ``console_app``: an app on the test Redis with replies configured to go
  to the stand-in, and two accounts (``rita`` the responder, ``vic`` the
  viewer).
* :func:`sign_in`, :func:`csrf_token`, :func:`text`: a browser's and a
  texter's actions through Flask's test client.
"""
from __future__ import annotations

import re

import pytest

from tests.helpers import inbound, messages, post_signed, stored_session
from tests.twilio_standin import ACCOUNT_SID, TwilioStandIn

PASSWORD = "a long enough password"


@pytest.fixture
def twilio_api():
    with TwilioStandIn() as stand_in:
        yield stand_in


def console_settings(twilio_api: TwilioStandIn) -> dict:
    return dict(TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_FROM_NUMBER="+15559990000", TWILIO_API_BASE=twilio_api.url)


@pytest.fixture
def make_console(redis_client, redis_url, tmp_path, twilio_api):
    """``make_console(**settings)``: the app, with replies going to the stand-in and two accounts."""
    from bot import create_app
    from bot.config import TestConfig

    made = []

    def make(**overrides):
        app = create_app(TestConfig(redis_url, str(tmp_path), **{**console_settings(twilio_api), **overrides}))
        accounts = app.extensions["ops"].accounts
        accounts.add("rita", "responder", PASSWORD)
        accounts.add("vic", "viewer", PASSWORD)
        accounts.add("rosa", "responder", PASSWORD)
        made.append(app)
        return app

    yield make
    for app in made:  # a watch still looking (or about to look again) must not touch the next test's data
        app.extensions["ops"].watch.stop()
        app.extensions["ops"].watch.join()


@pytest.fixture
def console_app(make_console):
    return make_console()


def csrf_token(client, path: str = "/ops/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def sign_in(client, name: str = "rita", password: str = PASSWORD, **kwargs):
    token = csrf_token(client)
    return client.post("/ops/login", data={"username": name, "password": password, "csrf_token": token}, **kwargs)


def post_form(client, path: str, data: dict | None = None, **kwargs):
    """A console form POST, with the page's CSRF token."""
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, "/ops/")}, **kwargs)


def text(client, body: str, sender: str = "+15550001142") -> list[str]:
    """The person texts ``body``; returns the bot's replies."""
    response = post_signed(client, "/twilio/messages", inbound(body, sender=sender))
    assert response.status_code == 200
    return messages(response.data)


def conv_of(redis_client, sender: str = "+15550001142") -> str:
    from bot.helpline import contact_id

    return stored_session(redis_client, f"hl:{{{contact_id('test-secret', sender)}}}:session").get("conv")


def ask_for_a_person(client, sender: str = "+15550001142") -> list[str]:
    """The person says hello, then asks for a person; returns the bot's replies to that."""
    text(client, "hola", sender)
    return text(client, "PERSONA", sender)


def ops_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every console route, with a made-up conversation id."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/ops/") or rule.endpoint in ("ops.login", "ops.static"):
            continue
        path = rule.rule.replace("<conv>", "c0ffee")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, path))
    return found


@pytest.fixture
def rita_on_duty(console_app):
    """``console_app``'s responder, signed in and on duty: people who ask for a person wait for her."""
    client = console_app.test_client()
    sign_in(client, "rita")
    assert post_form(client, "/ops/duty", {"on": "1"}).status_code == 302
    return client
