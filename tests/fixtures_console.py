"""The console's fixtures and helpers, for every test of it (a pytest plugin, see conftest.py).

* :class:`TwilioStandIn`: a local HTTP server standing in for Twilio's REST
  API. The app is pointed at it with ``TWILIO_API_BASE``; it records every
  message the console asks Twilio to send and answers as Twilio does.
* ``console_app``: an app on the test Redis with replies configured to go
  to the stand-in, and two accounts (``rita`` the responder, ``vic`` the
  viewer).
* :func:`sign_in`, :func:`csrf_token`, :func:`text`: a browser's and a
  texter's actions through Flask's test client.
"""
from __future__ import annotations

import itertools
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from tests.helpers import inbound, messages, post_signed, stored_session

PASSWORD = "a long enough password"
ACCOUNT_SID = "AC" + "1" * 32


class TwilioStandIn:
    """Records ``POST /2010-04-01/Accounts/<sid>/Messages.json`` like Twilio's API would take it,
    and ``DELETE .../Messages/<sid>.json`` (a quick exit deleting Twilio's copies).

    ``stall``: a slow Twilio. Seconds to wait before the status line, then
    before the rest of the answer, e.g. ``(6,)`` (one long silence) or
    ``(3.5, 3.5)`` (an answer that trickles in: no silence long enough for a
    per-read timeout, 7 s in all). The message counts as taken (it is in
    ``requests``) as soon as the request has arrived, as at Twilio.
    """

    def __init__(self, fail_with: tuple[int, int] | None = None, stall: tuple[float, ...] = ()):
        self.requests: list[dict] = []
        self.fail_with = fail_with  # (HTTP status, Twilio error code) to answer with instead
        self.stall = stall
        self.answered: list[float] = []  # time.monotonic() when each answer was complete
        # DELETE .../Messages/<sid>.json: every sid asked for, in order, and for
        # some sids the answers to give first ((HTTP status, Twilio error code)),
        # before the 204 that says it is deleted.
        self.deleted: list[str] = []
        self.refuse: dict[str, list[tuple[int, int]]] = {}
        sids = itertools.count(1)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_DELETE(self):  # noqa: N802 - http.server's name
                sid = self.path.rsplit("/", 1)[-1].removesuffix(".json")
                outer.deleted.append(sid)
                refusals = outer.refuse.get(sid)
                if refusals:
                    status, code = refusals.pop(0)
                    data = json.dumps({"code": code, "message": "Cannot delete this resource", "status": status}).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                outer.requests.append({"path": self.path, "form": form, "auth": self.headers.get("Authorization")})
                if outer.stall:
                    self._answer_slowly(form)
                    return
                if outer.fail_with:
                    status, code = outer.fail_with
                    body = {"code": code, "message": f"The 'To' number {form.get('To')} is not valid.",
                            "status": status, "more_info": f"https://www.twilio.com/docs/errors/{code}"}
                else:
                    status = 201
                    body = {"sid": f"SM{next(sids):032x}", "status": "queued", "to": form.get("To"),
                            "body": form.get("Body"), "account_sid": ACCOUNT_SID}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _answer_slowly(self, form: dict) -> None:
                data = json.dumps({"sid": f"SM{next(sids):032x}", "status": "queued", "to": form.get("To"),
                                   "body": form.get("Body"), "account_sid": ACCOUNT_SID}).encode()
                parts = [b"HTTP/1.1 201 CREATED\r\n",
                         b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(data) + data]
                try:
                    for pause, part in zip(outer.stall, parts):
                        time.sleep(pause)
                        self.wfile.write(part)
                        self.wfile.flush()
                    if len(outer.stall) < len(parts):
                        self.wfile.write(b"".join(parts[len(outer.stall):]))
                except OSError:
                    pass  # the client stopped waiting and closed the connection
                outer.answered.append(time.monotonic())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> "TwilioStandIn":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def sent(self) -> list[dict]:
        return [r["form"] for r in self.requests]


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
