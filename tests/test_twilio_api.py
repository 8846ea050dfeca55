"""Every Twilio REST call goes to TWILIO_API_BASE (DESIGN.md), whatever host
the twilio library builds: with TWILIO_REGION or TWILIO_EDGE in the
environment it builds regional ones (api.dublin.ie1.twilio.com), which once
went to Twilio itself."""
from __future__ import annotations

import pytest

from bot.channels.twilio_api import rest_client
from tests.twilio_standin import ACCOUNT_SID, TwilioStandIn


@pytest.mark.parametrize("env", [{}, {"TWILIO_REGION": "ie1"}, {"TWILIO_EDGE": "dublin"},
                                 {"TWILIO_EDGE": "sydney", "TWILIO_REGION": "au1"}],
                         ids=["default", "region", "edge", "edge and region"])
def test_messages_content_and_deletions_go_to_the_base(monkeypatch, env):
    for name in ("TWILIO_REGION", "TWILIO_EDGE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with TwilioStandIn() as twilio:
        client = rest_client(ACCOUNT_SID, "token", api_base=twilio.url, timeout=5)
        sent = client.messages.create(to="+15550001111", from_="+15559990000", body="hello")
        client.messages(sent.sid).delete()
        client.content.v1.contents.list()
    assert [m["Body"] for m in twilio.messages] == ["hello"]
    assert twilio.deleted == [sent.sid]
    assert twilio.content_calls == [("GET", "/v1/Content")]


def test_a_slow_stand_in_answer_does_not_offer_its_connection_for_the_next_message(monkeypatch):
    """The stand-in closes each connection after its answer. Its slow answer once said HTTP/1.1,
    so the client kept the connection for the next message; when the stand-in's thread was slow
    to close it (a loaded CI machine, made certain here), that message met the close and was
    lost as "may have been sent": the flaky quick-exit test in test_whatsapp.py."""
    import http.server
    import time

    finish = http.server.BaseHTTPRequestHandler.finish

    def slow_to_close(handler):
        time.sleep(0.3)
        finish(handler)

    monkeypatch.setattr(http.server.BaseHTTPRequestHandler, "finish", slow_to_close)
    with TwilioStandIn(stall=(0.1,)) as twilio:
        client = rest_client(ACCOUNT_SID, "token", api_base=twilio.url, timeout=5)
        for body in ("first", "second"):
            client.messages.create(to="+15550001111", from_="+15559990000", body=body)
    assert [m["Body"] for m in twilio.messages] == ["first", "second"]
