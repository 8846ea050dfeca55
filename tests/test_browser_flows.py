"""Changing a conversation in a real browser: Debian's chromium, driven by Playwright.

An editor opens a flow, changes a text, sees the problem appear as they type
(the Spanish is missing), translates it beside the text, tries the draft in
the simulator, publishes it, sees it in the normal simulator, and rolls it
back. Then the map (drawn by the vendored Mermaid), the translations and the
reviews pages. Everything runs on a copy of flows/ and locales/.

Pictures: as in ``test_browser_ops.py`` (``UPDATE_SCREENSHOTS=1`` writes
them to ``docs/screenshots/``).
"""
from __future__ import annotations

import os

import pytest

from tests.fixtures_browser import CHROMIUM, serving, sign_in_page, text
from tests.fixtures_console import PASSWORD

OLD_MENU = "What would you like to do?"
NEW_MENU = "What can we help you with?"
OLD_MENU_ES = "¿Qué desea hacer?"
NEW_MENU_ES = "¿En qué le podemos ayudar?"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing: apt-get install -y chromium"),
]


@pytest.fixture
def site(redis_client, redis_url, tmp_path, project):
    from bot import create_app
    from bot.config import TestConfig

    app = create_app(TestConfig(redis_url, str(tmp_path / "var"), FLOWS_DIR=str(project / "flows"),
                                LOCALES_DIR=str(project / "locales"), FLOWS_CHECK_SECONDS=0.0))
    app.extensions["ops"].accounts.add("ed", "editor", PASSWORD)
    with serving(app) as base:
        yield base, app


def simulate_spanish(page, base):
    """A new Spanish SMS trial on the conversations the simulator offers by default."""
    page.goto(base + "/ops/simulator")
    page.check("input[name=lang][value=es]")
    page.check("input[name=channel][value=sms]")
    live = page.locator("input[name=version][value=live]")
    if live.count():
        live.check()
    page.click(".sim-settings button[type=submit]")


def line_of_cursor(page) -> int:
    return page.evaluate("() => { const t = document.getElementById('yaml');"
                         " return t.value.slice(0, t.selectionStart).split('\\n').length; }")


def test_edit_check_translate_try_publish_and_roll_back(site, browser, shot, project):
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    base, app = site
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(15_000)
    sign_in_page(page, base, "ed")

    # The list of files; open the main menu.
    page.click("nav >> text=Flows")
    expect(page.locator("h1")).to_contain_text("Flows")
    shot(page, "flows")
    page.locator("tr", has_text="main.yaml").locator("a.button", has_text="Edit").click()
    expect(page.locator("h1")).to_contain_text("main.yaml")
    expect(page.locator("#check-status")).to_contain_text("No problems")

    # Change the question, by typing it.
    editor = page.locator("#yaml")
    start = page.evaluate(f"() => document.getElementById('yaml').value.indexOf({OLD_MENU!r})")
    assert start > 0
    editor.focus()
    page.evaluate(f"() => document.getElementById('yaml').setSelectionRange({start}, {start + len(OLD_MENU)})")
    page.keyboard.type(NEW_MENU)
    line = page.evaluate(f"() => document.getElementById('yaml').value.slice(0, "
                         f"document.getElementById('yaml').value.indexOf({NEW_MENU!r})).split('\\n').length")

    # The problem appears as they type: the Spanish is missing. Publishing is not possible.
    problem = page.locator("#problems li.error", has_text="missing Spanish (es) translation")
    expect(problem).to_contain_text(f"flows/main.yaml:{line}:")
    expect(page.locator("#check-status")).to_contain_text("1 problem to fix before publishing")
    expect(page.locator("#publish-btn")).to_be_disabled()
    expect(page.locator(f"#gutter span:nth-child({line})")).to_have_class("bad")
    # Clicking the problem puts the cursor on its line.
    page.evaluate("() => document.getElementById('yaml').setSelectionRange(0, 0)")
    problem.locator("a").click()
    assert line_of_cursor(page) == line
    row = page.locator("li.text-row.needs", has_text=NEW_MENU)
    expect(row.locator(".tr-state")).not_to_have_text("")
    row.scroll_into_view_if_needed()
    page.evaluate("() => window.scrollTo(0, 0)")
    shot(page, "flow-editor")

    # Translate it beside the text: the problem goes.
    row.locator("textarea").fill(NEW_MENU_ES)
    expect(page.locator("#check-status")).to_have_text("No problems: try your draft in the simulator, then publish it.")
    expect(page.locator("#problems li.error")).to_have_count(0)
    expect(page.locator("#publish-btn")).to_be_enabled()
    assert OLD_MENU in (project / "flows" / "main.yaml").read_text()  # still only a draft

    # Try the draft in the simulator: marked as a draft, with the new text.
    page.click("#try-btn")
    expect(page.locator("#sim-draft")).to_have_text("Your draft: not published")
    expect(page.locator("#sim-log")).to_contain_text(NEW_MENU_ES)
    shot(page, "simulator-draft")

    # Publish, with a note.
    page.goto(base + "/ops/flows/file/main.yaml")
    expect(page.locator("#draft-badge")).to_be_visible()
    page.fill("#note", "A warmer main menu question")
    page.click("#publish-btn")
    expect(page.locator(".flash.ok")).to_contain_text("Published: version 1 is live")
    expect(page.locator("article.change").first).to_contain_text("A warmer main menu question")
    assert NEW_MENU in (project / "flows" / "main.yaml").read_text()
    page.locator("article.change").first.locator("pre.diff").scroll_into_view_if_needed()
    page.evaluate("() => window.scrollTo(0, 0)")
    shot(page, "flow-history")

    # The normal simulator has it now.
    simulate_spanish(page, base)
    expect(page.locator("#sim-draft")).to_have_count(0)
    expect(page.locator("#sim-log")).to_contain_text(NEW_MENU_ES)

    # Roll back: see what will change, confirm.
    page.goto(base + "/ops/flows/history")
    page.click("text=Roll back to before this change")
    expect(page.locator("h1")).to_contain_text("Roll back to before change #1")
    expect(page.locator("pre.diff")).to_contain_text(f'+    text: "{OLD_MENU}"')
    page.fill("#note", "Back to the old question")
    page.click("#rollback-btn")
    expect(page.locator(".flash.ok")).to_contain_text("Rolled back: version 2 is live")
    assert OLD_MENU in (project / "flows" / "main.yaml").read_text()

    # And the simulator has the old text again.
    simulate_spanish(page, base)
    expect(page.locator("#sim-log")).to_contain_text(OLD_MENU_ES)
    expect(page.locator("#sim-log")).not_to_contain_text(NEW_MENU_ES)


def test_map_translations_and_reviews_pages(site, browser, shot, project):
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    base, app = site
    for sender, words in [("+15550004101", ["hola", "2"]), ("+15550004102", ["hi", "4", "1"]),
                          ("+15550004103", ["hola", "4", "2"]), ("+15550004104", ["buenas", "4"]),
                          ("whatsapp:+5215550004105", ["hola", "4", "3"])]:
        for body in words:
            text(base, body, sender)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(15_000)
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    sign_in_page(page, base, "ed")

    # The map: drawn in the browser by the Mermaid kept in the repository, with counts.
    page.goto(base + "/ops/flows/map/numbers?days=7")
    expect(page.locator("#map[data-drawn] svg")).to_be_visible()
    expect(page.locator("#map svg")).to_contain_text("4 visits")
    box = page.locator("#map svg").bounding_box()
    assert box["width"] > 300 and box["height"] > 200
    expect(page.locator("table.steps")).to_contain_text("by_need")
    if page.locator("#map-fit").is_visible():  # wider than the page: see it whole
        page.click("#map-fit")
        expect(page.locator("#map")).to_have_class("map fit")
        assert page.locator("#map svg").bounding_box()["width"] <= page.locator("#map").bounding_box()["width"]
    shot(page, "flow-map")
    assert all(url.startswith(base) for url in requests), [u for u in requests if not u.startswith(base)]

    # Translations: the catalog changed on disk after the server loaded it.
    po = project / "locales" / "es" / "LC_MESSAGES" / "messages.po"
    body = po.read_text(encoding="utf-8")
    body = body.replace(f'msgstr "{OLD_MENU_ES}"', 'msgstr ""')
    body = body.replace('\nmsgid "My rights"\n', '\n#, fuzzy\n#| msgid "Rights"\nmsgid "My rights"\n')
    po.write_text(body, encoding="utf-8")
    page.click("nav >> text=Translations")
    expect(page.locator("#lang-es")).to_contain_text("2 to do")
    expect(page.locator("#lang-es tbody tr")).to_have_count(2)
    expect(page.locator("#lang-es tbody")).to_contain_text("main.yaml:")
    shot(page, "translations")
    page.locator("#lang-es tbody a", has_text="main.yaml").first.click()
    expect(page.locator("h1")).to_contain_text("main.yaml")

    # Reviews: what will be due next year.
    page.click("nav >> text=Reviews")
    expect(page.locator("table.reviews")).to_contain_text("hotline us_trafficking")
    page.fill("#as_of", "2027-07-01")
    page.click("form.period button[type=submit]")
    expect(page.locator("table.reviews tr.due").first).to_contain_text("Due")
    shot(page, "reviews")
