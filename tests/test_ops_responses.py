"""What every console response says to the browser, and what it says when Redis does not answer.

* Security headers: a Content-Security-Policy (scripts and styles from the
  console only, never in a frame), ``nosniff``, a referrer kept on the site,
  and ``Cache-Control: no-store`` on everything but the static files: a
  transcript or the queue is kept in no cache.
* Storage unavailable: with Redis stalled (a port that accepts connections
  and never answers, as ``tests/test_failure.py`` does it), every console
  page answers 503 "Storage unavailable", the data URLs a JSON 503, and the
  live stream an event that makes the browser try again. Before: 500.
"""
from __future__ import annotations

import socket

import pytest

from tests.fixtures_console import console_settings, ops_routes, post_form, sign_in

pytestmark = pytest.mark.slow  # most tests here take a second or more: an app each, servers, waits

PATHS = {"<conv>": "c0ffee", "<path:name>": "main.yaml", "<rid>": "1", "<flow_id>": "main",
         "<path:filename>": "mermaid/mermaid.min.js"}
STATIC = ("/ops/static/", "/ops/vendor/")


def pages(app) -> list[str]:
    """Every GET route of the console, with made-up values in its path."""
    found = []
    for method, path in ops_routes(app):
        if method != "GET":
            continue
        for name, value in PATHS.items():
            path = path.replace(name, value)
        assert "<" not in path, path
        found.append(path)
    return found


def test_every_console_response_carries_the_security_headers(console_app):
    rita = console_app.test_client()
    sign_in(rita)
    checked = 0
    for path in [*pages(console_app), "/ops/login", "/ops/static/ops.js", "/ops/vendor/mermaid/mermaid.min.js"]:
        response = rita.get(path, headers={"Accept": "text/html"}, buffered=False)
        headers = response.headers
        csp = headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "default-src 'self'" in csp, path
        assert "unsafe-eval" not in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0], path
        assert headers.get("X-Content-Type-Options") == "nosniff", path
        assert headers.get("X-Frame-Options") == "DENY", path
        assert headers.get("Referrer-Policy") == "same-origin", path
        if path.startswith(STATIC):
            assert "no-store" not in headers.get("Cache-Control", ""), path
        else:
            assert headers.get("Cache-Control") == "no-store", (path, headers.get("Cache-Control"))
        response.close()
        checked += 1
    assert checked >= 20


def test_a_hand_off_transcript_and_its_json_are_never_stored(console_app):
    from tests.fixtures_console import ask_for_a_person, conv_of

    rita = console_app.test_client()
    sign_in(rita)
    post_form(rita, "/ops/duty", {"on": "1"})
    ask_for_a_person(console_app.test_client())
    conv = conv_of(console_app.extensions["store"].r)
    post_form(rita, f"/ops/handoff/{conv}/claim")
    for path in (f"/ops/handoff/{conv}", f"/ops/handoff/{conv}/entries.json", "/ops/queue", "/ops/sessions.json"):
        response = rita.get(path)
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store", path


def test_inline_scripts_would_not_run(console_app):
    """The pages carry no inline script (the policy would block it): every script is a file."""
    import re

    rita = console_app.test_client()
    sign_in(rita)
    for path in pages(console_app):
        if path.startswith(STATIC) or path.endswith((".json", ".csv", "/events")):
            continue
        page = rita.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), path
        assert not re.search(r"\son[a-z]+=\"", page), path


@pytest.fixture
def stalled_redis():
    """A TCP port that accepts connections and never answers: a Redis that stalls."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    yield f"redis://127.0.0.1:{sock.getsockname()[1]}/0"
    sock.close()


def test_every_console_page_says_storage_unavailable_while_redis_stalls(console_app, stalled_redis, tmp_path,
                                                                        twilio_api):
    from bot import create_app
    from bot.config import TestConfig

    signed_in = console_app.test_client()
    sign_in(signed_in)
    cookie = signed_in.get_cookie("session").value
    # The same console (same secret), its Redis now stalled; the operator is signed in.
    stalled = create_app(TestConfig(stalled_redis, str(tmp_path), REDIS_TIMEOUT=0.1, **console_settings(twilio_api)))
    client = stalled.test_client()
    client.set_cookie("session", cookie)
    for path in pages(stalled):
        response = client.get(path, buffered=True)
        if path.endswith("/live/events"):
            assert response.status_code == 200 and "event: unavailable" in response.text, path
            assert "retry: 5000" in response.text
        elif path.endswith((".json", ".csv", "/queue", "/check")):
            assert response.status_code == 503, (path, response.status_code)
            assert "cannot use its storage" in (response.json or {}).get("error", ""), path
        else:
            assert response.status_code == 503, (path, response.status_code)
            assert "Storage unavailable" in response.text and "Redis" in response.text, path
            assert response.headers["Retry-After"] == "30"
            assert response.headers["Cache-Control"] == "no-store"
    # A form too: nothing changed, and it says so.
    response = client.post("/ops/duty", data={"on": "1"})
    assert response.status_code == 503 and "nothing was read or changed" in response.text
    # Signing in while Redis stalls: the same page, not a 500.
    anonymous = stalled.test_client()
    assert anonymous.get("/ops/login").status_code == 200
    token = anonymous.get("/ops/login").text.split('name="csrf-token" content="')[1].split('"')[0]
    response = anonymous.post("/ops/login", data={"username": "rita", "password": "x" * 12, "csrf_token": token})
    assert response.status_code == 503 and "Storage unavailable" in response.text


def test_every_console_page_says_storage_unavailable_while_redis_is_full(tmp_path, twilio_api):
    """Redis answers, but with an error: out of memory (maxmemory, noeviction). Before, the
    console's pages failed with a 500 and a traceback; now the same 503 as when it stalls."""
    from bot import create_app
    from bot.config import TestConfig
    from tests.fixtures_console import PASSWORD
    from tests.servers import RedisProcess

    server = RedisProcess(tmp_path / "full", maxmemory_policy="noeviction").start()
    try:
        app = create_app(TestConfig(server.url, str(tmp_path / "var"), **console_settings(twilio_api)))
        app.extensions["ops"].accounts.add("rita", "responder", PASSWORD)
        client = app.test_client()
        sign_in(client)
        server.client().config_set("maxmemory", "1")  # full: every write is refused with OOM
        for path in pages(app):
            response = client.get(path, buffered=True)
            if path.endswith("/live/events"):
                assert response.status_code == 200, path
            else:  # a page that only reads may still be served; one not for a responder is refused
                assert response.status_code in (200, 302, 403, 503), (path, response.status_code)
        response = post_form(client, "/ops/duty", {"on": "1"})
        assert response.status_code == 503 and "full or read-only" in response.text
        anonymous = app.test_client()
        token = anonymous.get("/ops/login").text.split('name="csrf-token" content="')[1].split('"')[0]
        response = anonymous.post("/ops/login", data={"username": "rita", "password": PASSWORD, "csrf_token": token})
        assert response.status_code == 503 and "Storage unavailable" in response.text
    finally:
        server.stop()
