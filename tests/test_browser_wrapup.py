"""Wrap-up and take-over in Chromium (issue 19): ending a chat asks how it
ended, the outcome shows in the figures; a take-over is confirmed, and the
responder it was taken from is told at once, their half-typed reply kept."""
from __future__ import annotations

import os

import pytest

from tests.fixtures_browser import ALERT_STAND_INS, CHROMIUM, answering, sign_in_page
from tests.fixtures_console import PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing: apt-get install -y chromium"),
]


def _signed_in(browser, base, name, **options):
    page = browser.new_page(**options)
    page.set_default_timeout(10_000)
    sign_in_page(page, base, name)
    return page


@pytest.mark.parametrize("width,height,scheme", [(1280, 800, "light"), (390, 844, "dark")])
def test_ending_a_chat_asks_how_it_ended_and_counts_it(live_server, browser, shot, width, height, scheme):
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    base, app = live_server
    page = _signed_in(browser, base, "rita", viewport={"width": width, "height": height}, color_scheme=scheme)
    answering(page, base)
    expect(page.locator("h1")).to_contain_text("Chat with ··42")
    # Nothing ends with one click: the buttons are behind the wrap-up.
    expect(page.locator("#wrapup button.danger")).to_be_hidden()
    page.click("#wrapup summary")
    page.check("input[name=outcome][value=hotline]")
    page.fill("#wrapup-note", "Gave the national hotline")
    shot(page, f"wrapup-{width}-{scheme}")
    # The wrap-up itself never runs wider than its box (the page's own width at 390 px is the layout's fix).
    assert page.evaluate("(() => { const f = document.querySelector('.wrapup-form');"
                         " return f.scrollWidth <= f.clientWidth; })()")
    page.click("#wrapup button.danger")
    expect(page.locator(".flash.ok")).to_contain_text("Chat ended")
    page.goto(base + "/ops/figures")
    section = page.locator("#wrapups")
    expect(section).to_contain_text("Referred to a hotline")
    expect(section).not_to_contain_text("national hotline")


def test_a_take_over_is_confirmed_and_the_first_responder_keeps_what_they_typed(live_server, browser, shot):
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    base, app = live_server
    app.extensions["ops"].accounts.add("rosa", "responder", PASSWORD)
    rita = _signed_in(browser, base, "rita", viewport={"width": 1280, "height": 800})
    answering(rita, base)
    expect(rita.locator("h1")).to_contain_text("Chat with ··42")
    rita.fill("#reply-text", "Half of what I wanted to s")

    rosa = _signed_in(browser, base, "rosa", viewport={"width": 1280, "height": 800})
    rosa.goto(rita.url)
    rosa.click(".takeover summary")
    expect(rosa.locator(".takeover")).to_contain_text("rita is answering. Take over?")
    rosa.click("text=Yes, take over from rita")
    expect(rosa.locator("#transcript")).to_contain_text("rosa took over from rita")

    notice = rita.locator("#taken-over")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("rosa took over this chat")
    expect(rita.locator("#kept-reply")).to_have_value("Half of what I wanted to s")
    assert rita.locator("#kept-reply").get_attribute("readonly") is not None
    shot(rita, "taken-over")


def test_after_a_reply_was_sent_a_take_over_still_keeps_what_was_being_typed(live_server, browser, twilio_api):
    # Sending a reply counted as leaving the page: the draft of the next one was lost, and
    # the page said only "rosa is answering", with no notice that she took over.
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    base, app = live_server
    app.extensions["ops"].accounts.add("rosa", "responder", PASSWORD)
    rita = _signed_in(browser, base, "rita", viewport={"width": 1280, "height": 800})
    answering(rita, base)
    rita.fill("#reply-text", "Hola, ¿está a salvo?")
    rita.press("#reply-text", "Control+Enter")
    expect(rita.locator("#reply-status")).to_have_text("Sent.")
    rita.fill("#reply-text", "Y otra cosa que le q")

    rosa = _signed_in(browser, base, "rosa", viewport={"width": 1280, "height": 800})
    rosa.goto(rita.url)
    rosa.click(".takeover summary")
    rosa.click("text=Yes, take over from rita")
    expect(rosa.locator("#transcript")).to_contain_text("rosa took over from rita")
    expect(rita.locator("#taken-over")).to_be_visible()
    expect(rita.locator("#kept-reply")).to_have_value("Y otra cosa que le q")


def test_signing_out_while_answering_puts_the_chat_back(live_server, browser):
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    base, app = live_server
    page = _signed_in(browser, base, "rita", viewport={"width": 1280, "height": 800})
    answering(page, base)
    expect(page.locator("h1")).to_contain_text("Chat with ··42")
    page.click("text=Sign out")
    expect(page.locator(".flash")).to_contain_text("went back to the queue")
    page = _signed_in(browser, base, "rita", viewport={"width": 1280, "height": 800})
    expect(page.locator(".queue .card", has_text="··42")).to_contain_text("Nobody has answered yet")


def test_transfer_to_a_colleague_online_and_the_presence_list(live_server, browser, shot):
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    base, app = live_server
    app.extensions["ops"].accounts.add("rosa", "responder", PASSWORD)
    rosa = browser.new_page(viewport={"width": 390, "height": 844}, color_scheme="dark")
    rosa.add_init_script(ALERT_STAND_INS)  # her console's sound and notifications, recorded
    rosa.add_init_script("localStorage.setItem('stand-in.permission', 'granted')")
    rosa.set_default_timeout(10_000)
    sign_in_page(rosa, base, "rosa")
    expect(rosa.locator("#live-state")).to_contain_text("Live")  # her stream made her present
    rita = _signed_in(browser, base, "rita", viewport={"width": 1280, "height": 800})
    answering(rita, base)
    expect(rita.locator("h1")).to_contain_text("Chat with ··42")
    rita.click("#transfer summary")
    rita.select_option("#transfer-to", "rosa")
    rita.fill("#transfer-note", "Asked about unpaid wages; safe to text")
    rita.click("#transfer button[type=submit]")
    expect(rita.locator(".flash.ok")).to_contain_text("Handed to rosa")
    # Rosa's console, open on Live, alerts her: a sound and a notification that say no more than that.
    rosa.wait_for_function("() => window.__notes.some(n => n.title === 'A chat was transferred to you')")
    assert rosa.evaluate("window.__tones") > 0

    presence = rita.locator(".presence")
    expect(presence).to_contain_text("rosa")
    expect(presence.locator("li", has_text="rosa")).to_contain_text("answering ··42")
    shot(rita, "presence")

    rosa.goto(base + "/ops/")
    rosa.locator(".queue .card", has_text="··42").locator("a", has_text="Open the chat").click()
    expect(rosa.locator("#transcript")).to_contain_text("rita handed this chat to rosa")
    expect(rosa.locator("#transcript")).to_contain_text("Asked about unpaid wages; safe to text")
    shot(rosa, "transferred-390-dark")
