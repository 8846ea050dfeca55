"""The live sessions without a SCAN: /metrics and the console's live list read
the store's live index (``hl:{hl:events}:live``).

* The active-sessions gauge and the live list come from the index: a scrape
  and a page send no SCAN (counted with Redis's own command statistics);
  an erased session leaves the index at once, an expired one is no longer
  counted, and an entry whose session is gone is never shown.

What a scrape and a page cost at 1,000 and at 100,000 sessions is measured by
``bench/scrape.py`` (BENCHMARKS.md).
"""
from __future__ import annotations

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import create_app
from bot.config import TestConfig
from bot.helpline import contact_id
from tests.helpers import inbound, post_signed
from tests.fixtures_console import sign_in, text
from tests.servers import wait_until

pytestmark = pytest.mark.slow  # most tests here take a second or more: an app each, servers, waits

LIVE = "hl:{hl:events}:live"


def gauge(client, name: str, **headers) -> float:
    resp = client.get("/metrics", headers=headers)
    assert resp.status_code == 200
    for family in text_string_to_metric_families(resp.data.decode()):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    raise AssertionError(f"no {name} in the scrape")


def commands(redis_client) -> dict[str, int]:
    return {name.removeprefix("cmdstat_"): stat["calls"] for name, stat in redis_client.info("commandstats").items()}


# --- the index ------------------------------------------------------------------------------


def test_the_gauge_counts_from_the_index_without_a_scan(client, redis_client):
    for n in range(3):
        post_signed(client, "/twilio/messages", inbound("hola", sender=f"+1555000400{n}"))
    redis_client.config_resetstat()

    assert gauge(client, "helpline_active_sessions") == 3
    post_signed(client, "/twilio/messages", inbound("SALIR", sender="+15550004000"))
    assert gauge(client, "helpline_active_sessions") == 2, "an erased session leaves the index at once"

    assert "scan" not in commands(redis_client)


def test_an_expired_session_is_no_longer_counted(make_app_with_ttl, redis_client):
    client = make_app_with_ttl.test_client()
    post_signed(client, "/twilio/messages", inbound("hola", sender="+15550004100"))
    assert gauge(client, "helpline_active_sessions") == 1
    time.sleep(1.2)
    assert gauge(client, "helpline_active_sessions") == 0
    post_signed(client, "/twilio/messages", inbound("hola", sender="+15550004101"))
    assert redis_client.zcard(LIVE) == 1, "the next save trims what expired"


@pytest.fixture
def make_app_with_ttl(redis_client, redis_url, tmp_path):
    return create_app(TestConfig(redis_url, str(tmp_path), SESSION_TTL=1))


def test_the_live_list_reads_a_page_of_the_index_and_shows_only_sessions_that_exist(console_app, redis_client):
    person = console_app.test_client()
    for n in range(3):
        text(person, "hola", f"+1555000420{n}")
    gone = contact_id("test-secret", "+15550004209")
    redis_client.zadd(LIVE, {gone: time.time() - 60})  # an entry whose session is not there
    # One just written, whose session is not there yet (on a cluster the index and
    # the session are written to two nodes at once): not shown, but left alone.
    landing = contact_id("test-secret", "+15550004208")
    redis_client.zadd(LIVE, {landing: time.time()})
    redis_client.config_resetstat()
    rita = console_app.test_client()
    sign_in(rita)

    page = rita.get("/ops/sessions.json").get_json()

    assert page["total"] == 3
    assert sorted(row["masked"] for row in page["sessions"]) == ["··00", "··01", "··02"]
    assert redis_client.zscore(LIVE, gone) is None, "dropped when found missing"
    assert redis_client.zscore(LIVE, landing) is not None
    assert "scan" not in commands(redis_client)
    html = rita.get("/ops/").text
    assert "··02" in html and "5550004202" not in html


def test_the_live_list_is_the_most_recent_page_and_counts_them_all(make_console, redis_client):
    app = make_console()
    app.extensions["ops"].live_sessions.page = 2  # a page of two, to see the page end
    person = app.test_client()
    for n in range(4):
        text(person, "hola", f"+1555000430{n}")
        time.sleep(0.01)
    rita = app.test_client()
    sign_in(rita)

    page = rita.get("/ops/sessions.json").get_json()

    assert page["total"] == 4
    assert [row["masked"] for row in page["sessions"]] == ["··03", "··02"]


def test_the_queue_holds_every_hand_off_however_many_sessions_there_are(make_console, redis_client):
    app = make_console()
    app.extensions["ops"].live_sessions.page = 1
    redis_client.set("hl:duty", "1")
    person = app.test_client()
    text(person, "hola", "+15550004400")
    text(person, "PERSONA", "+15550004400")
    for n in range(1, 4):  # three later conversations push it off the page
        text(person, "hola", f"+1555000440{n}")
    rita = app.test_client()
    sign_in(rita)

    assert [w.row.masked for w in app.extensions["ops"].desk.queue()] == ["··00"]
    assert "··00" in rita.get("/ops/").text
    text(person, "MENU", "+15550004400")  # back to the bot: out of the queue's index
    assert redis_client.zcard("hl:{hl:events}:live:handoff") == 0
    assert app.extensions["ops"].desk.queue() == []


def test_a_snapshot_nobody_asks_for_is_dropped_once_stale(console_app, redis_client):
    """The console's list holds sessions (last digits, answers) that may be erased after
    it was read; with no console page asked for, it must not stay in memory."""
    from bot.live_sessions import LiveSessions

    person = console_app.test_client()
    text(person, "hola", "+15550004210")
    now = [time.time()]
    live = LiveSessions(console_app.extensions["store"], max_age=1.0, clock=lambda: now[0])
    woken = []
    live.wake = lambda: woken.append(1)
    assert live.forget_stale() is None, "nothing held yet"
    assert live.rows() and woken, "a refresh wakes the job that will drop it"
    assert live.forget_stale() == pytest.approx(LiveSessions.KEPT_FOR * 1.0)
    now[0] += LiveSessions.KEPT_FOR * 1.0 + 0.1
    assert live.forget_stale() is None
    assert live.rows(max_age=float("inf")) == [] and live.waiting(max_age=float("inf")) == []


def test_the_console_drops_its_list_from_memory_once_nobody_looks(console_app, redis_client):
    person = console_app.test_client()
    text(person, "hola", "+15550004211")
    live = console_app.extensions["ops"].live_sessions
    live.max_age = 0.1
    rita = console_app.test_client()
    sign_in(rita)
    assert rita.get("/ops/sessions.json").get_json()["sessions"]
    wait_until(lambda: live.rows(max_age=float("inf")) == [], timeout=5)
