"""No phone number and no message text in logs, Redis key names or events.

A realistic conversation goes through the webhook, by SMS and by WhatsApp,
with a hand-off to an operator, an internal failure whose exception message
quotes the person, a damaged session, a delivery-status callback, an opt-out
and a quick exit, with every logger at DEBUG. Then every log record, every
key name, every event and every stored value is searched. The number may
appear in one place only: the ``addr`` field of the person's session hash,
which the bot needs to reply.
"""
from __future__ import annotations

import json
import logging


from bot.helpline import contact_id
from tests.helpers import (every_value, inbound, messages, new_sid, option, post_signed, real_flows, store_session,
                           stored_session, stream_events)
from tests.servers import wait_until

SMS = "+15558675309"
WHATSAPP = "whatsapp:+5215587462913"
# Bodies with words that appear nowhere in the flows, so any trace is a leak.
SECRETS = [
    "Hola, necesito ayuda urgente Qz7",
    "mi jefe se llevó mi pasaporte Qz7",
    "tengo miedo de la policía Qz7",
    "they keep my papers Wk4",  # words, not node ids: free text now leads to rights.documents_here
    "I owe them money for the trip Wk4",
]
MARKERS = ["Qz7", "Wk4", "pasaporte", "necesito", "miedo", "papers", "money"]


def digits(address: str, last: int = 7) -> list[str]:
    """The ways a number could leak: in full, the national part, its last digits."""
    full = address.split("+", 1)[1]
    return [full, full[-10:], full[-last:]]


def leaks(value: str, address: str, last: int = 7) -> bool:
    return any(d in value for d in digits(address, last))


def session_key(address: str) -> str:
    return f"hl:{{{contact_id('test-secret', address)}}}:session"


def test_no_number_or_text_in_logs_keys_or_events(app, client, redis_client, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, including redis, werkzeug and twilio
    helpline = app.extensions["helpline"]
    redis_client.set("hl:duty", "1")  # an operator is on duty: the hand-off is taken

    def say(body: str, sender: str) -> list[str]:
        resp = post_signed(client, "/twilio/messages", inbound(body, sender=sender))
        assert resp.status_code == 200
        return messages(resp.data)

    # SMS: screening, a hand-off with texts for the operator, back to the menu.
    say(SECRETS[0], SMS)
    say(option("screening"), SMS)
    for answer in ("sí", "México", "no", "sí", "no sé"):
        say(answer, SMS)  # safe to text, where, under 18, paid to cross, held for ransom
    assert say("MENU", SMS)[0].startswith("¿Qué desea hacer?")
    assert say(option("help.person"), SMS)[0].startswith("De acuerdo. Una persona de nuestro equipo")
    say(SECRETS[1], SMS)
    say(SECRETS[2], SMS)
    say("MENU", SMS)

    # An internal failure whose exception message quotes the person.
    good_flows = helpline.flows

    def failing_flows():
        raise RuntimeError(f"cannot route {SMS} who said {SECRETS[1]!r}")

    helpline.flows = failing_flows
    assert "1-888-373-7888" in say(SECRETS[1], SMS)[0]
    helpline.flows = good_flows

    # A session the code cannot read (logged as a warning) and a status callback.
    store_session(redis_client, session_key(SMS), {**stored_session(redis_client, session_key(SMS)), "v": "99"})
    say("hola", SMS)
    status = post_signed(client, "/twilio/status", {"MessageSid": new_sid(), "MessageStatus": "undelivered",
                                                    "ErrorCode": "30003", "To": SMS})
    assert status.status_code == 204

    # WhatsApp: a hand-off, then STOP; SMS: quick exit.
    say(SECRETS[3], WHATSAPP)
    say("HUMAN", WHATSAPP)
    say(SECRETS[4], WHATSAPP)
    say("STOP", WHATSAPP)
    say(SECRETS[4], WHATSAPP)  # while opted out
    sms_conv = stored_session(redis_client, session_key(SMS))["conv"]
    assert any(e.get("conv") == sms_conv for e in stream_events(redis_client))
    assert say("SALIR", SMS) == ["Listo. Chat cerrado."]
    wait_until(app.extensions["background"].idle, timeout=15)  # what the quick exit left to do is done
    assert not any(e.get("conv") == sms_conv for e in stream_events(redis_client)), "its path left the stream"

    # --- logs: every record, formatted as a handler would, with tracebacks
    records = caplog.records
    assert any(r.name.startswith("bot") and r.levelno >= logging.ERROR for r in records), "the failure was logged"
    assert any("session unreadable" in r.getMessage() for r in records)
    logged = caplog.text + "\n".join(r.getMessage() for r in records)
    for address in (SMS, WHATSAPP):
        # Even the last four digits (log lines have no ids or clock digits
        # long enough to contain them by chance; event ids and times might).
        assert not leaks(logged, address, last=4)
    for marker in MARKERS:
        assert marker not in logged

    # --- Redis key names
    keys = list(redis_client.scan_iter(count=1000))
    for k in keys:
        assert not leaks(k, SMS) and not leaks(k, WHATSAPP), k
        assert not any(m in k for m in MARKERS), k

    # --- events: no numbers, no text, not even the pseudonymous contact id
    events = stream_events(redis_client)
    assert len(events) > 20
    cids = {contact_id("test-secret", a) for a in (SMS, WHATSAPP)}
    # What free text was understood as is a name from the flows (`rights.documents_here`), never the words.
    meanings = {m.key for m in real_flows().understanding.meanings} | {"danger"}
    for event in events:
        if event.get("kind") == "understood":
            assert event["to"] in meanings, event
            event = {k: v for k, v in event.items() if k != "to"}
        flat = " ".join(f"{k}={v}" for k, v in event.items())
        assert not leaks(flat, SMS) and not leaks(flat, WHATSAPP), event
        assert not any(m in flat for m in MARKERS), event
        assert not any(c in flat for c in cids), event

    # --- stored values: the number lives in one place, the session's addr
    found = {where for k in keys for where, value in every_value(redis_client, k)
             if leaks(value, SMS) or leaks(value, WHATSAPP)}
    assert found == {session_key(WHATSAPP)}, "the SMS contact quit; the WhatsApp one opted out"
    stored = stored_session(redis_client, session_key(WHATSAPP))
    assert [name for name, value in stored.items() if leaks(json.dumps(value), WHATSAPP)] == ["addr"]
    assert stored["addr"] == WHATSAPP
    assert not redis_client.exists(session_key(SMS))


def test_the_twilio_client_logs_no_request_line_even_at_debug():
    # urllib3 logs each request line at DEBUG, with a log search's "?To=+1…": a review of the
    # edges found the number in the log once DEBUG was turned on.
    from bot.channels.twilio_api import rest_client
    rest_client("AC" + "0" * 32, "token", "http://127.0.0.1:1")
    root = logging.getLogger()
    level = root.level
    try:
        root.setLevel(logging.DEBUG)
        assert not logging.getLogger("urllib3.connectionpool").isEnabledFor(logging.DEBUG)
    finally:
        root.setLevel(level)
