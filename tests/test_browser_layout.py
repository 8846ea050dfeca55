"""The console at phone width (390×844), light and dark, in Debian's chromium.

No page scrolls sideways; the menu wraps; on Live the queue shows without
scrolling; the simulator's Send button fits; figure labels are whole; and in
dark mode a few texts keep a contrast of at least 4.5:1.
"""
from __future__ import annotations

import os

import pytest

from tests.fixtures_browser import CHROMIUM, text
from tests.fixtures_console import PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing: apt-get install -y chromium"),
]

PHONE = {"width": 390, "height": 844}

# What sticks out past the right edge, to name in a failure.
WIDER = """() => {
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.width && r.right > window.innerWidth + 0.5 && getComputedStyle(el).position !== "absolute") {
      out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && el.className.baseVal === undefined ? "." + el.className.split(" ").join(".") : "") + " " + Math.round(r.right));
    }
  }
  return out.slice(0, 8);
}"""

# The contrast of an element's text with the colour behind it (WCAG 2.x).
CONTRAST = """(selector) => {
  const el = document.querySelector(selector);
  const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
  const lum = (c) => {
    const [r, g, b] = rgb(c).slice(0, 3).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  let bg = null;
  for (let e = el; e; e = e.parentElement) {
    const c = getComputedStyle(e).backgroundColor;
    if (rgb(c).length < 4 || rgb(c)[3] > 0) { bg = c; break; }
  }
  const a = lum(getComputedStyle(el).color), b = lum(bg || "rgb(255,255,255)");
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


def _pages(base: str, conv: str) -> dict[str, str]:
    return {
        "live": "/ops/", "handoff": f"/ops/handoff/{conv}", "figures": "/ops/figures", "simulator": "/ops/simulator",
        "flows": "/ops/flows", "flow edit": "/ops/flows/file/main.yaml", "flow map": "/ops/flows/map/screening",
        "translations": "/ops/translations", "reviews": "/ops/reviews",
    }


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_console_page_is_wider_than_a_phone(live_server, browser, shot, scheme):
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    base, app = live_server
    app.extensions["ops"].accounts.add("eda", "editor", PASSWORD)
    page = browser.new_page(viewport=PHONE, color_scheme=scheme)
    page.set_default_timeout(15_000)

    page.goto(base + "/ops/login")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], ("login", page.evaluate(WIDER))
    page.fill("#username", "eda")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.click("text=Go on duty")
    for sender, words in [("+15550002202", ["hi", "4"]), ("+15550002204", ["buenas", "3"])]:
        for body in words:
            text(base, body, sender)
    text(base, "hola")
    text(base, "PERSONA")
    card = page.locator(".queue .card", has_text="··42")
    expect(card).to_be_visible()

    # On Live the queue is in view without scrolling, its Answer button too.
    answer = card.locator("button", has_text="Answer")
    box = answer.bounding_box()
    assert box["y"] + box["height"] <= PHONE["height"], box
    # The menu wraps: nothing of the header runs off the screen.
    assert page.evaluate("document.querySelector('header.top').scrollWidth") <= PHONE["width"]
    shot(page, f"phone-live-{scheme}")
    answer.click()
    expect(page.locator("h1")).to_contain_text("Chat with ··42")
    text(base, "necesito ayuda con mi trabajo, no me dejan salir")
    expect(page.locator("#transcript")).to_contain_text("no me dejan salir")
    conv = page.url.rsplit("/", 1)[1]

    page.goto(base + "/ops/simulator")
    page.fill("#sim-text", "hola")
    page.click(".sim-send button")
    expect(page.locator("#sim-log")).to_contain_text("Hola. Esta es una línea")

    for name, path in _pages(base, conv).items():
        page.goto(base + path)
        page.wait_for_load_state("load")
        if name == "flow map":
            page.wait_for_timeout(1500)  # drawn by the script
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], (name, width, page.evaluate(WIDER))
        if name == "simulator":
            send = page.locator(".sim-send button").bounding_box()
            assert send["x"] + send["width"] <= PHONE["width"], send
        if name == "figures":
            cut = page.evaluate("[...document.querySelectorAll('.bar-label')]"
                                ".filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)")
            assert cut == [], cut
        if scheme == "dark" and name == "live":
            for selector in ["body", ".top nav a", "#duty-badge", ".hint", ".queue .card .meta", "#sound-toggle", ".state"]:
                ratio = page.evaluate(CONTRAST, selector)
                assert ratio >= 4.5, (selector, ratio)
        shot(page, f"phone-{name.replace(' ', '-')}-{scheme}")
