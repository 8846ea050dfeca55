"""What an anonymous sender can make the server do, at the edge.

* Webhook requests that cannot be signed Twilio forms (no signature header,
  another content type, a body over the cap) are refused from their headers:
  the body is never read. A ``wsgi.input`` that fails the test when read
  shows it.
* Every request's body is capped: small for the webhook and the console,
  larger only for the flow editor's check and save.
* Forwarded headers are trusted only when ``PROXY_COUNT`` says a proxy sets
  them, and the sign-in throttle's address keys are bounded whatever they say.
* A failed signature check logs one line saying what was checked, never the
  body or the number.
* ``flask chat`` talks in the simulator's key space; warnings about the flows
  print where they are wanted, once.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from urllib.parse import urlencode

import pytest

from bot.web.limits import CONSOLE_MAX_BYTES, EDITOR_MAX_BYTES, TWILIO_MAX_BYTES
from tests.helpers import REPO, inbound, messages, post_signed, sign
from tests.fixtures_console import PASSWORD, csrf_token, sign_in

MESSAGES = "/twilio/messages"
STATUS = "/twilio/status"
FORM = "application/x-www-form-urlencoded"


class Unread:
    """A request body the server must not read: reading it fails the test."""

    read_from = []

    def read(self, *args):
        Unread.read_from.append(args)
        raise AssertionError("the body was read")

    readline = readlines = read

    def __iter__(self):
        return self.read()


def send_unread(client, path: str, content_type: str | None, length: int | None, headers: dict | None = None):
    environ = {"wsgi.input": Unread()}
    if length is not None:
        environ["CONTENT_LENGTH"] = str(length)
    if content_type:
        environ["CONTENT_TYPE"] = content_type
    return client.post(path, headers=headers or {}, environ_overrides=environ)


SIGNATURE = {"X-Twilio-Signature": "c29tZXRoaW5n"}  # present, and wrong: only its presence matters here

# (label, content type, Content-Length, headers, status)
REFUSED_UNREAD = [
    ("no signature header, a 300 MB upload", "multipart/form-data; boundary=x", 300_000_000, {}, 403),
    ("no signature header, a 4.9 MB form", FORM, 4_900_000, {}, 403),
    ("no signature header, a small form", FORM, 100, {}, 403),
    ("signed, a 300 MB upload", "multipart/form-data; boundary=x", 300_000_000, SIGNATURE, 413),
    ("signed, a small upload", "multipart/form-data; boundary=x", 1000, SIGNATURE, 415),
    ("signed, JSON", "application/json", 100, SIGNATURE, 415),
    ("signed, no content type", None, 100, SIGNATURE, 415),
    ("signed, a 4.9 MB form", FORM, 4_900_000, SIGNATURE, 413),
    ("signed, one byte over the cap", FORM, TWILIO_MAX_BYTES + 1, SIGNATURE, 413),
    ("signed, chunked (no Content-Length)", FORM, None, {**SIGNATURE, "Transfer-Encoding": "chunked"}, 411),
]


@pytest.mark.parametrize("path", [MESSAGES, STATUS])
@pytest.mark.parametrize("label,content_type,length,headers,status", REFUSED_UNREAD,
                         ids=[row[0] for row in REFUSED_UNREAD])
@pytest.mark.slow
def test_the_webhook_refuses_from_the_headers_without_reading_the_body(
        path, label, content_type, length, headers, status, client, redis_client):
    Unread.read_from.clear()
    resp = send_unread(client, path, content_type, length, headers)

    assert resp.status_code == status, resp.data
    assert Unread.read_from == []
    assert redis_client.dbsize() == 0


def test_a_signed_form_just_under_the_cap_is_answered(client):
    """The cap has room for the longest text Twilio sends, many times over."""
    longest = "🆘" * 1600  # 1,600 characters, 12 bytes each once form-encoded
    form = inbound(longest, sender="whatsapp:+5215550100061")
    assert len(urlencode(form)) < TWILIO_MAX_BYTES / 3
    resp = post_signed(client, MESSAGES, form)
    assert resp.status_code == 200 and messages(resp.data)


# --- the console's cap, and the editor's ---------------------------------------------------


def test_the_console_refuses_a_large_body_before_reading_it(make_console):
    app = make_console()
    client = app.test_client()
    for path in ("/ops/login", "/ops/duty", "/ops/flows/file/main.yaml/check"):
        Unread.read_from.clear()
        resp = send_unread(client, path, FORM, 300_000_000)
        assert resp.status_code in (401, 413), (path, resp.status_code)
        assert Unread.read_from == [], path


@pytest.mark.slow
def test_only_the_editor_may_send_more_than_the_console_cap(make_console, redis_client):
    app = make_console()
    app.extensions["ops"].accounts.add("ed", "editor", PASSWORD)
    # A YAML comment of accents: a quarter of a flow file's limit as UTF-8, over
    # the console's cap once form-encoded (each é is %C3%A9).
    between = "#" + "é" * (CONSOLE_MAX_BYTES // 5) + "\n"

    responder = app.test_client()
    assert sign_in(responder, "rita").status_code == 302
    token = csrf_token(responder, "/ops/")
    assert responder.post("/ops/duty", data={"on": "1", "pad": between, "csrf_token": token}).status_code == 413

    editor = app.test_client()
    assert sign_in(editor, "ed").status_code == 302
    headers = {"Accept": "application/json", "X-CSRFToken": csrf_token(editor, "/ops/flows")}
    main = (REPO / "flows" / "main.yaml").read_text(encoding="utf-8")
    fits = editor.post("/ops/flows/file/main.yaml/check", data={"text": main + between}, headers=headers)
    assert fits.status_code == 200, fits.data[:300]
    too_much = "#" + "x" * EDITOR_MAX_BYTES + "\n"
    refused = editor.post("/ops/flows/file/main.yaml/check", data={"text": main + too_much}, headers=headers)
    assert refused.status_code == 413
    # In JSON, as the editor's script reads it ("cannot reach the server" was what it said of an HTML page).
    assert "nothing was checked, saved or sent" in refused.json["error"] and "1024 KB" in refused.json["error"]


@pytest.mark.slow
def test_a_413_says_how_much_fits_and_what_to_do_in_the_shape_its_page_reads(make_console):
    """Whichever cap refused it: JSON ``{"error": ...}`` for the console's scripts (as every other
    refusal they read), a page for a plain form; the editor is told of flow files, a responder of what
    they wrote."""
    app = make_console()
    rita = app.test_client()
    assert sign_in(rita, "rita").status_code == 302
    token = csrf_token(rita, "/ops/")
    too_much = {"body": "x" * CONSOLE_MAX_BYTES, "csrf_token": token}
    for headers in ({"X-CSRFToken": token}, {"Accept": "application/json"}):
        refused = rita.post("/ops/simulator/send", data=too_much, headers=headers)
        assert refused.status_code == 413 and refused.is_json, headers
        said = refused.json["error"]
        assert "64 KB" in said and "nothing was checked, saved or sent" in said
        assert "Shorten what you wrote" in said and "flow file" not in said
    page = rita.post("/ops/simulator/send", data=too_much)
    assert page.status_code == 413 and page.mimetype == "text/html"
    assert "Too much at once" in page.text and "Shorten what you wrote" in page.text


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/usr/bin/chromium"), reason="/usr/bin/chromium is missing")
def test_the_flow_editor_says_a_paste_is_too_big_not_that_the_server_is_gone(browser, project, tmp_path, redis_url,
                                                                            redis_client):
    """Over 1 MiB: the console's JSON 413, or in production nginx's own HTML page (its
    ``client_max_body_size`` refuses first). Either way the editor says how much fits and that
    nothing was saved; it said "the console cannot reach the server" of a page it could not read."""
    from playwright.sync_api import expect

    from bot import create_app
    from bot.config import TestConfig
    from tests.fixtures_browser import serving, sign_in_page

    app = create_app(TestConfig(redis_url, str(tmp_path / "var"),
                                FLOWS_DIR=str(project / "flows"), LOCALES_DIR=str(project / "locales")))
    app.extensions["ops"].accounts.add("ed", "editor", PASSWORD)
    with serving(app) as base:
        page = browser.new_page()
        page.set_default_timeout(15_000)
        sign_in_page(page, base, "ed")
        page.goto(base + "/ops/flows/file/main.yaml")
        status = page.locator("#check-status")
        expect(status).to_contain_text("No problems", timeout=15_000)
        paste = "() => { const t = document.getElementById('yaml'); t.value += '#' + 'x'.repeat(%d) + '\\n';" \
                " t.dispatchEvent(new Event('input', {bubbles: true})); }" % (EDITOR_MAX_BYTES + 1)

        page.evaluate(paste)  # the console's own 413, in JSON
        expect(status).to_contain_text("nothing was checked, saved or sent", timeout=15_000)
        expect(status).to_contain_text("1024 KB")

        nginx = ("<html><head><title>413 Request Entity Too Large</title></head><body><center><h1>413 Request "
                 "Entity Too Large</h1></center><hr><center>nginx</center></body></html>")
        page.route("**/check", lambda route: route.fulfill(status=413, content_type="text/html", body=nginx))
        page.evaluate(paste)  # a proxy's page, in HTML
        expect(status).to_contain_text("more than the console takes at once (1 MB)", timeout=15_000)
        expect(status).to_contain_text("nothing of it was saved")
        expect(status).not_to_contain_text("cannot reach the server")


# --- forwarded headers and the sign-in throttle ---------------------------------------------


def failed_sign_ins(app, tries: int, forwarded_for) -> int:
    """``tries`` wrong passwords for different names, each from the address
    ``forwarded_for(i)`` claims; the status of the last."""
    client = app.test_client()
    status = None
    for i in range(tries):
        token = csrf_token(client)
        form = {"username": f"guess{i}", "password": "wrong-password", "csrf_token": token}
        resp = client.post("/ops/login", data=form, headers={"X-Forwarded-For": forwarded_for(i)})
        status = resp.status_code
    return status


@pytest.mark.slow
def test_x_forwarded_for_is_not_trusted_by_default(make_console):
    """Without a proxy that sets it, a new X-Forwarded-For per try must not
    make each try look like a new address (the throttle counts the socket's)."""
    app = make_console()
    assert failed_sign_ins(app, 13, lambda i: f"203.0.113.{i}") == 429


@pytest.mark.slow
def test_behind_a_proxy_an_ipv6_client_counts_by_its_64(make_console):
    """A subscriber holds a whole /64: rotating addresses within it is one place."""
    app = make_console(PROXY_COUNT=1)
    assert failed_sign_ins(app, 13, lambda i: f"2001:db8:1:2::{i + 1:x}") == 429


@pytest.mark.slow
def test_throttle_keys_are_bounded_whatever_the_header_says(make_console, redis_client):
    app = make_console(PROXY_COUNT=1)
    failed_sign_ins(app, 3, lambda i: "x" * 6000 + str(i))
    keys = [k for k in redis_client.scan_iter("hl:ops:{fail}:*")]
    assert keys and max(len(k) for k in keys) < 120, keys


# --- why a signature failed, in one line -----------------------------------------------------


@pytest.mark.slow
def test_a_failed_signature_logs_one_line_saying_what_was_checked(make_console, caplog):
    app = make_console(PUBLIC_URL="https://old.example")
    form = inbound("me quitaron el pasaporte", sender="+15550107777")
    url = "https://new.example" + MESSAGES
    with caplog.at_level(logging.WARNING, logger="bot.web.webhook"):
        resp = app.test_client().post(MESSAGES, data=form, base_url="https://new.example",
                                      headers={"X-Twilio-Signature": sign(url, form)})
        unsigned = app.test_client().post(MESSAGES, data=form)

    assert resp.status_code == 403 and unsigned.status_code == 403
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.web.webhook"]
    assert len(lines) == 2, lines
    mismatch, missing = lines
    assert "https://old.example/twilio/messages" in mismatch  # the URL it was checked against
    assert "new.example" in mismatch  # the host the request named: where PUBLIC_URL should point
    assert f"{len(form)} form field(s)" in mismatch
    assert "no X-Twilio-Signature header" in missing
    for line in lines:
        assert "pasaporte" not in line and "5550107777" not in line


@pytest.mark.slow
def test_without_public_url_every_webhook_request_is_refused_and_the_log_says_why(make_console, caplog):
    app = make_console(PUBLIC_URL=None)
    with caplog.at_level(logging.WARNING, logger="bot.web.webhook"):
        resp = post_signed(app.test_client(), MESSAGES, inbound("hola"))
    assert resp.status_code == 403
    assert any("PUBLIC_URL is not set" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("value,accepted", [
    ("https://example.org", "https://example.org"),
    ("https://example.org/", "https://example.org"),
    ("https://example.org/helpline", "https://example.org/helpline"),
    ("example.org", None),
    ("https://example.org/twilio/messages", None),
    ("https://example.org/?x=1", None),
])
def test_public_url_must_be_a_base_url(value, accepted, monkeypatch):
    from bot.config import Config

    monkeypatch.setenv("PUBLIC_URL", value)
    monkeypatch.setenv("SECRET_KEY", "test-secret")
    if accepted is None:
        with pytest.raises(SystemExit) as refused:
            Config()
        assert "PUBLIC_URL" in str(refused.value) and "README" in str(refused.value)
    else:
        assert Config().PUBLIC_URL == accepted


# --- flask commands ------------------------------------------------------------------------


def test_flask_chat_talks_in_the_simulators_key_space(app, redis_client):
    with app.app_context():  # as the flask command gives it
        result = app.test_cli_runner().invoke(args=["chat", "--no-segments"], input="hola\nEMERGENCIA\n")

    assert result.exit_code == 0, result.output
    assert "911" in result.output
    keys = sorted(redis_client.scan_iter("*"))
    assert keys and all(k.startswith("hl:sim:") for k in keys), keys


def test_flask_chat_lang_starts_in_that_language_and_refuses_an_unknown_one(app):
    with app.app_context():
        runner = app.test_cli_runner()
        spanish = runner.invoke(args=["chat", "--lang", "es", "--no-segments"], input="")
        unknown = runner.invoke(args=["chat", "--lang", "xx", "--no-segments"], input="")
    assert spanish.exit_code == 0, spanish.output
    assert "¿Qué desea hacer?" in spanish.output and "What would you like to do?" not in spanish.output
    assert unknown.exit_code == 2
    assert "unknown language 'xx'" in unknown.output
    known = unknown.output.split("known: ", 1)[1]
    assert {"en", "es"} <= set(re.findall(r"\b[a-z]{2}\b", known)), unknown.output


def test_flask_chat_channel_whatsapp_talks_as_a_whatsapp_contact(app, redis_client):
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["chat", "--channel", "whatsapp", "--no-segments"], input="hola\n")
    assert result.exit_code == 0, result.output
    assert "over whatsapp" in result.output and "¿Qué desea hacer?" in result.output
    sessions = [redis_client.get(k) for k in redis_client.scan_iter("hl:sim:*") if redis_client.type(k) == "string"]
    assert any('"whatsapp"' in (v or "") for v in sessions), sessions


def flask(args: list[str], tmp_path, **env) -> str:
    environ = {k: v for k, v in os.environ.items() if k not in ("TWILIO_AUTH_TOKEN", "PUBLIC_URL", "FLOWS_DIR")}
    environ.update(BOT_DATA_DIR=str(tmp_path / "var"), SECRET_KEY="test-secret", **env)
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=REPO, env=environ,
                          capture_output=True, text=True, timeout=60)
    return done.stdout + done.stderr


@pytest.mark.slow
def test_flow_warnings_print_once_and_only_where_asked_for(tmp_path, redis_url, redis_client):
    flows = tmp_path / "flows"
    shutil.copytree(REPO / "flows", flows)
    hotlines = flows / "hotlines.yaml"
    text = hotlines.read_text(encoding="utf-8")
    stale = text.replace("reviewed: ", "reviewed: 2001-01-01  # was ", 1)
    assert stale != text
    hotlines.write_text(stale, encoding="utf-8")

    checked = flask(["flows", "check"], tmp_path, REDIS_URL=redis_url, FLOWS_DIR=str(flows))
    other = flask(["translations", "check"], tmp_path, REDIS_URL=redis_url, FLOWS_DIR=str(flows))

    assert checked.count("2001-01-01") == 1, checked
    assert "2001-01-01" not in other, other
    assert "TWILIO_AUTH_TOKEN" not in other and "PUBLIC_URL" not in other, other
