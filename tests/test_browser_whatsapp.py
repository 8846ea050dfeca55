"""The simulator on WhatsApp in a real browser (Debian's chromium, Playwright): the main
menu as a list, a tap on a row, a question as three buttons, a hotline screen's call button;
nothing refused by the console's Content-Security-Policy. With ``UPDATE_SCREENSHOTS=1`` the
picture replaces ``docs/screenshots/whatsapp-simulator.png`` (README, WhatsApp)."""
from __future__ import annotations

import os

import pytest

from tests.fixtures_browser import CHROMIUM, sign_in_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing: apt-get install -y chromium"),
]


def test_the_simulator_shows_whatsapp_lists_and_buttons(live_server, browser, shot):
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    base, _ = live_server
    page = browser.new_page(viewport={"width": 1000, "height": 1500})
    page.set_default_timeout(10_000)
    sign_in_page(page, base)

    page.goto(base + "/ops/simulator")
    page.check("input[name=lang][value=es]")
    page.check("input[name=channel][value=whatsapp]")
    page.click(".sim-settings button[type=submit]")
    menu = page.locator(".msg.wa").last
    expect(menu).to_contain_text("¿Qué desea hacer?")
    expect(menu.locator(".wa-row").first).to_be_hidden()  # a list opens on its button, as on WhatsApp
    menu.locator("summary").click()
    expect(menu.locator(".wa-row", has_text="¿Tráfico o trata?")).to_be_visible()
    page.locator("#sim-log").evaluate("log => { log.scrollTop = log.scrollHeight; }")
    shot(page, "whatsapp-simulator")

    menu.locator(".wa-row", has_text="¿Qué me pasó?").click()
    question = page.locator(".msg.wa").last
    expect(question).to_contain_text("¿Puede escribir ahora sin peligro?")
    expect(question.locator("button.wa-button")).to_have_text(["Sí", "No", "No sé"])
    question.locator("button.wa-button", has_text="Sí").click()
    expect(page.locator(".msg.you").last).to_contain_text("Sí")
