"""axe-core on every page of the console: WCAG 2.2 AA, no serious or critical violation.

At a laptop's 1280×800 and a phone's 390×844, light and dark (the operating
system's colour scheme, emulated). axe-core comes with the PyPI package
axe-playwright-python (its axe.min.js, MPL-2.0), injected into the page by
Playwright; it runs in Debian's chromium like the other browser tests.
Pages: sign in, Live (a person waiting and one with the bot), a hand-off
before and after it is answered, figures, simulator, flows, a flow's editor,
a flow's map, translations, reviews.
"""
from __future__ import annotations

import os
import re

import pytest

from tests.fixtures_browser import CHROMIUM, sign_in_page, text
from tests.fixtures_console import PASSWORD
from tests.test_browser_figures import SCREENING, counted

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing: apt-get install -y chromium"),
]

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
FAILING = ("serious", "critical")


def violations(page) -> list[str]:
    """axe's serious and critical findings on the page as it is now, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": TAGS}, "resultTypes": ["violations"]})
    found = []
    for v in results.response["violations"]:
        if v.get("impact") in FAILING:
            targets = ", ".join(" ".join(n["target"]) if isinstance(n["target"], list) else str(n["target"])
                                for n in v["nodes"][:4])
            found.append(f"{v['id']} ({v['impact']}): {v['help']} at {targets}")
    return found


def structure(page) -> list[str]:
    """What axe files under best practice and the issue asked for too: one h1 a screen reader
    can jump to, and no table header without words."""
    found = []
    if page.locator("h1").count() != 1:
        found.append(f"{page.locator('h1').count()} h1 on the page, not 1")
    empty = page.eval_on_selector_all("th", "ths => ths.filter(th => !th.textContent.trim()"
                                      " && !th.getAttribute('aria-label')).length")
    if empty:
        found.append(f"{empty} empty table header(s)")
    return found


def sign_in(page, base: str, name: str) -> None:
    sign_in_page(page, base, name)
    page.wait_for_url(re.compile(r".*/ops/$"))


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width,height", [(1280, 800), (390, 844)])
def test_every_page_passes_axe(live_server, browser, width, height, scheme):
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    base, app = live_server
    app.extensions["ops"].accounts.add("ed", "editor", PASSWORD)
    counted(app, SCREENING)  # figures with every kind of bar and number
    found: dict[str, list[str]] = {}

    def check(page, name: str) -> None:
        page.wait_for_load_state("load")
        problems = violations(page) + structure(page)
        if problems:
            found[name] = problems

    page = browser.new_page(viewport={"width": width, "height": height}, color_scheme=scheme)
    page.set_default_timeout(15_000)
    page.goto(base + "/ops/login")
    check(page, "login")
    sign_in(page, base, "rita")
    page.click("text=Go on duty")
    expect(page.locator("#duty-badge")).to_have_text("ON DUTY")
    app.extensions["helpline"].on_duty.until = 0  # the bot reads the flag every 2 s
    text(base, "hi", sender="+15550007701")  # with the bot
    text(base, "hola")
    text(base, "PERSONA")  # waiting for a person
    page.goto(base + "/ops/")
    claim = page.locator("form[action*='/claim'] button").first
    expect(claim).to_be_visible()
    check(page, "live")
    conv = re.search(r"/ops/handoff/([^/]+)/claim", page.locator("form[action*='/claim']").first
                     .get_attribute("action")).group(1)
    page.goto(base + f"/ops/handoff/{conv}")
    check(page, "handoff before answering")
    page.locator("form[action*='/claim'] button").first.click()
    expect(page.locator("textarea").first).to_be_visible()
    check(page, "handoff answered")
    for name, path in [("figures", "/ops/figures"), ("simulator", "/ops/simulator"), ("flows", "/ops/flows"),
                       ("translations", "/ops/translations"), ("reviews", "/ops/reviews")]:
        page.goto(base + path)
        check(page, name)
    page.goto(base + "/ops/flows/map/screening?days=7")
    expect(page.locator("#map[data-drawn] svg")).to_be_visible()
    check(page, "flow map")
    page.close()

    editor = browser.new_page(viewport={"width": width, "height": height}, color_scheme=scheme)
    editor.set_default_timeout(15_000)
    sign_in(editor, base, "ed")
    editor.goto(base + "/ops/flows/file/screening.yaml")
    check(editor, "flow edit")
    editor.close()
    assert found == {}, "\n".join(f"{page}: {p}" for page, ps in found.items() for p in ps)


def test_axe_finds_what_it_should(browser):
    """The check can fail: a picture without words and grey on grey are found."""
    page = browser.new_page()
    page.set_content('<html lang="en"><title>t</title><main><h1>x</h1><img src="data:,">'
                     '<p style="color:#bbb;background:#fff">faint</p></main></html>')
    found = " ".join(violations(page))
    assert "image-alt" in found and "color-contrast" in found
