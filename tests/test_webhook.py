"""The Twilio webhook, as Twilio sees it: labelled tables of requests and answers.

Modelled on nyaruka/courier's ``IncomingTestCase{Label, Data,
ExpectedRespStatus, ExpectedBodyContains}``: each row is one request (form,
signature, headers, settings) and what must come back. Every request is
signed (or deliberately mis-signed) with the twilio library's own
``RequestValidator``; a refused request must leave Redis untouched.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

import click
import pytest
from twilio.twiml.messaging_response import MessagingResponse

from bot import create_app
from bot.config import TestConfig
from bot.engine import render
from bot.helpline import contact_id
from tests.helpers import (AUTH_TOKEN, inbound, messages, new_sid, option, post_signed, real_flows, sign,
                           stored_session, stream_events)

LOCAL = "http://localhost"
INTERNAL = "http://internal:8000"  # what the app sees behind a proxy
PUBLIC = "https://public.example"  # what Twilio called, and signed
MESSAGES = "/twilio/messages"
STATUS = "/twilio/status"


@pytest.fixture
def make_app(redis_client, redis_url, tmp_path):
    """``make_app(**settings)``: an app on the (flushed) test Redis with TestConfig overrides."""

    def make(**overrides):
        return create_app(TestConfig(redis_url, str(tmp_path), **overrides))

    return make


@dataclass(frozen=True)
class Case:
    label: str
    form: dict
    status: int = 200
    contains: tuple[str, ...] = ()
    # The signature header: signed for ``sign_url`` with ``token`` over
    # ``signed_form`` (default: the form sent); no header if sign_url is None.
    sign_url: str | None = LOCAL + MESSAGES
    token: str = AUTH_TOKEN
    signed_form: dict | None = None
    base_url: str = LOCAL
    headers: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)


def post(client, case: Case, path: str = MESSAGES):
    headers = dict(case.headers)
    if case.sign_url is not None:
        headers["X-Twilio-Signature"] = sign(case.sign_url, case.signed_form or case.form, case.token)
    return client.post(path, data=case.form, headers=headers, base_url=case.base_url)


SMS_ES = inbound("hola", sender="+15550100001")
SMS_EN = inbound("hi there", sender="+15550100002")
WA_ES = inbound("Buenas tardes", sender="whatsapp:+5215550100003")
WA_BUTTON = inbound("", sender="whatsapp:+5215550100004", ButtonPayload="hola", ButtonText="Hola")
NUMBERS = option("numbers")  # main menu -> "What kind of help do you need?"
GREETING_ES = ("Hola. Esta es una línea de información confidencial", "SALIR", f"{NUMBERS}. Números de ayuda")
GREETING_EN = ("Hello. This is a confidential information line", "EXIT", f"{NUMBERS}. Numbers to call or text")
FORBIDDEN = ("Forbidden",)

INCOMING = [
    Case("sms, Spanish first text", SMS_ES, contains=GREETING_ES),
    Case("sms, English first text", SMS_EN, contains=GREETING_EN),
    Case("whatsapp, Spanish first text", WA_ES, contains=GREETING_ES),
    Case("whatsapp, tapped button payload read as the text", WA_BUTTON, contains=GREETING_ES),
    Case("no signature header", SMS_ES, 403, FORBIDDEN, sign_url=None),
    Case("signed with another auth token", SMS_ES, 403, FORBIDDEN, token="not-the-token"),
    Case("signed for the status URL", SMS_ES, 403, FORBIDDEN, sign_url=LOCAL + STATUS),
    Case("signed for another host", SMS_ES, 403, FORBIDDEN, sign_url="https://evil.example" + MESSAGES),
    Case("body changed after signing", SMS_ES, 403, FORBIDDEN, signed_form={**SMS_ES, "Body": "hi"}),
    Case("sender changed after signing", SMS_ES, 403, FORBIDDEN, signed_form={**SMS_ES, "From": "+15550109999"}),
    Case(
        "behind a proxy, PUBLIC_URL: signed for the public URL",
        SMS_ES,
        contains=GREETING_ES,
        sign_url=PUBLIC + MESSAGES,
        base_url=INTERNAL,
        settings={"PUBLIC_URL": PUBLIC, "PROXY_COUNT": 0},
    ),
    Case(
        # Twilio's signing varies on the port: a signature over the URL with
        # its default port written out is Twilio's too.
        "behind a proxy, PUBLIC_URL: signed for the public URL with its port written out",
        SMS_ES,
        contains=GREETING_ES,
        sign_url=PUBLIC.replace(".example", ".example:443") + MESSAGES,
        base_url=INTERNAL,
        settings={"PUBLIC_URL": PUBLIC, "PROXY_COUNT": 0},
    ),
    Case("a signature header that is not base64 at all", SMS_ES, 403, FORBIDDEN,
         headers={"X-Twilio-Signature": "\u00e9t\u00e9 \u00b1"}, sign_url=None),
    Case(
        "behind a proxy, PUBLIC_URL: signed for the internal URL",
        SMS_ES,
        403,
        FORBIDDEN,
        sign_url=INTERNAL + MESSAGES,
        base_url=INTERNAL,
        settings={"PUBLIC_URL": PUBLIC, "PROXY_COUNT": 0},
    ),
    Case(
        "behind a proxy that forwards the host: still checked against PUBLIC_URL",
        SMS_ES,
        contains=GREETING_ES,
        sign_url=PUBLIC + MESSAGES,
        base_url=INTERNAL,
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "public.example"},
        settings={"PUBLIC_URL": PUBLIC, "PROXY_COUNT": 1},
    ),
    Case(
        "signed for the host a trusted X-Forwarded-Host names, not PUBLIC_URL",
        SMS_ES,
        403,
        FORBIDDEN,
        sign_url="https://other.example" + MESSAGES,
        base_url=INTERNAL,
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "other.example"},
        settings={"PROXY_COUNT": 1},
    ),
    Case(
        "signed for another host of the same account, sent with that Host",
        SMS_ES,
        403,
        FORBIDDEN,
        sign_url="https://other.example" + MESSAGES,
        base_url="https://other.example",
    ),
    Case(
        "X-Forwarded-* not trusted by default (PROXY_COUNT unset)",
        SMS_ES,
        403,
        FORBIDDEN,
        sign_url="https://other.example" + MESSAGES,
        base_url=INTERNAL,
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "other.example"},
    ),
    Case(
        "no PUBLIC_URL: signed for the URL called",
        SMS_ES,
        403,
        FORBIDDEN,
        settings={"PUBLIC_URL": None},
    ),
    Case(
        "no TWILIO_AUTH_TOKEN: signed with the usual token",
        SMS_ES,
        403,
        FORBIDDEN,
        settings={"TWILIO_AUTH_TOKEN": None},
    ),
    Case(
        "no TWILIO_AUTH_TOKEN: signed with an empty token",
        SMS_ES,
        403,
        FORBIDDEN,
        token="",
        settings={"TWILIO_AUTH_TOKEN": None},
    ),
]


@pytest.mark.parametrize("case", INCOMING, ids=lambda c: c.label)
@pytest.mark.slow
def test_incoming(case: Case, make_app, redis_client):
    resp = post(make_app(**case.settings).test_client(), case)

    assert resp.status_code == case.status, resp.data
    body = resp.get_data(as_text=True)
    for text in case.contains:
        assert text in body
    if case.status == 403:
        assert redis_client.dbsize() == 0, "a refused request stored something"
    else:
        assert resp.mimetype == "application/xml"
        assert messages(resp.data), "a first text always gets an answer"
        sender = case.form["From"]
        fields = stored_session(redis_client, f"hl:{{{contact_id('test-secret', sender)}}}:session")
        assert fields["addr"] == sender
        assert fields["ch"] == ("whatsapp" if sender.startswith("whatsapp:") else "sms")


@pytest.mark.parametrize("path", [MESSAGES, STATUS])
def test_without_an_auth_token_every_request_is_refused(path, make_app, redis_client):
    client = make_app(TWILIO_AUTH_TOKEN=None).test_client()
    form = inbound("hola") if path == MESSAGES else {"MessageSid": new_sid(), "MessageStatus": "delivered"}

    for token in (AUTH_TOKEN, "", "anything"):
        assert post_signed(client, path, form, token=token).status_code == 403
    assert client.post(path, data=form).status_code == 403
    assert redis_client.dbsize() == 0


# --- TwiML -----------------------------------------------------------------------


def library_twiml(texts: list[str], action: str | None) -> str:
    """What the twilio library itself serialises for these replies, the
    status callback on the last one."""
    response = MessagingResponse()
    for i, text in enumerate(texts, 1):
        if action and i == len(texts):
            response.message(text, action=action, method="POST")
        else:
            response.message(text)
    return str(response)


def test_replies_are_twiml_messages_built_by_the_twilio_library(client):
    resp = post_signed(client, MESSAGES, inbound("hola"))

    root = ET.fromstring(resp.data)
    assert root.tag == "Response"
    assert [child.tag for child in root] == ["Message", "Message"]  # greeting, then the main menu
    assert resp.get_data(as_text=True) == library_twiml(messages(resp.data), LOCAL + STATUS)


# Twilio goes on with the TwiML a <Message action=...> request returns: any verb
# after such a message is never reached (twilio.com/docs/messaging/twiml/message).
MANY_MESSAGES = [["hola"], ["hi", NUMBERS, "1"], ["hi", "AYUDA"], ["hi", "EMERGENCY"]]


@pytest.mark.parametrize("texts", MANY_MESSAGES, ids=lambda t: " / ".join(t))
def test_only_the_last_message_carries_the_status_callback(texts, client):
    """Nothing can follow an ``action``, so no reply can be cut short by one."""
    sender = "+15550100077"
    for text in texts:
        resp = post_signed(client, MESSAGES, inbound(text, sender=sender))
    root = ET.fromstring(resp.data)

    assert len(root) >= 2, "a reply of several messages, where an early action would cut the rest"
    assert all(child.tag == "Message" for child in root)
    *earlier, last = root
    assert [m.attrib for m in earlier] == [{}] * len(earlier)
    assert last.attrib == {"action": LOCAL + STATUS, "method": "POST"}


def test_nothing_to_send_is_an_empty_response(client, redis_client):
    """SMS STOP is confirmed by Twilio itself; while opted out, texts get ``<Response/>``."""
    first = post_signed(client, MESSAGES, inbound("hola"))
    assert messages(first.data)

    for text in ("STOP", "hola", "1", "ayuda"):
        resp = post_signed(client, MESSAGES, inbound(text))
        assert resp.status_code == 200
        assert resp.mimetype == "application/xml"
        assert len(ET.fromstring(resp.data)) == 0, text
        assert resp.get_data(as_text=True) == str(MessagingResponse())

    again = post_signed(client, MESSAGES, inbound("START"))
    assert f"{NUMBERS}. Números de ayuda" in messages(again.data)[-1]


def test_whatsapp_stop_is_answered_by_the_bot(client):
    """Twilio only confirms opt-outs on SMS; on WhatsApp the bot must say it."""
    sender = "whatsapp:+5215550100099"
    post_signed(client, MESSAGES, inbound("hi", sender=sender))
    resp = post_signed(client, MESSAGES, inbound("STOP", sender=sender))
    assert messages(resp.data) == ["You will get no more messages from this number. Text START to start again. In danger, call 911 yourself. Hotline 24/7: 1-888-373-7888. From a Mexican phone: 800 5533 000."]
    assert messages(post_signed(client, MESSAGES, inbound("hi", sender=sender)).data) == []


# --- retries ---------------------------------------------------------------------


def test_a_retried_message_sid_gets_the_same_twiml_and_advances_once(client, redis_client):
    post_signed(client, MESSAGES, inbound("hi"))
    pick = inbound(NUMBERS)  # main menu -> "What kind of help do you need?"

    first = post_signed(client, MESSAGES, pick)
    retries = [post_signed(client, MESSAGES, pick) for _ in range(3)]

    assert "What kind of help do you need?" in messages(first.data)[0]
    assert all(r.status_code == 200 and r.data == first.data for r in retries)
    visits = [e for e in stream_events(redis_client) if e.get("node") == "by_need"]
    assert len(visits) == 1
    # Had a retry been processed, the same number would have picked an option
    # of "What kind of help do you need?"; a new text of it does that now, once.
    fs = real_flows()
    picked = fs.node(fs.node("numbers.by_need").options[int(NUMBERS) - 1].goto)
    if picked.kind == "branch":  # nowhere said: the branch's default (the US lines)
        picked = fs.node(picked.default)
    after = post_signed(client, MESSAGES, inbound(NUMBERS))
    assert messages(after.data)[:-1] == render.directory(fs, picked, "en")
    assert messages(after.data)[-1] == render.prompt(fs, fs.node("numbers.more"), "en")


# --- delivery status -----------------------------------------------------------------


STATUS_CASES = [
    ("delivered", {"MessageStatus": "delivered"}, 204, {"status": "delivered", "error": ""}),
    ("undelivered with an error code", {"MessageStatus": "undelivered", "ErrorCode": "30003"}, 204,
     {"status": "undelivered", "error": "30003"}),
    ("SMS-style field names", {"SmsStatus": "sent"}, 204, {"status": "sent", "error": ""}),
    ("no status in the form: nothing to record", {}, 204, None),
    ("unsigned", {"MessageStatus": "delivered", "unsigned": True}, 403, None),
    ("signed with another token", {"MessageStatus": "delivered", "token": "nope"}, 403, None),
]


@pytest.mark.parametrize("label,extra,status,recorded", STATUS_CASES, ids=[c[0] for c in STATUS_CASES])
def test_status_callback(label, extra, status, recorded, client, app, redis_client):
    extra = dict(extra)
    unsigned = extra.pop("unsigned", False)
    token = extra.pop("token", AUTH_TOKEN)
    sid = new_sid()
    form = {"MessageSid": sid, "AccountSid": "AC" + "0" * 32, "To": "+15550100001", **extra}

    if unsigned:
        resp = client.post(STATUS, data=form)
    else:
        resp = post_signed(client, STATUS, form, token=token)

    assert resp.status_code == status
    got = app.extensions["store"].statuses.get(sid)
    if recorded is None:
        assert got is None
        if status == 403:
            assert redis_client.dbsize() == 0
    else:
        assert {k: got[k] for k in ("status", "error")} == recorded
        assert 0 < redis_client.ttl(f"hl:msg:{sid}") <= 7 * 86400


def test_status_callback_follows_the_action_url_in_the_twiml(make_app):
    """Behind a proxy the ``action`` must be the public URL: Twilio signs what it calls."""
    app = make_app(PUBLIC_URL=PUBLIC, PROXY_COUNT=0)
    client = app.test_client()
    form = inbound("hola")
    resp = client.post(MESSAGES, data=form, base_url=INTERNAL,
                       headers={"X-Twilio-Signature": sign(PUBLIC + MESSAGES, form)})
    action = ET.fromstring(resp.data).findall("Message")[-1].get("action")
    assert action == PUBLIC + STATUS

    outbound = new_sid()
    callback = {"MessageSid": outbound, "MessageStatus": "delivered"}
    done = client.post(STATUS, data=callback, base_url=INTERNAL,
                       headers={"X-Twilio-Signature": sign(action, callback)})
    assert done.status_code == 204
    assert app.extensions["store"].statuses.get(outbound)["status"] == "delivered"


# --- health --------------------------------------------------------------------------


def test_healthz_reports_redis_and_the_flows_version(client, app):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    version = app.extensions["content"]().version
    assert version
    assert resp.get_json() == {"redis": "ok", "flows": version}


def test_healthz_is_503_when_the_flows_are_not_loaded_though_redis_answers(make_app, project):
    """The flows are not loaded when the app was made under a ``flask`` command
    (``flask --app app run``, say) from flow files that do not pass, with no
    published snapshot to fall back on: the command carries on, the flows do not
    load, and whoever watches /healthz must see it."""
    main = project / "flows" / "main.yaml"
    text = main.read_text(encoding="utf-8")
    assert "goto: safety\n" in text
    main.write_text(text.replace("goto: safety\n", "goto: nowhere\n", 1), encoding="utf-8")

    with click.Context(click.Command("run")):
        app = make_app(FLOWS_DIR=str(project / "flows"))
    assert not app.extensions["content"].loaded

    resp = app.test_client().get("/healthz")
    assert resp.status_code == 503
    assert resp.get_json() == {"redis": "ok", "flows": "not loaded"}


def test_a_reply_is_always_well_formed_twiml_even_with_a_character_xml_cannot_hold():
    # `flows check` refuses such characters in flows and catalogs; should one slip past
    # (a catalog edited on the server), the person gets the reply without it, not nothing.
    import xml.dom.minidom

    from bot.channels.twilio import twiml

    body = twiml(["¿Qué\x00 desea\x1b hacer?\ufffe 😀"])
    xml.dom.minidom.parseString(body)
    assert "<Message>¿Qué desea hacer? 😀</Message>" in body
