"""The queue and the hand-off's context in a real browser (Debian's chromium):
two people waiting, the one whose screening suggests trafficking first and
marked; how long each has waited, live; the one waiting past the limit
coloured and saying so; and the words of "What the bot knows", before and
after answering. At 1280×800 light and 390×844 dark (no sideways scroll)."""
from __future__ import annotations

import os
import re
import time

import pytest

from bot.engine import transcript
from tests.fixtures_browser import CHROMIUM, sign_in_page, text

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing: apt-get install -y chromium"),
]

PLAIN = "+15550001101"  # asks first, answers no questions
SCREENED = "+15550001102"  # screened to a trafficking referral, asks second
SCREENING = ["hello", "1", "1", "1", "2", "2", "2", "2", "1", "2", "2", "2", "2", "2", "1", "2", "2", "2"]


def backdate_asking(redis_client, sender: str, seconds: float) -> None:
    from bot.helpline import contact_id

    key = f"hl:{{{contact_id('test-secret', sender)}}}:handoff"
    assert transcript.read(redis_client.lindex(key, 0))["k"] == transcript.ASKED
    redis_client.lset(key, 0, transcript.record(transcript.ASKED, time.time() - seconds))


def test_the_risky_person_comes_first_with_the_wait_and_the_context(live_server, browser, redis_client, shot):
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    base, app = live_server
    page = browser.new_page(viewport={"width": 1280, "height": 800}, color_scheme="light")
    page.set_default_timeout(10_000)
    sign_in_page(page, base)
    page.click("text=Go on duty")

    text(base, "hola", sender=PLAIN)
    text(base, "PERSONA", sender=PLAIN)
    backdate_asking(redis_client, PLAIN, 7 * 60)  # past the 5-minute default
    for body in SCREENING:
        text(base, body, sender=SCREENED)
    text(base, "HUMAN", sender=SCREENED)
    page.reload()

    cards = page.locator(".queue .card")
    expect(cards).to_have_count(2)
    first, second = cards.nth(0), cards.nth(1)
    expect(first).to_contain_text("··02")  # asked later, but the screening suggests trafficking
    expect(first).to_contain_text("Priority: screening suggests trafficking")
    expect(first).to_contain_text("Waiting under a minute")
    expect(first.locator(".overdue-label")).to_be_hidden()
    expect(second).to_contain_text("··01")
    expect(second).not_to_contain_text("Priority")
    expect(second).to_contain_text("Waiting 7 min")
    expect(second.locator(".overdue-label")).to_be_visible()
    expect(second.locator(".overdue-label")).to_have_text("· Waiting too long")
    expect(page.locator("#queue-count")).to_have_text("2")
    for card in (first, second):
        expect(card.locator(".chat-label")).to_have_text(re.compile(r"Chat [A-Z0-9]{2}"))
        expect(card).to_contain_text("SMS")
    colours = page.evaluate("""() => [...document.querySelectorAll('.queue .card')]
        .map(c => getComputedStyle(c).backgroundColor)""")
    assert colours[0] != colours[1]  # the late one is coloured, and says so in words too
    shot(page, "queue-priority")

    # The wait keeps counting in the page, without a reload.
    page.evaluate("document.querySelector('.card .wait-for').closest('.card').dataset.asked = Date.now() / 1000 - 400")
    expect(first).to_contain_text("Waiting 6 min", timeout=15_000)
    expect(first.locator(".overdue-label")).to_be_visible()

    # Before answering: what the bot knows, in the flows' words.
    conv = first.get_attribute("data-conv")
    page.goto(f"{base}/ops/handoff/{conv}")
    panel = page.locator(".context-panel")
    for words in ("What the bot knows", "English", "SMS", "In the US", "Signs of trafficking",
                  "Has anyone made you work or do things you did not want to do, by force or threats?",
                  "Who has your passport or ID now?", "Priority: screening suggests trafficking"):
        expect(panel).to_contain_text(words)
    expect(panel.locator("dt", has_text="Safe to text").locator("xpath=following-sibling::dd[1]")).to_have_text("Yes")
    panel.locator("summary").click()
    expect(panel).to_contain_text("Screening: Is it safe for you to text right now? Yes")
    assert "id_taken" not in panel.inner_text() and "screening." not in panel.inner_text()
    shot(page, "handoff-context")

    # After answering it is still there.
    page.click("text=Answer this person")
    expect(page.locator("#reply-text")).to_be_visible()
    expect(page.locator(".context-panel")).to_contain_text("Signs of trafficking")

    # The one who answered no questions: "Not asked".
    plain = page
    plain.goto(base + "/ops/")
    conv_plain = plain.locator(".queue .card", has_text="··01").get_attribute("data-conv")
    plain.goto(f"{base}/ops/handoff/{conv_plain}")
    expect(plain.locator(".context-panel")).to_contain_text("Not asked")
    expect(plain.locator(".context-panel")).to_contain_text("Spanish")


def test_the_queue_and_context_fit_a_phone_in_the_dark(live_server, browser, redis_client, shot):
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    base, app = live_server
    page = browser.new_page(viewport={"width": 390, "height": 844}, color_scheme="dark")
    page.set_default_timeout(10_000)
    sign_in_page(page, base)
    page.goto(base + "/ops/")
    page.click("text=Go on duty")
    for body in SCREENING:
        text(base, body, sender=SCREENED)
    text(base, "HUMAN", sender=SCREENED)
    text(base, "hola", sender=PLAIN)
    text(base, "PERSONA", sender=PLAIN)
    backdate_asking(redis_client, PLAIN, 9 * 60)
    page.reload()
    card = page.locator(".queue .card").first
    expect(card).to_contain_text("Priority: screening suggests trafficking")
    expect(page.locator(".overdue-label").last).to_be_visible()
    for where in (page.locator("#queue"),):
        assert where.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    shot(page, "queue-priority-phone-dark")
    page.goto(f"{base}/ops/handoff/{card.get_attribute('data-conv')}")
    panel = page.locator(".context-panel")
    expect(panel).to_contain_text("Signs of trafficking")
    assert panel.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    shot(page, "handoff-context-phone-dark")
