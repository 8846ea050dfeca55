"""Figures: counts per day from the event stream; charts and CSV; nothing that identifies anyone."""
from __future__ import annotations

import csv
import io
import re
import threading
import time

import pytest
import redis

from bot.engine.events import turn_entry
from bot.figures import Figures
from bot.store import FigureCounters
from tests.helpers import option, stored_session
from tests.fixtures_console import post_form, sign_in, text

pytestmark = pytest.mark.slow  # most tests here take a second or more: an app each, servers, waits

SPANISH_SMS = "+15550002201"
ENGLISH_SMS = "+15550002202"
ENGLISH_WA = "whatsapp:+15550002203"


@pytest.fixture
def viewer(console_app):
    client = console_app.test_client()
    sign_in(client, "vic")
    return client


def some_conversations(app) -> None:
    # These tests count by hand: without this, the quick exit's own work off the
    # request path (bot.erasure.StreamEntries) would count the figures first.
    app.extensions["background"].stop()
    person = app.test_client()
    text(person, "hola", SPANISH_SMS)
    text(person, option("numbers"), SPANISH_SMS)
    text(person, "hi", ENGLISH_SMS)
    text(person, "EXIT", ENGLISH_SMS)  # quick exit at the main menu
    text(person, "hello", ENGLISH_WA)
    text(person, "banana", ENGLISH_WA)  # not an option


def test_counts_per_day(console_app):
    some_conversations(console_app)
    figures: Figures = console_app.extensions["ops"].figures
    assert figures.catch_up() > 0
    today = figures.today()
    period = figures.read(today, today)
    assert period.total["conv"] == 3
    assert period.group("conv|ch") == {"sms": 2, "whatsapp": 1}
    assert period.group("conv|lang") == {"es": 1, "en": 2}
    assert period.total["visit|main|menu"] == 3
    assert period.total["visit|numbers|" + "menu"] == 1 or any(k.startswith("visit|numbers|") for k in period.total)
    assert period.total["miss|main|menu"] == 1, dict(period.total)
    assert period.total["exit"] == 1
    assert period.left()[("main", "menu")]["exit"] == 1


def test_catching_up_twice_counts_each_event_once(console_app):
    some_conversations(console_app)
    figures = console_app.extensions["ops"].figures
    figures.catch_up()
    assert figures.catch_up() == 0
    today = figures.today()
    assert figures.read(today, today).total["conv"] == 3
    text(console_app.test_client(), "hola", "+15550002299")
    assert figures.catch_up() > 0
    assert figures.read(today, today).total["conv"] == 4


def test_a_second_process_with_an_old_cursor_does_not_count_again(console_app):
    some_conversations(console_app)
    figures = console_app.extensions["ops"].figures
    cursor = figures.counters.cursor()  # what a second process read before the first counted
    assert figures.catch_up() > 0
    entries = figures.counters.entries_after("", 1000)
    assert not figures.counters.apply(cursor, entries[-1][0], 60, {(figures.today(), "conv"): 3}, {})
    assert figures.catch_up() == 0
    today = figures.today()
    assert figures.read(today, today).total["conv"] == 3


def test_an_entry_that_is_not_a_turn_is_skipped_not_fatal(console_app, redis_client):
    """Damage, or a field per value (a layout that lived for hours on
    2026-11-22, before any release): passed over, and counting goes on."""
    figures = console_app.extensions["ops"].figures
    t = f"{figures.clock():.3f}"
    redis_client.xadd("hl:events", {"conv": "old1", "ch": "whatsapp", "lang": "es", "st": "in_flow",
                                    "at": "main.menu", "t": t, "ev": '[{"kind":"started","lang":"es"}]'})
    redis_client.xadd("hl:events", {"turn": "{not json"})
    text(console_app.test_client(), "hola", SPANISH_SMS)
    assert figures.catch_up() == 3
    today = figures.today()
    period = figures.read(today, today)
    assert period.total["conv"] == 1
    assert period.group("conv|ch") == {"sms": 1}


def test_read_entry_reads_a_turn_and_refuses_the_rest():
    from bot.engine.events import read_entry, turn_entry

    new = turn_entry("c1", "sms", "en", "in_flow", "main.menu", 1700000000.12345, [{"kind": "visited"}])
    assert list(new) == ["turn"]
    assert read_entry(new) == {"conv": "c1", "ch": "sms", "lang": "en", "st": "in_flow", "at": "main.menu",
                               "t": 1700000000.123, "ev": [{"kind": "visited"}]}
    for other in ({"conv": "c1", "ch": "sms", "t": "1700000000.5", "ev": '[{"kind":"started"}]'},
                  {"kind": "delivery", "status": "delivered"}, {"turn": "[]"}, {"turn": '{"conv": ""}'},
                  {"turn": '{"conv": "c", "ev": {}}'}, {"turn": '{"conv": "c", "ev": [], "t": "x"}'},
                  {"turn": '{"conv": "c", "ev": [], "at": 7}'}, {"turn": '{"conv": 5, "ev": []}'}):
        assert read_entry(other) is None, other


def test_a_conversation_quiet_for_an_hour_left_where_it_was(console_app, redis_client):
    person = console_app.test_client()
    text(person, "hola", SPANISH_SMS)
    text(person, option("numbers"), SPANISH_SMS)
    figures = console_app.extensions["ops"].figures
    figures.catch_up()
    today = figures.today()
    assert not figures.read(today, today).group("left")
    now = figures.clock()
    figures.clock = lambda: now + 3601
    figures.catch_up()
    left = figures.read(today, today).left()
    assert sum(how["quiet"] for how in left.values()) == 1
    (flow, node), = left
    assert flow == "numbers"
    # Counted once, and forgotten.
    figures.catch_up()
    assert sum(how["quiet"] for how in figures.read(today, today).left().values()) == 1
    assert not redis_client.hlen("hl:{stats}:pos")


def test_the_figures_page_draws_charts(console_app, viewer):
    some_conversations(console_app)
    page = viewer.get("/ops/figures")
    assert page.status_code == 200
    html = page.text
    assert "<svg" in html and html.count('<ul class="bars"') >= 6
    assert 'aria-label="Conversations by language"' in html and "Spanish" in html and "WhatsApp" in html
    assert ">3<" in html  # the total tile
    assert "Where people stop" in html and "Main menu" in html
    for preset in ("Today", "7 days", "30 days", "90 days"):
        assert preset in html


def test_the_period_can_be_chosen(console_app, viewer):
    some_conversations(console_app)
    figures = console_app.extensions["ops"].figures
    today = figures.today()
    assert viewer.get(f"/ops/figures?from={today}&to={today}").status_code == 200
    assert "Showing the last 7 days" in viewer.get("/ops/figures?from=yesterday").text
    long = viewer.get("/ops/figures?from=2000-01-01&to=2001-06-01").text
    assert "The longest period is 366 days" in long


def test_csv_has_counts_and_nothing_that_identifies_anyone(console_app, viewer, redis_client):
    some_conversations(console_app)
    response = viewer.get("/ops/figures.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["date", "measure", "what", "count", "key"]  # "what": the key in words (issue 19)
    table = {(m, k): int(n) for _, m, _, n, k in rows[1:]}
    assert table[("conversations", "all")] == 3
    assert table[("conversations_by_channel", "whatsapp")] == 1
    assert table[("conversations_by_language", "es")] == 1
    assert table[("node_visits", "main.menu")] == 3
    assert table[("left_exit", "main.menu")] == 1
    assert table[("quick_exits", "all")] == 1
    # No phone numbers or digits of them, no conversation or contact ids.
    convs = {stored_session(redis_client, k)["conv"] for k in redis_client.scan_iter("hl:{*}:session")}
    cids = {k.split("{")[1].split("}")[0] for k in redis_client.scan_iter("hl:{*}:session")}
    for secret in [*convs, *cids, "5550002201", "0002202", "2203"]:
        assert secret not in response.text
        assert secret not in viewer.get("/ops/figures").text
    for _, measure, _, count, key in rows[1:]:
        assert re.fullmatch(r"[a-z_.]+|all", key), key
        assert count.isdigit()


def test_free_text_is_counted_by_what_it_meant_never_by_its_words(console_app, viewer):
    person = console_app.test_client()
    text(person, "me quitaron mi pasaporte", SPANISH_SMS)
    text(person, "no puedo salir de la casa", ENGLISH_SMS)
    figures = console_app.extensions["ops"].figures
    figures.catch_up()
    today = figures.today()
    assert figures.read(today, today).group("understood") == {"rights.documents_here": 1, "danger+screening.intro": 1}
    rows = list(csv.reader(io.StringIO(viewer.get("/ops/figures.csv").text)))
    assert ["understood_as", "1", "danger+screening.intro"] in [[r[1], r[3], r[4]] for r in rows]
    assert "pasaporte" not in viewer.get("/ops/figures.csv").text


def test_hand_offs_are_counted(console_app):
    rita = console_app.test_client()
    sign_in(rita)
    person = console_app.test_client()
    text(person, "hola", SPANISH_SMS)
    text(person, "PERSONA", SPANISH_SMS)  # nobody on duty: the numbers
    post_form(rita, "/ops/duty", {"on": "1"})
    console_app.extensions["helpline"].on_duty.until = 0  # the bot reads the flag every 2 s
    text(person, "PERSONA", SPANISH_SMS)
    figures = console_app.extensions["ops"].figures
    figures.catch_up()
    today = figures.today()
    assert figures.read(today, today).group("handoff") == {"requested": 2, "unavailable": 1}


def test_two_processes_catching_up_at_once_count_a_quiet_conversation_once(console_app, redis_client):
    """With no new entry the cursor does not move, so its check lets both through:
    the one that takes the conversation off the quiet list counts it."""
    console_app.extensions["background"].stop()
    keys = console_app.extensions["stores"].sessions.keys
    url = console_app.config["REDIS_URL_RESOLVED"]
    then = time.time() - 7200
    redis_client.xadd("hl:events", turn_entry("quiet1", "sms", "es", "in_flow", "help.menu", then,
                                               [{"kind": "visited", "flow": "help", "node": "menu"}]))
    live = Figures(FigureCounters(redis_client, keys), clock=lambda: then + 1)
    live.catch_up()  # counted while the conversation was going on: followed at help.menu
    both_ready = threading.Barrier(2)

    def process() -> None:
        counters = FigureCounters(redis.Redis.from_url(url, decode_responses=True), keys)
        apply = counters.apply

        def when_both_have_read(*args, **kwargs):
            both_ready.wait(timeout=10)
            return apply(*args, **kwargs)

        counters.apply = when_both_have_read
        Figures(counters).catch_up()

    threads = [threading.Thread(target=process) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=15)
    day = live.day_of(then)
    assert live.read(day, day).total["left|quiet|help|menu"] == 1
