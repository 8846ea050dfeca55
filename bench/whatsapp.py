"""WhatsApp (issue 18): the webhook's time for a turn on SMS (replies in TwiML) and on
WhatsApp with WHATSAPP_INTERACTIVE (replies put in the outbox, sent by REST off the
request path to a local stand-in of Twilio), and how soon the outboxes are empty.

    python bench/whatsapp.py      (from the repository root; an embedded Redis of its own)
"""
import statistics
import sys
import tempfile
import time

sys.path.insert(0, ".")
from bot.store.embedded import ensure_server
from bot import create_app
from bot.config import TestConfig
from tests.helpers import inbound, post_signed
from tests.twilio_standin import TwilioStandIn, ACCOUNT_SID
from tests.servers import wait_until

d = tempfile.mkdtemp()
srv = ensure_server(d)
try:
    with TwilioStandIn() as t:
        app = create_app(TestConfig(srv.url, d + "/var", TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_FROM_NUMBER="+15559990000",
                                    TWILIO_API_BASE=t.url, WHATSAPP_INTERACTIVE=True))
        app.extensions["whatsapp_sync"](app.extensions["content"]())
        c = app.test_client()
        for label, prefix in (("sms", "+1555"), ("whatsapp", "whatsapp:+1555")):
            times = []
            for i in range(150):
                who = f"{prefix}{7000000 + i:07d}"
                for body in ("hola", "4", "MENU"):
                    start = time.perf_counter()
                    post_signed(c, "/twilio/messages", inbound(body, sender=who))
                    times.append(time.perf_counter() - start)
            times.sort()
            print(label, f"median {statistics.median(times)*1000:.2f} ms, p95 {times[int(len(times)*.95)]*1000:.2f} ms, n={len(times)}")
        n = len(t.messages)
        start = time.perf_counter()
        wait_until(lambda: len(t.messages) >= 600, timeout=120)
        print("REST messages sent:", len(t.messages), f"all sent {time.perf_counter() - start:.2f} s after the last webhook answered")
finally:
    srv.stop()
