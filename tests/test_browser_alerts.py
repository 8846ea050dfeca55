"""Alerts, the lost connection, erasure, times and the keyboard, in Debian's chromium.

The browser's own sound and notification APIs (``AudioContext``,
``Notification``) are replaced before each page loads by stand-ins that
record what the console asked of them: a headless browser has no speaker
and no desktop.
"""
from __future__ import annotations

import calendar
import os
import re
import time

import pytest

from tests.fixtures_browser import ALERT_STAND_INS, CHROMIUM, answering, sign_in_page, text

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing: apt-get install -y chromium"),
]

EVENTS = "**/ops/live/events*"
DAY = r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2} [A-Z][a-z]{2} \d\d:\d\d"
WHATSAPP = "whatsapp:+5215550001107"

# Records each tone and each notification; permission is kept across loads as a browser keeps it.


def _expect():
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)  # a second console may poll every 5 s (bot/web/console/events.py)
    return expect


def _signed_in(browser, base, **options):
    page = browser.new_page(viewport={"width": 1280, "height": 860}, **options)
    page.set_default_timeout(15_000)
    page.add_init_script(ALERT_STAND_INS)
    sign_in_page(page, base)
    page.wait_for_selector("#duty-badge")
    return page


def _goto_live(page, url):
    """Open a page and wait until its live stream is connected (what happens next reaches it)."""
    with page.expect_response(lambda r: "/ops/live/events" in r.url):
        page.goto(url)


def test_a_new_request_alerts_the_operator_on_another_page(live_server, browser):
    expect = _expect()
    base, _app = live_server
    page = _signed_in(browser, base)
    page.click("text=Go on duty")
    expect(page.locator("#duty-badge")).to_have_text("ON DUTY")
    expect(page).to_have_title("Live · Helpline console")

    _goto_live(page, base + "/ops/figures")
    page.click("#notify-ask")
    expect(page.locator("#notify-state")).to_have_text("Desktop alerts on")
    expect(page.locator("#sound-toggle")).to_have_attribute("aria-pressed", "true")
    text(base, "hola")
    text(base, "PERSONA")

    # The count of people nobody answers is in the tab's title; a sound and a notification, without a word or number.
    expect(page).to_have_title("(1) Figures · Helpline console")
    page.wait_for_function("() => window.__tones > 0 && window.__notes.length === 1")
    [note] = page.evaluate("window.__notes")
    assert note["title"] == "Someone is waiting for a person"
    assert not re.search(r"\d", repr(note)) and "hola" not in repr(note).lower()

    # The sound can be switched off, and stays off on the next page.
    page.click("#sound-toggle")
    expect(page.locator("#sound-toggle")).to_have_attribute("aria-pressed", "false")
    _goto_live(page, base + "/ops/simulator")
    expect(page.locator("#sound-toggle")).to_have_text("Sound off")
    expect(page).to_have_title("(1) Simulator · Helpline console")
    text(base, "hi", sender=WHATSAPP)
    text(base, "AGENT", sender=WHATSAPP)
    expect(page).to_have_title("(2) Simulator · Helpline console")
    page.wait_for_function("() => window.__notes.length === 1")  # this page's own: a new notification
    assert page.evaluate("window.__tones") == 0  # but no sound

    # Someone answers one: the count is of people nobody answers yet.
    other = browser.new_page(viewport={"width": 1280, "height": 860})
    sign_in_page(other, base)
    other.locator(".queue .card", has_text="··42").locator("button", has_text="Answer").click()
    expect(other.locator("h1")).to_contain_text("Chat with ··42")
    expect(page).to_have_title("(1) Simulator · Helpline console")


def test_a_lost_connection_is_said_at_the_top_and_duty_is_not_shown_as_known(live_server, browser):
    expect = _expect()
    base, _app = live_server
    page = _signed_in(browser, base)
    page.click("text=Go on duty")
    expect(page.locator("#duty-badge")).to_have_text("ON DUTY")
    expect(page.locator("#conn-lost")).to_be_hidden()

    page.route(EVENTS, lambda route: route.abort())
    page.reload()
    banner = page.locator("#conn-lost")
    expect(banner).to_be_visible()
    expect(banner).to_have_attribute("role", "alert")
    expect(banner).to_have_text("Connection lost — reconnecting… the list may be out of date.")
    expect(page.locator("#duty-badge")).to_have_text("ON DUTY?")
    expect(page.locator("#duty-badge")).not_to_have_class(re.compile(r"\bon\b"))

    page.unroute(EVENTS)
    expect(banner).to_be_hidden(timeout=20_000)
    expect(page.locator("#duty-badge")).to_have_text("ON DUTY")
    expect(page.locator("#duty-badge")).to_have_class(re.compile(r"\bon\b"))


def test_salir_clears_an_open_hand_off_and_messages_carry_their_time(live_server, browser):
    expect = _expect()
    base, _app = live_server
    page = _signed_in(browser, base)
    page.click("text=Go on duty")
    text(base, "hola", sender=WHATSAPP)
    text(base, "AGENTE", sender=WHATSAPP)
    card = page.locator(".queue .card", has_text="··07")
    card.locator("button", has_text="Answer").click()
    expect(page.locator("h1")).to_contain_text("Chat with ··07")
    # The reply box has the focus: the responder types at once (given by the page's script once it runs).
    expect(page.locator("#reply-text")).to_be_focused()
    # The WhatsApp window says its day, not only its time.
    expect(page.locator("#window")).to_contain_text(
        re.compile("until " + DAY))

    page.evaluate("window.notReloaded = true")
    text(base, "mi patrón tiene mi pasaporte", sender=WHATSAPP)
    said = page.locator("#transcript .msg.person", has_text="mi patrón tiene mi pasaporte")
    expect(said).to_be_visible()
    expect(said.locator(".who")).to_have_text(re.compile(r"^Them · \d\d:\d\d$"))
    # Two days on (the browser's clock), the same text says its day as well.
    page.clock.set_system_time(time.time() + 2 * 86400)
    text(base, "sigo aquí", sender=WHATSAPP)
    expect(page.locator("#transcript .msg.person", has_text="sigo aquí")).to_be_visible()
    expect(said.locator(".who")).to_have_text(re.compile(r"^Them · " + DAY + "$"))

    text(base, "SALIR", sender=WHATSAPP)
    expect(page.locator("#ended")).to_be_visible()
    expect(page.locator("#transcript")).not_to_contain_text("pasaporte")
    expect(page.locator("#reply-text")).to_be_disabled()
    assert page.evaluate("window.notReloaded") is True
    page.reload()
    assert "pasaporte" not in page.content()


def test_times_say_the_day_when_not_today(live_server):
    _base, app = live_server
    with app.test_request_context():
        stamp = app.jinja_env.filters["stamp"]
        day_clock = app.jinja_env.filters["day_clock"]
        now = time.time()
        assert re.fullmatch(r"\d\d:\d\d", stamp(now))
        assert re.fullmatch(DAY, stamp(now - 3 * 86400))
        assert re.fullmatch(DAY, day_clock(now))
        assert stamp(0) == "" and day_clock(0) == ""


def test_times_are_in_the_operators_time_zone_not_the_servers(redis_client, redis_url, tmp_path):
    # The filters used the server's own zone: a WhatsApp deadline read hours off by an
    # operator whose OPS_TIMEZONE was not the server's.
    from bot import create_app
    from bot.config import TestConfig

    app = create_app(TestConfig(redis_url, str(tmp_path), OPS_TIMEZONE="America/Chicago"))
    noon_utc = calendar.timegm((2026, 12, 8, 12, 0, 0))
    with app.test_request_context():
        assert app.jinja_env.filters["clock"](noon_utc) == "06:00"
        assert app.jinja_env.filters["day_clock"](noon_utc) == "Tue 8 Dec 06:00"
        assert app.jinja_env.filters["datetime"](noon_utc) == "08 Dec 2026, 06:00"


def test_the_script_writes_a_time_as_the_server_does_whatever_the_browsers_zone(live_server, browser):
    # The server wrote "rita started answering at 16:12" and the script, refreshing the same
    # line, "04:12": the browser's own zone, not the console's (OPS_TIMEZONE, here UTC).
    expect = _expect()
    base, _app = live_server
    page = _signed_in(browser, base, timezone_id="Pacific/Kiritimati")  # UTC+14: another day, even
    answering(page, base)
    line = page.locator("#transcript li", has_text="started answering at")
    expect(line).to_be_visible()
    served = line.inner_text()
    assert time.strftime("%H:", time.gmtime()) in served  # in UTC, as OPS_TIMEZONE says
    text(base, "sigo aquí")  # the script writes the transcript again
    expect(page.locator("#transcript .msg.person", has_text="sigo aquí")).to_be_visible()
    expect(page.locator("#transcript li", has_text="started answering at")).to_have_text(served)


def test_answer_is_a_few_tabs_away_and_the_simulator_keeps_focus(live_server, browser):
    expect = _expect()
    base, _app = live_server
    page = _signed_in(browser, base)
    page.click("text=Go on duty")
    text(base, "hola")
    text(base, "PERSONA")
    expect(page.locator(".queue .card", has_text="··42")).to_be_visible()

    page.goto(base + "/ops/")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the people waiting"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Answer"
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text("Chat with ··42")
    page.wait_for_function("() => document.activeElement.id === 'reply-text'")  # no Tab, no click
    page.keyboard.type("Hola, soy Rita.")
    expect(page.locator("#reply-text")).to_have_value("Hola, soy Rita.")

    # Every page counts the times its message box loses the focus.
    page.add_init_script("document.addEventListener('focusout', e => { if (e.target.id === 'sim-text') "
                         "window.simTextLeft = (window.simTextLeft || 0) + 1; }, true)")
    page.goto(base + "/ops/simulator")
    for words, answer in [("hola", "Hola. Esta es una línea"), ("4", "¿Qué tipo de ayuda necesita?")]:
        page.keyboard.type(words)
        page.keyboard.press("Enter")
        expect(page.locator("#sim-log")).to_contain_text(answer)
        # Each message reloads the page, and the input has the focus as soon as it shows.
        expect(page.locator("#sim-text")).to_be_focused()
        # Nothing takes it away while the page finishes loading (going to an anchor did):
        # a fast typist's next keys land in the box.
        page.wait_for_load_state("load")
        assert page.evaluate("window.simTextLeft || 0") == 0


def test_a_chat_page_says_when_storage_stops_answering_and_when_it_is_back(live_server, browser):
    # Redis stalled for 20 s while a responder sat in a chat: the person's text got the
    # automatic reply and never showed, and the chat page said nothing (only the Live list's
    # small status line changed). The stream's "unavailable" (bot/web/console/blueprint.py)
    # is played here by the browser, not by stopping the Redis other tests share.
    expect = _expect()
    base, _app = live_server
    page = _signed_in(browser, base)
    answering(page, base)
    expect(page.locator("h1")).to_contain_text("Chat with ··42")
    banner = page.locator("#store-down")
    expect(banner).to_be_hidden()

    def storage_down(route):
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"},
                      body="retry: 1000\nevent: unavailable\ndata: {}\n\n")

    page.route("**/ops/live/events*", storage_down)
    page.reload()
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("people who text now get the automatic reply")
    page.unroute("**/ops/live/events*")
    expect(banner).to_be_hidden(timeout=20_000)


def test_a_new_person_in_the_queue_leaves_the_keyboard_on_the_card_it_was_on(live_server, browser):
    # A new card swapped the queue's HTML and dropped the focus on the page's body: Enter on
    # "Answer" then did nothing, and Tab started again from "Skip to the content".
    expect = _expect()
    base, _app = live_server
    page = _signed_in(browser, base)
    page.click("text=Go on duty")
    text(base, "hola")
    text(base, "PERSONA")
    card = page.locator(".queue .card", has_text="··42")
    expect(card).to_be_visible()
    card.locator("button", has_text="Answer").focus()
    other = "+15550009977"
    text(base, "hola", sender=other)
    text(base, "SOCORRO, PERSONA", sender=other)  # the danger word: their card goes in above
    expect(page.locator(".queue .card", has_text="··77")).to_be_visible()
    focused = page.evaluate("[document.activeElement.closest('.card') && document.activeElement.closest('.card')"
                            ".textContent.includes('··42'), document.activeElement.textContent.trim()]")
    assert focused == [True, "Answer"]
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text("Chat with ··42")
