"""When things go wrong: Redis gone, odd input, sessions the code no longer fits.

The contract ("Failure behaviour" in the project's DESIGN.md, kept outside
this repository): a validly signed text always
gets 200; when anything inside fails, the static fail-safe reply in both
languages with 911 and the national hotline, fast; bad input gets a
sensible reply, never a 500 and never the fail-safe; a session that points
at a removed node gets one line of apology and the main menu; an unreadable
session starts afresh.
"""
from __future__ import annotations

import json
import logging
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from bot import create_app
from bot.channels.twilio import FAILSAFE_REPLIES
from bot.config import TestConfig
from bot.engine.session import Session
from bot.helpline import contact_id
from tests.helpers import inbound, messages, new_sid, option, post_signed, sign, store_session, stored_session

MESSAGES = "/twilio/messages"
TWILIO_TIMEOUT = 15.0  # Twilio gives up on a webhook after this long
FAILSAFE_BUDGET = 5.0  # what we promise ourselves: well under Twilio's limit
GREETING_EN = "Hello. This is a confidential information line."
GREETING_ES = "Hola. Esta es una línea de información confidencial."
MAIN_MENU_EN = "What would you like to do?\n1. "
NUMBERS_EN = "What kind of help do you need?"
NUMBERS = option("numbers")  # the main menu option that leads to NUMBERS_EN
FULLWIDTH_NUMBERS = "".join(chr(0xFF10 + int(d)) for d in NUMBERS)
LANGUAGE_OPTION = f"{option('welcome.language')}. Español / English"  # the main menu's last line
HELLO_ANY = "Línea confidencial. Escriba SALIR para borrar este chat."  # system.yaml `hello_any`, Spanish first
LANGUAGE_QUESTION = "Choose a language / Elija un idioma:"
REPROMPT_EN = "Sorry, I did not understand. Reply with a number:"
MEDIA_EN = "I can only read text, not voice notes, pictures or locations."  # system.yaml `media_only`, its start
RECOVERED_EN = "Sorry, this part of the chat has changed. Here is the main menu."


def session_key(phone: str) -> str:
    return f"hl:{{{contact_id('test-secret', phone)}}}:session"


# --- Redis unreachable ------------------------------------------------------------------


@pytest.fixture
def silent_redis():
    """A TCP port that accepts connections and never answers: a hung Redis."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)  # connections complete in the backlog; nobody reads them
    yield f"redis://127.0.0.1:{sock.getsockname()[1]}/0"
    sock.close()


@pytest.fixture(params=["closed port", "missing unix socket", "embedded server cannot start", "server never answers"])
def unreachable_app(request, tmp_path):
    if request.param == "closed port":
        url = "redis://127.0.0.1:1/0"
    elif request.param == "missing unix socket":
        url = f"unix://{tmp_path}/no-such-dir/redis.sock"
    elif request.param == "embedded server cannot start":
        # No REDIS_URL, and BOT_DATA_DIR is a file: redis-server cannot start there.
        data_dir = tmp_path / "not-a-dir"
        data_dir.write_text("")
        return create_app(TestConfig(None, str(data_dir)))
    else:
        url = request.getfixturevalue("silent_redis")
    return create_app(TestConfig(url, str(tmp_path)))


@pytest.mark.slow
def test_healthz_is_503_without_redis(unreachable_app):
    resp = unreachable_app.test_client().get("/healthz")
    assert resp.status_code == 503
    assert resp.get_json()["redis"] == "unreachable"
    assert resp.get_json()["flows"] == unreachable_app.extensions["content"]().version


@pytest.mark.parametrize("sender", ["+15550300001", "whatsapp:+5215550300001"])
@pytest.mark.slow
def test_without_redis_a_text_gets_the_failsafe_fast(sender, unreachable_app, caplog, record_property):
    client = unreachable_app.test_client()
    form = inbound("necesito ayuda, me quitaron el pasaporte", sender=sender)

    started = time.monotonic()
    resp = post_signed(client, MESSAGES, form)
    elapsed = time.monotonic() - started
    record_property("failsafe_seconds", round(elapsed, 3))

    assert resp.status_code == 200
    assert tuple(messages(resp.data)) == FAILSAFE_REPLIES
    english, spanish = messages(resp.data)
    assert "call 911" in english and "llame al 911" in spanish
    for reply in (english, spanish):
        assert "1-888-373-7888" in reply and "233733" in reply
    assert elapsed < FAILSAFE_BUDGET < TWILIO_TIMEOUT, f"fail-safe took {elapsed:.2f}s"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "fail-safe" in logged
    assert "pasaporte" not in logged and sender.split("+")[1] not in logged


@pytest.mark.slow
def test_without_redis_a_status_callback_is_not_a_500(unreachable_app):
    form = {"MessageSid": new_sid(), "MessageStatus": "delivered"}
    resp = post_signed(unreachable_app.test_client(), "/twilio/status", form)
    assert resp.status_code == 204


# --- bad input ----------------------------------------------------------------------


@dataclass(frozen=True)
class Odd:
    label: str
    form: dict = field(default_factory=dict)  # merged into an ordinary inbound SMS form
    drop: tuple[str, ...] = ()  # fields left out of the form
    raw_body: str | None = None  # appended to the urlencoded body as is (for bad encodings)
    contains: str = REPROMPT_EN  # what the reply at the main menu starts with


ODD_INPUTS = [
    Odd("empty body", {"Body": ""}),
    Odd("only spaces and line breaks", {"Body": "  \n\t \r\n "}),
    Odd("media only", {"Body": "", "NumMedia": "1", "MediaUrl0": "https://api.twilio.com/x.jpg",
                       "MediaContentType0": "image/jpeg"}, contains=MEDIA_EN),
    Odd("media only, no Body field at all", {"NumMedia": "2"}, drop=("Body",), contains=MEDIA_EN),
    Odd("NumMedia not a number", {"Body": "", "NumMedia": "lots"}),
    # Words that mean nothing here ("ayuda" said over and over is HELP said again:
    # tests/test_matching.py reads that past the limit).
    Odd("10,000 characters", {"Body": "the rain in the valley " * 434 + "the rai"}),
    Odd("10,000 digits", {"Body": "1" * 10_000}),
    Odd("emoji only", {"Body": "🆘🙏😢"}),
    Odd("emoji family joined by zero-width joiners", {"Body": "👨\u200d👩\u200d👧"}),
    Odd("control characters", {"Body": "\x00\x07\x1b[2J\x7f\x08"}),
    Odd("control characters around an answer", {"Body": f"\x00 {NUMBERS} \x1b"}, contains=NUMBERS_EN),
    Odd("right-to-left override around an answer", {"Body": f"\u202e{NUMBERS}\u202c"}, contains=NUMBERS_EN),
    Odd("zero-width joiner inside a keyword", {"Body": "ME\u200dNU"}, contains=MAIN_MENU_EN),
    Odd("fullwidth digit", {"Body": FULLWIDTH_NUMBERS}, contains=NUMBERS_EN),
    Odd("lone surrogate escape (CESU-8 bytes)", drop=("Body",), raw_body="Body=%ED%A0%80"),
    Odd("invalid UTF-8 bytes", drop=("Body",), raw_body="Body=%FF%FE%C3"),
    Odd("invalid UTF-8 around an answer", drop=("Body",), raw_body="Body=%FF1%FE", contains=REPROMPT_EN),
    Odd("no MessageSid", drop=("MessageSid",), form={"Body": NUMBERS}, contains=NUMBERS_EN),
]


def post_odd(client, odd: Odd, sender: str):
    """Sign exactly what the server will read from the (possibly broken) body."""
    form = {k: v for k, v in inbound("", sender=sender, **odd.form).items() if k not in odd.drop}
    body = urlencode(form, encoding="utf-8")
    if odd.raw_body:
        body = f"{body}&{odd.raw_body}" if body else odd.raw_body
    raw = body.encode("ascii")
    environ = EnvironBuilder(method="POST", data=raw, content_type="application/x-www-form-urlencoded").get_environ()
    seen_by_server = Request(environ).form.to_dict()
    headers = {"X-Twilio-Signature": sign("http://localhost" + MESSAGES, seen_by_server)}
    return client.post(MESSAGES, data=raw, content_type="application/x-www-form-urlencoded", headers=headers)


@pytest.mark.parametrize("odd", ODD_INPUTS, ids=lambda o: o.label)
@pytest.mark.slow
def test_odd_input_at_the_main_menu(odd: Odd, client, redis_client):
    sender = "+15550400001"
    post_signed(client, MESSAGES, inbound("hi", sender=sender))

    resp = post_odd(client, odd, sender)

    assert resp.status_code == 200
    replies = messages(resp.data)
    assert replies and tuple(replies) != FAILSAFE_REPLIES
    assert replies[0].startswith(odd.contains), replies
    assert all(len(r) <= 459 for r in replies)


@pytest.mark.parametrize("odd", ODD_INPUTS, ids=lambda o: o.label)
@pytest.mark.slow
def test_odd_input_as_a_first_text_gets_the_greeting(odd: Odd, client, redis_client):
    resp = post_odd(client, odd, "+15550400002")

    assert resp.status_code == 200
    replies = messages(resp.data)
    if replies[0].startswith(HELLO_ANY):
        # Nothing in it says which language: a line in each, then the choice.
        assert replies[-1].startswith(LANGUAGE_QUESTION), replies
        return
    assert replies[0].startswith((GREETING_EN, GREETING_ES)), replies
    assert LANGUAGE_OPTION in replies[-1]


def test_no_sender_gets_an_empty_response_and_nothing_is_stored(client, redis_client):
    form = inbound("hola")
    del form["From"]
    resp = post_signed(client, MESSAGES, form)
    assert resp.status_code == 200
    assert messages(resp.data) == []
    assert redis_client.dbsize() == 0


# --- sessions the current flows or code do not fit --------------------------------------


@pytest.mark.parametrize(
    "flow,node",
    [("main", "removed"), ("removed", "menu"), ("welcome", "greeting")],
    ids=["node removed", "flow removed", "node no longer a question"],
)
@pytest.mark.parametrize("reply", ["1", "BACK", "hola"])
def test_a_session_at_a_node_that_no_longer_exists_recovers(flow, node, reply, client, redis_client):
    sender = "+15550500001"
    post_signed(client, MESSAGES, inbound("hi", sender=sender))
    stored = stored_session(redis_client, session_key(sender))
    store_session(redis_client, session_key(sender), {**stored, "flow": flow, "node": node,
                                                      "h": [f"{flow}.{node}", "gone.gone"]})

    resp = post_signed(client, MESSAGES, inbound(reply, sender=sender))

    assert messages(resp.data) == [RECOVERED_EN, messages(resp.data)[1]]
    assert messages(resp.data)[1].startswith(MAIN_MENU_EN)
    stored = stored_session(redis_client, session_key(sender))
    assert (stored["flow"], stored["node"]) == ("main", "menu")
    assert stored["h"] == [], "the stale history is dropped"
    assert messages(post_signed(client, MESSAGES, inbound(NUMBERS, sender=sender)).data)[0].startswith(NUMBERS_EN)


@dataclass(frozen=True)
class Damage:
    label: str
    fields: dict | None = None  # values written over a good session's
    drop: tuple[str, ...] = ()  # values taken out of it
    replace_with: object = None  # or replace the key with another value, or a value of another type
    raw: tuple[bytes, bytes] | None = None  # or this in the stored bytes replaced by that
    # The reply to NUMBERS: started afresh, a number says nothing of a language,
    # so a line in every language and the language question.
    then: str = HELLO_ANY


DAMAGE = [
    Damage("newer schema version", {"v": "99"}),
    Damage("no schema version (older code)", drop=("v",)),
    Damage("no contact id", drop=("cid",)),
    Damage("misses not a number", {"miss": "lots"}),
    Damage("timestamp not a number", {"t0": "yesterday"}),
    Damage("unknown lifecycle state", {"st": "zombie"}),
    Damage("history not a list", {"h": "main.menu"}),
    Damage("a value that is not text", {"node": 7}),
    Damage("bytes that are not UTF-8", raw=(b'"lang": "en"', b'"lang": "\xc3\xff"'), then=NUMBERS_EN),
    Damage("session key holds something that is not JSON", replace_with="garbage"),
    Damage("session key holds JSON that is not an object", replace_with="[1, 2]"),
    Damage("session key holds a list", replace_with=["a", "b"]),
    # Sessions were hashes ("schema 2") for twelve hours before any release: no deployment has one.
    Damage("session key holds a hash", replace_with={"v": "2"}),
]


@pytest.mark.parametrize("damage", DAMAGE, ids=lambda d: d.label)
@pytest.mark.slow
def test_an_unreadable_session_starts_afresh(damage: Damage, client, redis_client, caplog):
    sender = "+15550600001"
    key = session_key(sender)
    post_signed(client, MESSAGES, inbound("hi", sender=sender))
    stored = stored_session(redis_client, key)
    if damage.fields or damage.drop:
        stored = {**stored, **(damage.fields or {})}
        store_session(redis_client, key, {k: v for k, v in stored.items() if k not in damage.drop})
    if damage.raw:
        redis_client.set(key, json.dumps(stored).encode().replace(*damage.raw))
    if isinstance(damage.replace_with, str):
        redis_client.set(key, damage.replace_with)
    elif isinstance(damage.replace_with, dict):  # as a hash, a field per history entry and flag
        schema_2 = {**{k: v for k, v in stored.items() if k not in ("h", "f")}, **damage.replace_with}
        redis_client.delete(key)
        redis_client.hset(key, mapping=schema_2)
    elif damage.replace_with is not None:
        redis_client.delete(key)
        redis_client.rpush(key, *damage.replace_with)

    resp = post_signed(client, MESSAGES, inbound(NUMBERS, sender=sender))

    assert resp.status_code == 200
    replies = messages(resp.data)
    assert tuple(replies) != FAILSAFE_REPLIES
    assert replies[0].startswith(damage.then), replies
    assert not redis_client.exists(key.replace(":session", ":lock"))
    Session.from_fields(stored_session(redis_client, key))  # what was saved is readable again
    if damage.then == HELLO_ANY:  # afresh: English (2; Spanish is 1), then at the main menu, so NUMBERS picks numbers
        post_signed(client, MESSAGES, inbound("2", sender=sender))
    after = messages(post_signed(client, MESSAGES, inbound(NUMBERS, sender=sender)).data)
    assert tuple(after) != FAILSAFE_REPLIES
    if damage.then == HELLO_ANY:
        assert after[0].startswith(NUMBERS_EN)
    if damage.fields or damage.drop:
        warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("session unreadable" in w for w in warned) == (damage.then == HELLO_ANY)


def test_stop_works_on_a_session_in_an_unknown_state(client, redis_client):
    """The one thing a person must always be able to do: opt out."""
    sender = "whatsapp:+5215550600002"
    post_signed(client, MESSAGES, inbound("hola", sender=sender))
    key = session_key(sender)
    store_session(redis_client, key, {**stored_session(redis_client, key), "st": "zombie"})

    resp = post_signed(client, MESSAGES, inbound("PARAR", sender=sender))

    assert messages(resp.data)[0].startswith(("You will get no more messages", "No recibirá más mensajes"))
    assert redis_client.exists(f"hl:optout:{{{contact_id('test-secret', sender)}}}")
