"""Prometheus metrics: ``GET /metrics``.

Counters and the latency histogram are kept per process by prometheus-client.
Under gunicorn every worker has its own, so gunicorn.conf.py points
``PROMETHEUS_MULTIPROC_DIR`` at a folder the workers share and the scrape
adds them up (prometheus-client's multiprocess mode); ``python app.py`` is one
process and needs nothing. Gauges that describe Redis (active sessions,
hand-offs waiting) are read from Redis at scrape time, so every worker
answers the same: from the store's live index, a count whatever the number
of sessions (a SCAN of every session key took over a second at 50,000
sessions, and slowed the texts answered meanwhile).

Who may scrape: with ``METRICS_TOKEN`` set, a request must carry it as a
bearer token. With ``PUBLIC_URL`` naming a host others reach (not loopback) and
no token, every scrape is refused: figures about a helpline's traffic are
not for whoever finds the URL. A machine with neither is a developer's.

Counts only: no label ever holds a phone number, a contact id or text.
"""
from __future__ import annotations

import hmac
import os
import time
from typing import Callable

from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from .config import reachable_from_outside


MESSAGES_IN = Counter("helpline_messages_in", "Texts received by the webhook", ["channel"])
MESSAGES_OUT = Counter("helpline_messages_out", "Messages sent to people", ["channel", "via"])
REPLIES = Counter(
    "helpline_replies",
    "Webhook answers by outcome: reply, retry (a repeated MessageSid), silent (nothing to send), failsafe",
    ["outcome"],
)
WEBHOOK_SECONDS = Histogram(
    "helpline_webhook_seconds",
    "Time to answer Twilio's webhook (Twilio gives up at 15 s)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15),
)
REDIS_ERRORS = Counter("helpline_redis_errors", "Redis calls that failed (the person got the fail-safe reply)")
WHATSAPP_FALLBACKS = Counter(
    "helpline_whatsapp_fallbacks",
    "WhatsApp menus sent as numbered text instead of buttons or a list, by reason: no_template (not synced yet),"
    " refused (Twilio refused the template message)",
    ["reason"],
)
WHATSAPP_SEND_FAILURES = Counter(
    "helpline_whatsapp_send_failures",
    "WhatsApp replies not sent by REST, by reason: refused (by Twilio), maybe_sent (no answer in time: never sent"
    " again), unreachable or not_taken_now (Twilio answered 429 or 503): tried again shortly",
    ["reason"],
)

# Every labelled series known ahead, made here: each is scraped from the start,
# at 0, rather than first appearing with its first count, which rate() and
# alerts miss (prometheus-client's README, "Labels"); and code counts through
# its series rather than looking it up by its labels each time.
RECEIVED = {channel: MESSAGES_IN.labels(channel) for channel in ("sms", "whatsapp", "voice")}
SENT = {(channel, via): MESSAGES_OUT.labels(channel, via)
        for channel, via in (("sms", "twiml"), ("whatsapp", "twiml"), ("whatsapp", "rest"))}
ANSWERS = {outcome: REPLIES.labels(outcome) for outcome in ("reply", "retry", "silent", "failsafe", "dial", "hangup")}
FALLBACKS = {reason: WHATSAPP_FALLBACKS.labels(reason) for reason in ("no_template", "refused")}
SEND_FAILURES = {reason: WHATSAPP_SEND_FAILURES.labels(reason)
                 for reason in ("refused", "maybe_sent", "unreachable", "not_taken_now")}


bp = Blueprint("metrics", __name__)


class StoreGauges:
    """Gauges read from Redis when Prometheus scrapes."""

    def __init__(self, gauges: dict[str, tuple[str, Callable[[], float]]]):
        self.gauges = gauges

    def collect(self):
        for name, (doc, read) in self.gauges.items():
            try:
                value = read()
            except Exception:  # noqa: BLE001 - Redis down: say nothing rather than fail the scrape
                continue
            yield GaugeMetricFamily(name, doc, value=value)


def _counters() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()  # a fresh one per scrape, as the multiprocess docs say
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY)


def gauges_registry(gauges: dict[str, tuple[str, Callable[[], float]]]) -> CollectorRegistry:
    """A registry for one app's Redis gauges (create_app makes it once)."""
    registry = CollectorRegistry()
    registry.register(StoreGauges(gauges))
    return registry


@bp.get("/metrics")
def metrics() -> Response:
    cfg = current_app.config
    token = cfg.get("METRICS_TOKEN")
    if not token and reachable_from_outside(cfg.get("PUBLIC_URL")):
        # A public deployment: its figures are not for anyone who finds the URL.
        return Response("Forbidden: set METRICS_TOKEN on the server and send it as "
                        "'Authorization: Bearer <token>' (see README, Production)\n", 403, mimetype="text/plain")
    if token and not hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {token}"):
        return Response("Unauthorized\n", 401, mimetype="text/plain")
    body = _counters()
    gauges = current_app.extensions.get("metrics_gauges")
    if gauges is not None:
        body += generate_latest(gauges)
    return Response(body, mimetype=CONTENT_TYPE_LATEST)


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds``."""

    def __enter__(self) -> "Timer":
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.start
