"""GET /metrics: Prometheus text with the webhook's counters and latency; counts only."""
from __future__ import annotations

import os
import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import inbound, post_signed


def scrape(client) -> dict[tuple[str, tuple], float]:
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(resp.data.decode()):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_messages_replies_and_latency(client):
    before = scrape(client)
    sender = "+15550009999"
    post_signed(client, "/twilio/messages", inbound("hola", sender=sender))
    retry = inbound("1", sender=sender)
    post_signed(client, "/twilio/messages", retry)
    post_signed(client, "/twilio/messages", retry)  # Twilio's retry
    post_signed(client, "/twilio/messages", inbound("hi", sender="whatsapp:+15550009998"))
    after = scrape(client)

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("helpline_messages_in_total", channel="sms") == 3
    assert grew("helpline_messages_in_total", channel="whatsapp") == 1
    assert grew("helpline_replies_total", outcome="reply") == 3
    assert grew("helpline_replies_total", outcome="retry") == 1
    assert grew("helpline_messages_out_total", channel="sms", via="twiml") >= 3
    assert grew("helpline_webhook_seconds_count") == 4
    assert grew("helpline_webhook_seconds_bucket", le="15.0") == 4


def test_a_forbidden_request_is_not_counted_as_a_message(client):
    before = scrape(client)
    client.post("/twilio/messages", data=inbound("hola"))  # unsigned: 403
    after = scrape(client)
    assert value(after, "helpline_messages_in_total", channel="sms") == value(before, "helpline_messages_in_total", channel="sms")


def test_redis_down_counts_an_error_and_a_failsafe(redis_url, tmp_path):
    from bot import create_app
    from bot.config import TestConfig

    app = create_app(TestConfig("redis://127.0.0.1:1/0", str(tmp_path)))
    client = app.test_client()
    before = scrape(client)
    post_signed(client, "/twilio/messages", inbound("hola"))
    after = scrape(client)
    assert value(after, "helpline_redis_errors_total") - value(before, "helpline_redis_errors_total") == 1
    assert value(after, "helpline_replies_total", outcome="failsafe") - value(before, "helpline_replies_total", outcome="failsafe") == 1


def test_metrics_carry_no_number_and_no_text(client):
    post_signed(client, "/twilio/messages", inbound("mi patron tiene mi pasaporte", sender="+15550001234"))
    text = client.get("/metrics").data.decode()
    assert "pasaporte" not in text
    assert not re.search(r"5550001234|0001234", text)


def test_metrics_token_when_configured(redis_url, redis_client, tmp_path):
    from bot import create_app
    from bot.config import TestConfig

    client = create_app(TestConfig(redis_url, str(tmp_path), METRICS_TOKEN="s3cret")).test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 200


@pytest.mark.parametrize("token,sent,status", [
    (None, None, 403),
    (None, "Bearer anything", 403),
    ("s3cret", None, 401),
    ("s3cret", "Bearer wrong", 401),
    ("s3cret", "Bearer s3cret", 200),
])
def test_a_public_deployment_needs_the_metrics_token(token, sent, status, redis_url, redis_client, tmp_path, caplog):
    """A service on the internet (PUBLIC_URL set) answers a scrape only with the token."""
    from bot import create_app
    from bot.config import TestConfig

    app = create_app(TestConfig(redis_url, str(tmp_path), PUBLIC_URL="https://helpline.example.org",
                                METRICS_TOKEN=token))
    resp = app.test_client().get("/metrics", headers={"Authorization": sent} if sent else {})
    assert resp.status_code == status
    if status == 403:
        assert "METRICS_TOKEN" in resp.text
        assert any("METRICS_TOKEN" in r.getMessage() for r in caplog.records), "said at start"


def test_a_developers_machine_scrapes_without_a_token(client):
    assert client.get("/metrics").status_code == 200


@pytest.mark.slow
def test_gauges_count_active_sessions_and_waiting_hand_offs(client, redis_client):
    redis_client.set("hl:duty", "1")  # someone on duty: asking for a person waits for them
    post_signed(client, "/twilio/messages", inbound("hola", sender="+15550003001"))
    post_signed(client, "/twilio/messages", inbound("hola", sender="+15550003002"))
    post_signed(client, "/twilio/messages", inbound("PERSONA", sender="+15550003002"))
    import time

    time.sleep(2.1)  # the console's snapshot of the sessions is at most 2 s old
    samples = scrape(client)
    assert value(samples, "helpline_active_sessions") == 2
    assert value(samples, "helpline_handoffs_waiting") == 1


MULTIPROCESS = r'''
import os, sys
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from bot import metrics

metrics.MESSAGES_IN.labels("sms").inc()
child = os.fork()
if child == 0:  # a forked worker counts in its own file, under its own id
    metrics.MESSAGES_IN.labels("sms").inc(2)
    os._exit(0)
os.waitpid(child, 0)
metrics.MESSAGES_IN.labels("sms").inc(4)
registry = CollectorRegistry()
multiprocess.MultiProcessCollector(registry)
sys.stdout.write(generate_latest(registry).decode())
sys.stdout.write(" ".join(sorted(os.listdir(os.environ["PROMETHEUS_MULTIPROC_DIR"]))) + f"\n{os.getpid()} {child}\n")
'''


@pytest.mark.slow
def test_each_process_counts_in_its_own_file_also_after_a_fork(tmp_path):
    """Multiprocess mode (gunicorn): each process has its own file, named by its
    id, a forked child too; a scrape adds them up."""
    import subprocess
    import sys

    from tests.helpers import REPO

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", MULTIPROCESS], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    *lines, files, pids = out.strip().splitlines()
    parent, child = pids.split()
    assert [f for f in files.split() if f.startswith("counter_")] == sorted([f"counter_{parent}.db",
                                                                              f"counter_{child}.db"])
    assert 'helpline_messages_in_total{channel="sms"} 7.0' in lines


FRESH = r'''
import sys
from prometheus_client import REGISTRY, generate_latest
import bot.metrics
sys.stdout.write(generate_latest(REGISTRY).decode())
'''


def test_every_known_series_is_scraped_at_zero_before_its_first_count():
    """A series that first appears with its first count is missed by rate() and
    alerts until then: a process that has answered nothing shows each at 0."""
    import subprocess
    import sys

    from tests.helpers import REPO

    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}  # one process, its own registry
    lines = subprocess.run([sys.executable, "-c", FRESH], cwd=REPO, env=env, capture_output=True, text=True,
                           timeout=60, check=True).stdout.splitlines()
    for channel in ("sms", "whatsapp", "voice"):
        assert f'helpline_messages_in_total{{channel="{channel}"}} 0.0' in lines
    for channel, via in (("sms", "twiml"), ("whatsapp", "twiml"), ("whatsapp", "rest")):
        assert f'helpline_messages_out_total{{channel="{channel}",via="{via}"}} 0.0' in lines
    for reason in ("no_template", "refused"):
        assert f'helpline_whatsapp_fallbacks_total{{reason="{reason}"}} 0.0' in lines
    for reason in ("refused", "maybe_sent", "unreachable"):
        assert f'helpline_whatsapp_send_failures_total{{reason="{reason}"}} 0.0' in lines
    for outcome in ("reply", "retry", "silent", "failsafe", "dial", "hangup"):
        assert f'helpline_replies_total{{outcome="{outcome}"}} 0.0' in lines
