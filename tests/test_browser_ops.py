"""The console in a real browser: Debian's chromium, driven by Playwright.

The app runs under a real HTTP server (werkzeug, threaded) on a free port;
texts arrive as signed Twilio webhooks over HTTP; operator replies go to a
local server standing in for Twilio's REST API. Each page is photographed;
with ``UPDATE_SCREENSHOTS=1`` the pictures replace those in
``docs/screenshots/`` (shown in the README; review them before committing),
otherwise they go to the test's temporary folder, so a test run leaves the
work tree as it was.

Skipped only when ``/usr/bin/chromium`` is missing (``.ci/run`` installs
it). Playwright's own browser downloads are never used.
"""
from __future__ import annotations

import os

import pytest

from tests.fixtures_browser import CHROMIUM, PERSON, sign_in_page, text
from tests.fixtures_console import PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing: apt-get install -y chromium"),
]


def test_an_operator_takes_a_hand_off_in_the_browser(live_server, browser, twilio_api, shot):
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)  # a second console may poll every 5 s (bot/web/console/events.py)
    base, app = live_server
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.set_default_timeout(10_000)

    # Sign in.
    page.goto(base + "/ops/")
    expect(page).to_have_url(base + "/ops/login?next=/ops/")
    shot(page, "login")
    page.fill("#username", "rita")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h2#sessions-title")).to_contain_text("Live conversations")
    page.click("text=Go on duty")
    expect(page.locator("#duty-badge")).to_have_text("ON DUTY")
    expect(page.locator("#live-state")).to_contain_text("Live")

    # A session appears without reloading.
    page.evaluate("window.notReloaded = true")
    text(base, "hola")
    text(base, "hi", sender="whatsapp:+5215550001107")
    row = page.locator('#sessions tbody tr', has_text="··42")
    expect(row).to_be_visible()
    expect(row).to_contain_text("Spanish")
    expect(row).to_contain_text("With the bot")
    expect(page.locator('#sessions tbody tr', has_text="··07")).to_contain_text("WhatsApp")
    assert page.evaluate("window.notReloaded") is True
    assert "5550001142" not in page.content()

    # They ask for a person: they join the queue, still without a reload.
    text(base, "PERSONA")
    card = page.locator(".queue .card", has_text="··42")
    expect(card).to_contain_text("Nobody has answered yet")
    expect(row).to_contain_text("Wants a person")
    assert page.evaluate("window.notReloaded") is True
    shot(page, "live")

    # Claim; their messages show as they arrive.
    card.locator("button", has_text="Answer").click()
    expect(page.locator("h1")).to_contain_text("Chat with ··42")
    text(base, "me pagan muy poco y no tengo mis papeles")
    expect(page.locator("#transcript")).to_contain_text("me pagan muy poco y no tengo mis papeles")

    # Reply: sent through the stand-in for Twilio's REST API.
    page.fill("#reply-text", "Hola, soy Rita, del equipo. ¿Puede hablar ahora sin peligro?")
    page.click("#reply-form button[type=submit]")
    expect(page.locator("#reply-status")).to_have_text("Sent.")
    expect(page.locator("#transcript .msg.operator")).to_contain_text("¿Puede hablar ahora sin peligro?")
    [sent] = twilio_api.messages
    assert sent["To"] == PERSON and sent["Body"].startswith("Hola, soy Rita")
    text(base, "sí, estoy sola")
    expect(page.locator("#transcript")).to_contain_text("sí, estoy sola")
    shot(page, "handoff")

    # EMERGENCY is answered by the bot at once, and the responder sees it, marked, without a reload.
    page.evaluate("window.notReloaded = true")
    text(base, "EMERGENCIA")
    marked = page.locator("#transcript .msg.keyword")
    expect(marked).to_contain_text("They texted EMERGENCIA: the bot sent them the emergency numbers.")
    marked.locator("summary").click()
    expect(marked).to_contain_text("911")
    assert page.evaluate("window.notReloaded") is True

    # Release (after the wrap-up: how the chat ended): back to the list, the queue empty, the person with the bot again.
    page.click("#wrapup summary")
    page.check("input[name=outcome][value=information]")
    page.click("#wrapup button:has-text('Hand back to the bot')")
    expect(page.locator(".flash.ok")).to_contain_text("Handed back to the bot")
    expect(page.locator("#queue")).to_contain_text("Nobody is waiting for a person.")
    expect(page.locator('#sessions tbody tr', has_text="··42")).to_contain_text("With the bot")
    assert len(twilio_api.requests) == 1


def test_figures_and_simulator_pages(live_server, browser, shot):
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    base, app = live_server
    for sender, words in [(PERSON, ["hola", "1", "2"]), ("+15550002202", ["hi", "4"]),
                          ("whatsapp:+5215550001107", ["hola", "banana", "SALIR"]),
                          ("+15550002203", ["hello", "6"]), ("+15550002204", ["buenas", "3", "MENU"])]:
        for body in words:
            text(base, body, sender)
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.set_default_timeout(10_000)
    sign_in_page(page, base)

    page.goto(base + "/ops/figures")
    expect(page.locator(".tile").first).to_contain_text("5")
    expect(page.locator("svg.chart").first).to_be_visible()
    shot(page, "figures")
    with page.expect_download() as download:
        page.click("text=Download CSV")
    assert download.value.suggested_filename.startswith("helpline-figures-")

    page.goto(base + "/ops/simulator")
    page.check("input[name=lang][value=es]")
    page.check("input[name=channel][value=whatsapp]")
    page.click(".sim-settings button[type=submit]")
    expect(page.locator("#sim-log")).to_contain_text("Hola. Esta es una línea")
    page.fill("#sim-text", "4")
    page.click(".sim-send button")
    expect(page.locator("#sim-log")).to_contain_text("¿Qué tipo de ayuda necesita?")
    shot(page, "simulator")
    page.click("text=Reset: erase this trial")
    expect(page.locator(".flash.ok")).to_contain_text("erased")
    expect(page.locator("#sim-log")).not_to_contain_text("Hola. Esta es")
