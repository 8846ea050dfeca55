"""Canned replies, the segment count and going off duty, in Debian's chromium.

* A responder answering a Spanish texter puts a canned reply in the box with
  Alt and a number: in Spanish, not sent until Send, the SMS count changing.
* The count in the page (bot/static/ops/replies.js) and bot/engine/segments.py
  agree on a set of strings.
* Two responders on duty, one person waiting: going off duty asks first and
  says what will happen; the first to leave switches off only herself; the
  last one's people get the hotline numbers.
"""
from __future__ import annotations

import os
import re

import pytest

from bot import canned_replies
from bot.engine.segments import count_segments
from tests.fixtures_browser import CHROMIUM, PERSON, answering, sign_in_page, text
from tests.fixtures_console import PASSWORD
from tests.helpers import REPO, real_flows
from tests.servers import wait_until

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing: apt-get install -y chromium"),
]

HOTLINE = "1-888-373-7888"


def sign_in(page, base: str, name: str) -> None:
    sign_in_page(page, base, name)
    page.wait_for_selector("h2#sessions-title")


def shown_count(value: str) -> str:
    """What the page should say for the box holding ``value`` (segments.py's count)."""
    seg = count_segments(value)
    parts = f"{seg.segments} SMS part" + ("" if seg.segments == 1 else "s")
    odd = next((ch for ch in value if count_segments(ch).encoding != "GSM-7"), "")
    return f"{parts} ({seg.encoding}" + (f", because of “{odd}”" if odd else "") + ")"


def spanish(reply_id: str) -> str:
    replies = canned_replies.for_console(str(REPO / "flows"), real_flows(), "es")
    return next(r["text"] for r in replies if r["id"] == reply_id)


@pytest.mark.parametrize("scheme, width, height", [("light", 1280, 800), ("dark", 390, 844)])
def test_a_key_puts_the_spanish_reply_in_the_box_and_the_count_follows(live_server, browser, twilio_api, shot,
                                                                       scheme, width, height):
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    base, _ = live_server
    page = browser.new_page(viewport={"width": width, "height": height}, color_scheme=scheme)
    page.set_default_timeout(10_000)
    sign_in(page, base, "rita")
    page.click("text=Go on duty")
    expect(page.locator(".duty-panel button")).to_have_text("Go off duty")
    text(base, "hola")
    text(base, "PERSONA")
    card = page.locator(".queue .card", has_text="··42")
    expect(card).to_be_visible()  # the live page shows it by itself
    card.locator("button", has_text="Answer").click()
    expect(page.locator("h1")).to_contain_text("Chat with ··42")

    box, count = page.locator("#reply-text"), page.locator("#reply-segments")
    expect(count).to_have_text("0 SMS parts (GSM-7)")
    canned = page.locator(".canned")
    expect(canned).to_be_visible()  # replies.js has run
    expect(canned).to_contain_text("Ready replies in Spanish")
    expect(canned.locator("button", has_text="Safe to talk?")).to_contain_text("Alt+1")

    # Alt+1: the safety question, in Spanish; nothing sent.
    page.keyboard.press("Alt+1")
    first = spanish("safe_to_talk")
    expect(box).to_have_value(first)
    expect(box).to_be_focused()
    expect(count).to_have_text(shown_count(first))
    # Alt+4 adds the hotline, from the directory, in Spanish: accents make it UCS-2 and more parts.
    page.keyboard.press("Alt+4")
    both = first + " " + spanish("hotline")
    expect(box).to_have_value(both)
    assert HOTLINE in both and "Línea contra la Trata" in both
    expect(count).to_have_text(shown_count(both))
    assert count_segments(both).segments > count_segments(first).segments
    assert twilio_api.messages == []
    shot(page, f"replies-{scheme}-{width}")

    # The responder trims it to the one reply, types a word, and sends.
    box.fill("")
    canned.locator("button", has_text="I am still here").click()
    box.press("End")
    box.type(" ¿Cómo está?")
    expect(count).to_have_text(shown_count(spanish("still_here") + " ¿Cómo está?"))
    page.click("#reply-form button[type=submit]")
    expect(page.locator("#reply-status")).to_have_text("Sent.")
    [sent] = twilio_api.messages
    assert sent["To"] == PERSON and sent["Body"] == spanish("still_here") + " ¿Cómo está?"
    expect(count).to_have_text("0 SMS parts (GSM-7)")  # the box emptied after sending


STRINGS = [
    "", "Hola", "a" * 160, "a" * 161, "a" * 306, "a" * 307, "a" * 459, "a" * 460,
    "Línea", "x" * 69 + "í", "x" * 70 + "í", "y" * 201, "y" * 200 + "ú",
    "{}" * 80, "{}" * 81, "€" * 80, "[~]|^\\\f", "ç", "Ç", "ñÑüÜ¿¡", "\n\r", "tab\there",
    "emoji 😀", "😀" * 35, "😀" * 36, "“quotes”", "Ελληνικά", "ΔΦΓΛΩΠΨΣΘΞ",
]


def test_the_page_counts_segments_as_segments_py_does(live_server, browser):
    base, _ = live_server
    page = browser.new_page()
    page.goto(base + "/ops/login")
    page.add_script_tag(url=base + "/ops/static/replies.js")
    fs = real_flows()
    strings = STRINGS + [r["text"] for lang in fs.system.languages
                         for r in canned_replies.for_console(str(REPO / "flows"), fs, lang)]
    counted = page.evaluate("ss => ss.map(s => { const c = window.opsSegments(s);"
                            " return [c.encoding, c.units, c.segments]; })", strings)
    assert [tuple(c) for c in counted] == [tuple(count_segments(s)) for s in strings]


def test_going_off_duty_asks_first_and_switches_off_only_that_responder(live_server, browser, twilio_api, shot):
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    base, app = live_server
    app.extensions["ops"].accounts.add("rosa", "responder", PASSWORD)
    rita = browser.new_page(viewport={"width": 1280, "height": 800})
    rosa = browser.new_page(viewport={"width": 390, "height": 844}, color_scheme="dark")
    for page, name in ((rita, "rita"), (rosa, "rosa")):
        page.set_default_timeout(10_000)
        sign_in(page, base, name)
        expect(page.locator(".duty-panel")).not_to_contain_text("Go off duty")  # never went on duty
        page.click("text=Go on duty")
        expect(page.locator(".duty-panel button")).to_have_text("Go off duty")
    text(base, "hola")
    text(base, "PERSONA")

    # Rita's console followed Rosa going on duty by reloading itself: wait for it (see below).
    expect(rita.locator(".duty-panel")).to_have_attribute("data-who", re.compile(r"^(rita,rosa|rosa,rita)$"))
    # Rita leaves: she is told first, and Rosa stays; the person keeps waiting.
    rita.goto(base + "/ops/")
    rita.click("text=Go off duty")
    expect(rita.locator("h1")).to_have_text("Go off duty?")
    expect(rita.locator("#confirm-what")).to_contain_text(
        "1 person is waiting. If you go off duty and nobody else is on duty, they will get the hotline numbers at"
        " once and go back to the bot.")
    expect(rita.locator("#confirm-now")).to_contain_text("rosa is still on duty, so they keep waiting for a person")
    shot(rita, "duty-confirm-light-1280")
    rita.locator(".duty-confirm button", has_text="Go off duty").click()
    expect(rita.locator(".flash.ok")).to_contain_text("You are off duty. Still on duty: rosa.")
    expect(rita.locator(".duty-panel button")).to_have_text("Go on duty")
    assert app.extensions["ops"].duty.state().who == ("rosa",)

    # Rosa's open console follows Rita leaving by reloading itself (the live stream's duty
    # event): wait for that reload, or the next navigation races it (net::ERR_ABORTED).
    expect(rosa.locator(".duty-panel")).to_have_attribute("data-who", "rosa")
    # Rosa changes her mind once, then leaves: nobody is left, and the person gets the numbers.
    rosa.goto(base + "/ops/")
    rosa.click("text=Go off duty")
    expect(rosa.locator("#confirm-now")).to_contain_text("nobody else is on duty")
    # The confirmation fits a phone (the page's header is the layout part's, issue 19).
    box = rosa.locator(".duty-confirm").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    shot(rosa, "duty-confirm-dark-390")
    rosa.click("text=Stay on duty")
    expect(rosa.locator(".duty-panel button")).to_have_text("Go off duty")
    assert app.extensions["ops"].duty.is_on() and twilio_api.messages == []
    rosa.click("text=Go off duty")
    rosa.locator(".duty-confirm button", has_text="Go off duty").click()
    expect(rosa.locator(".flash.ok")).to_contain_text("nobody else is on duty: everyone waiting gets the hotline numbers")
    sent = wait_until(lambda: twilio_api.messages)
    assert [m["To"] for m in sent] == [PERSON] and HOTLINE in sent[0]["Body"]


def test_a_console_stays_put_while_those_on_duty_only_renew(live_server, browser):
    # Each open console renews its responder's duty (bot/web/console/events.py), which moves
    # them in the store's order: two on duty swapped places every few seconds, and each swap
    # reloaded every console, losing what its page held. Only who is on duty counts.
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    base, app = live_server
    app.extensions["ops"].accounts.add("rosa", "responder", PASSWORD)
    pages = {}
    for name in ("rita", "rosa"):
        page = pages[name] = browser.new_page(viewport={"width": 1280, "height": 800})
        page.set_default_timeout(10_000)
        sign_in(page, base, name)
        page.click("text=Go on duty")
        expect(page.locator(".duty-panel button")).to_have_text("Go off duty")
    rita = pages["rita"]
    rita.goto(base + "/ops/")
    expect(rita.locator(".duty-panel")).to_have_attribute("data-who", re.compile(r"^(rita,rosa|rosa,rita)$"))
    rita.evaluate("window.stillHere = true")
    duty = app.extensions["ops"].duty
    duty.renew("rosa")  # Rosa's console renews: she now runs out last, after Rita (whose page load renewed her)
    # The stream looks at duty every two seconds, or (one stream a process here, Rosa's) at each poll, every five.
    rita.wait_for_timeout(7_000)
    assert rita.evaluate("window.stillHere === true"), "the console reloaded though nobody came or went"
    duty.renew("rosa")
    pages["rosa"].goto(base + "/ops/")
    pages["rosa"].click("text=Go off duty")
    # Someone leaving does reload it: its panel then says who is left.
    expect(rita.locator(".duty-panel")).to_have_attribute("data-who", "rita")


def test_a_second_send_while_the_first_is_on_its_way_sends_nothing_more(live_server, browser, twilio_api):
    # Ctrl+Enter twice, or Send clicked again while "Sending…": the person got the same text
    # twice. The page disabled the first button of the form (a ready reply), not Send.
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    base, _ = live_server
    page = browser.new_page()
    page.set_default_timeout(10_000)
    sign_in(page, base, "rita")
    answering(page, base)
    expect(page.locator("h1")).to_contain_text("Chat with ··42")
    twilio_api.stall = (1.5,)  # a slow Twilio: the reply is on its way for a while
    box = page.locator("#reply-text")
    box.fill("¿Está a salvo?")
    box.press("Control+Enter")
    expect(page.locator("#reply-status")).to_have_text("Sending…")
    expect(page.locator("#reply-form button[type=submit]")).to_be_disabled()
    box.press("Control+Enter")
    page.locator("#reply-form button[type=submit]").click(force=True)
    expect(page.locator("#reply-status")).to_have_text("Sent.")
    assert [m["Body"] for m in twilio_api.messages] == ["¿Está a salvo?"]
    expect(page.locator(".canned button").first).to_be_enabled()  # the ready replies stay usable
