"""The production stack under attack: Debian's nginx with ``deploy/nginx.conf``
in front of gunicorn as ``deploy/Procfile`` runs it (on loopback, 2 workers
of 4 threads), on a redis-server of the test's own.

Without the proxy, 40 connections sending a body a byte every two seconds
hold every gunicorn thread and no text is answered (``bench/attacks.py``
measures it). With it, nginx holds them and a signed text is answered as
usual. Latencies are printed (``pytest -s``), not asserted: the machine is
shared; Twilio's own limit (15 s) is the only bound.
"""
from __future__ import annotations

import os
import time

import pytest
import requests

from tests.servers import RedisProcess
from tests.stack import NGINX, Gunicorn, Nginx, SlowBodies, text

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(NGINX), reason=f"{NGINX} is missing: apt-get install -y nginx"),
]

TWILIO_TIMEOUT = 15.0


@pytest.fixture
def stack(tmp_path):
    """(nginx, gunicorn, redis url), stopped whatever happens."""
    redis_proc = RedisProcess(tmp_path / "redis").start()
    nginx = Nginx(tmp_path / "nginx")
    gunicorn = Gunicorn(tmp_path / "gunicorn", redis_proc.url, public_url=nginx.base)
    try:
        gunicorn.start()
        nginx.start(upstream=gunicorn.port)
        yield nginx, gunicorn, redis_proc.url
    finally:
        nginx.stop()
        gunicorn.stop()
        redis_proc.kill()


def test_behind_nginx_a_slow_body_attack_does_not_delay_a_signed_text(stack):
    nginx, gunicorn, _ = stack
    public = nginx.base

    with SlowBodies(nginx.port, count=40, interval=2.0) as attack:
        time.sleep(3)  # every connection has sent its headers and a first byte
        results = [text(nginx.base, public, "hola" if i == 0 else "MENU", sender="+15550109001")
                   for i in range(5)]
        still_open = attack.open

    print(f"\n  40 slow bodies through nginx ({still_open} still open): 5 signed texts, "
          f"latencies {', '.join(f'{s:.3f}' for s, _, _ in results)} s")
    for seconds, status, replies in results:
        assert status == 200 and replies, (status, replies)
        assert seconds < TWILIO_TIMEOUT
    assert still_open == 40, "the attack was not holding its connections"


def test_behind_nginx_oversized_and_unsigned_bodies_never_reach_gunicorn(stack):
    """nginx refuses a body over the cap from its Content-Length; the app
    refuses an unsigned one from its headers."""
    nginx, gunicorn, _ = stack
    huge = requests.post(nginx.base + "/twilio/messages", data=b"x" * (1024 * 1024),
                         headers={"Content-Type": "application/x-www-form-urlencoded",
                                  "X-Twilio-Signature": "bm8="}, timeout=10)
    unsigned = requests.post(nginx.base + "/twilio/messages", data={"Body": "hola", "From": "+15550109002"},
                             timeout=10)
    assert huge.status_code == 413
    assert unsigned.status_code == 403
    seconds, status, replies = text(nginx.base, nginx.base, "hola", sender="+15550109003")
    assert status == 200 and replies


def test_behind_nginx_the_sign_in_throttle_counts_the_real_address(stack):
    """nginx sets X-Forwarded-For itself: a client that writes its own, new
    on every try, still counts as the one address it is."""
    import re

    import redis

    from bot.store import AccountRecords, Keys
    from bot.web.console.accounts import Accounts

    nginx, _, redis_url = stack
    Accounts(AccountRecords(redis.Redis.from_url(redis_url), Keys("hl"))).add("rita", "responder",
                                                                             "a long enough password")
    browser = requests.Session()
    status = None
    for i in range(13):
        page = browser.get(nginx.base + "/ops/login", timeout=10).text
        token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        status = browser.post(nginx.base + "/ops/login", timeout=10,
                              data={"username": f"guess{i}", "password": "wrong", "csrf_token": token},
                              headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
    assert status == 429
