"""Fixtures for the browser tests (a pytest plugin, see conftest.py): Debian's
chromium driven by Playwright, and the screenshots it takes.

``shot`` writes to the test's temporary folder, or with ``UPDATE_SCREENSHOTS=1``
to ``docs/screenshots/`` (shown in the README; review them before committing).
"""
from __future__ import annotations

import contextlib
import os
import threading
import urllib.parse
import urllib.request

import pytest

from tests.fixtures_console import PASSWORD, console_settings
from tests.helpers import REPO, inbound, sign

CHROMIUM = "/usr/bin/chromium"
SHOTS = REPO / "docs" / "screenshots"
PERSON = "+15550001142"

# The browser's sound and notification APIs, recorded instead of played or shown: what the
# console asks of them is the behaviour under test (window.__tones, window.__notes).
ALERT_STAND_INS = """
window.__tones = 0;
window.__notes = [];
window.AudioContext = function () {
  this.state = "running"; this.currentTime = 0; this.destination = {};
  this.resume = function () { return Promise.resolve(); };
  this.createOscillator = function () {
    window.__tones++;
    return { frequency: {}, connect: function () {}, start: function () {}, stop: function () {} };
  };
  this.createGain = function () {
    return { gain: { setValueAtTime: function () {}, exponentialRampToValueAtTime: function () {} }, connect: function () {} };
  };
};
window.Notification = function (title, options) { window.__notes.push({ title: title, options: options || {} }); this.close = function () {}; };
Object.defineProperty(window.Notification, "permission", {
  get: function () { return localStorage.getItem("stand-in.permission") || "default"; } });
window.Notification.requestPermission = function () {
  localStorage.setItem("stand-in.permission", "granted");
  return Promise.resolve("granted");
};
"""


class Watched:
    """The browser, each of whose pages reports what the console's Content-Security-Policy refused."""

    def __init__(self, browser):
        self._browser = browser
        self.refused: list[str] = []

    def new_page(self, **options):
        page = self._browser.new_page(**options)
        page.on("console", lambda m: self.refused.append(m.text)
                if m.type == "error" and "Content Security Policy" in m.text else None)
        return page

    def __getattr__(self, name):
        return getattr(self._browser, name)


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        watched = Watched(chromium)
        try:
            yield watched
        finally:
            chromium.close()
        # Every page of the test worked under the policy: nothing it needs was refused.
        assert watched.refused == [], watched.refused


def text(base: str, body: str, sender: str = PERSON) -> None:
    """The person texts ``body``: a webhook signed as Twilio signs it, over HTTP."""
    url = base + "/twilio/messages"
    form = inbound(body, sender=sender)
    request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(),
                                     headers={"X-Twilio-Signature": sign(url, form)})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def answering(page, base: str) -> None:
    """On duty, a person (··42) asks for a person, and the page answers them from the Live list."""
    page.click("text=Go on duty")
    text(base, "hola")
    text(base, "PERSONA")
    page.goto(base + "/ops/")
    page.locator(".queue .card", has_text="··42").locator("button", has_text="Answer").click()


@pytest.fixture
def shot(tmp_path):
    folder = SHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path

    def take(page, name: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
        assert (folder / f"{name}.png").stat().st_size > 10_000  # a page, not a blank

    return take


def sign_in_page(page, base: str, name: str = "rita") -> None:
    """Sign ``page`` in to the console at ``base`` as ``name`` (tests' PASSWORD), by its form."""
    page.goto(base + "/ops/login")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


@contextlib.contextmanager
def serving(app):
    """``app`` under werkzeug's threaded server on a free port; yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    app.config["PUBLIC_URL"] = base  # the URL the signed texts call
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def live_server(redis_client, redis_url, tmp_path, twilio_api):
    """The console's app, served, with Rita (a responder); yields its base URL and the app."""
    from bot import create_app
    from bot.config import TestConfig

    app = create_app(TestConfig(redis_url, str(tmp_path), **console_settings(twilio_api)))
    app.extensions["ops"].accounts.add("rita", "responder", PASSWORD)
    with serving(app) as base:
        yield base, app
