"""Figures and the flow map, in words and at sizes an operator can read (issue 19).

"Answered by a person" counts people, not take-overs; steps are named by
their question, routing steps are left out, the CSV says the same; labels
wrap rather than being cut off and the orange text has AA contrast; the
screening map is readable when it opens and its scroll box is reachable by
keyboard. Browser tests use Debian's chromium (tests/fixtures_browser.py).
"""
from __future__ import annotations

import csv
import io
import os

import pytest

from bot.step_names import StepNames
from tests.fixtures_browser import CHROMIUM, sign_in_page
from tests.fixtures_console import post_form, sign_in, text
from tests.helpers import real_flows

pytestmark = pytest.mark.slow

WIDTHS = [(1280, 800), (390, 844)]
SCHEMES = ["light", "dark"]
browser_only = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing")

RANSOM = "On the way, were you held somewhere while someone asked your family for money?"


def counted(app, increments: dict[str, int]) -> None:
    """Today's counters as if the stream had them (the figures' own store, not the stream)."""
    figures = app.extensions["ops"].figures
    figures.catch_up()
    cursor = figures.counters.cursor()
    day = figures.today()
    assert figures.counters.apply(cursor, cursor, 86400, {(day, k): v for k, v in increments.items()}, {})


SCREENING = {"conv": 3, "conv|lang|es": 3, "visit|screening|intro": 3, "visit|screening|safe": 3,
             "visit|screening|held_for_ransom": 2, "visit|screening|route": 2, "visit|screening|referral": 1,
             "left|quiet|screening|held_for_ransom": 1, "left|exit|screening|route": 1,
             "handoff|requested": 2, "handoff|answered": 1, "handoff|claimed": 3}


# --- people, not take-overs ---------------------------------------------------------------------


def test_answered_by_a_person_counts_people_not_take_overs(console_app):
    rita, rosa = console_app.test_client(), console_app.test_client()
    sign_in(rita, "rita")
    sign_in(rosa, "rosa")
    post_form(rita, "/ops/duty", {"on": "1"})
    console_app.extensions["helpline"].on_duty.until = 0
    person, other = console_app.test_client(), console_app.test_client()
    for sender in ("+15550003301", "+15550003302"):
        text(person, "hola", sender)
        text(person, "PERSONA", sender)
    figures = console_app.extensions["ops"].figures
    figures.catch_up()  # the requests counted in one batch, the claims in later ones
    convs = [c["conv"] for c in _waiting(rita)]
    assert len(convs) == 2
    post_form(rita, f"/ops/handoff/{convs[0]}/claim")
    figures.catch_up()
    post_form(rosa, f"/ops/handoff/{convs[0]}/claim")  # a take-over
    post_form(rita, f"/ops/handoff/{convs[0]}/claim")  # and back
    text(other, "¿hola?", "+15550003302")  # still waiting: it writes again
    figures.catch_up()
    post_form(rosa, f"/ops/handoff/{convs[1]}/claim")
    figures.catch_up()
    today = figures.today()
    handoffs = figures.read(today, today).group("handoff")
    assert handoffs["requested"] == 2 and handoffs["claimed"] == 4
    assert handoffs["answered"] == 2
    page = rita.get("/ops/figures").text
    assert "Answered by a person" in page


def _waiting(client) -> list[dict]:
    import re

    page = client.get("/ops/").text
    return [{"conv": c} for c in dict.fromkeys(re.findall(r"/ops/handoff/([A-Za-z0-9_-]+)/claim", page))]


# --- steps in words -----------------------------------------------------------------------------


def test_steps_are_named_by_what_the_person_saw():
    names = StepNames(real_flows())
    assert names.name("screening", "held_for_ransom") == RANSOM
    assert names.name("screening", "under_18") == "Are you under 18?"
    assert not names.seen("screening", "route") and names.seen("screening", "held_for_ransom")
    fs = real_flows()
    every = [names.name(f.id, n.id) for f in fs.flows.values() for n in f.nodes if names.seen(f.id, n.id)]
    assert not [n for n in every if n.startswith("Question ")]
    for flow in fs.flows.values():  # two steps of one flow never read the same
        mine = [names.name(flow.id, n.id) for n in flow.nodes if names.seen(flow.id, n.id)]
        assert len(mine) == len(set(mine)), flow.id
    assert names.name("gone", "old_step") == "Old step"  # a step since removed: its id, in words


def test_the_page_and_the_csv_use_the_steps_words(console_app):
    counted(console_app, SCREENING)
    vic = console_app.test_client()
    sign_in(vic, "vic")
    page = vic.get("/ops/figures").text
    assert RANSOM in page and "Is it safe for you to text right now?" in page
    assert "held_for_ransom" not in page.replace('id="flow-', "")  # no internal names (the map link aside)
    assert "Question 2 of 13" not in page
    assert ">route<" not in page and "Route" not in page  # a routing step is not a step anyone saw
    rows = list(csv.reader(io.StringIO(vic.get("/ops/figures.csv").text)))
    assert rows[0] == ["date", "measure", "what", "count", "key"]
    table = {(r[1], r[4]): r for r in rows[1:]}
    assert table[("node_visits", "screening.held_for_ransom")][2].endswith("› " + RANSOM)
    assert table[("conversations_by_language", "es")][2] == "Spanish"
    assert table[("handoffs", "answered")][2] == "Answered by a person"


# --- in the browser -----------------------------------------------------------------------------


def _signed_in(browser, base, width, height, scheme):
    page = browser.new_page(viewport={"width": width, "height": height}, color_scheme=scheme)
    page.set_default_timeout(15_000)
    sign_in_page(page, base)
    page.wait_for_url(base + "/ops/")
    return page


def sideways(page) -> list[str]:
    """Elements of the page's main part wider than the window (the header's menu is
    the layout's, issue 19's phone-width part); a scroll box's insides are in their box."""
    return page.evaluate("""(() => { const w = document.documentElement.clientWidth;
      return [...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > w + 1)
        .filter(e => !e.parentElement.closest('#map, .table-scroll'))
        .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + e.className); })()""")


CONTRAST = """(el) => {
  const rgb = (s) => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = ([r, g, b]) => { const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  let bg = el, back = 'rgba(0, 0, 0, 0)';
  while (bg && (back = getComputedStyle(bg).backgroundColor).endsWith(', 0)')) bg = bg.parentElement;
  const a = lum(rgb(getComputedStyle(el).color)), b = lum(rgb(back));
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


@browser_only
@pytest.mark.browser
@pytest.mark.parametrize("scheme", SCHEMES)
def test_figures_read_whole_at_any_width(live_server, browser, shot, scheme):
    base, app = live_server
    counted(app, SCREENING)
    for width, height in WIDTHS:
        page = _signed_in(browser, base, width, height, scheme)
        page.goto(base + "/ops/figures")
        labels = page.locator(".bar-label")
        assert RANSOM in labels.all_inner_texts()
        clipped = page.eval_on_selector_all(".bar-label", "els => els.filter(e => e.scrollWidth > e.clientWidth + 1"
                                            " || e.scrollHeight > e.clientHeight + 1).map(e => e.textContent)")
        assert clipped == []
        assert sideways(page) == []  # nothing of the figures pushes the page sideways
        for number in page.locator(".extra-num").all():
            assert number.evaluate(CONTRAST) >= 4.5
        assert page.locator(".extra-num").count() >= 1
        shot(page, f"figures-{width}-{scheme}")
        page.close()


@browser_only
@pytest.mark.browser
@pytest.mark.parametrize("width,height", WIDTHS)
def test_the_screening_map_is_readable_when_it_opens(live_server, browser, shot, width, height):
    from playwright.sync_api import expect

    base, app = live_server
    counted(app, SCREENING)
    page = _signed_in(browser, base, width, height, "light")
    page.goto(base + "/ops/flows/map/screening?days=7")
    expect(page.locator("#map[data-drawn] svg")).to_be_visible()
    box = page.locator("#map").bounding_box()
    svg = page.locator("#map svg").bounding_box()
    natural = page.evaluate("(() => { const v = document.querySelector('#map svg').viewBox.baseVal;"
                            " return [v.width, v.height]; })()")
    scale = svg["width"] / natural[0]
    # Drawn at a readable size (0.6, its width rounded to a whole pixel), not squeezed.
    assert scale >= 0.6 - 1 / natural[0] and abs(svg["height"] / natural[1] - scale) < 0.02
    assert svg["width"] >= box["width"] - 20  # it fills the box: not a speck in a white box
    assert box["y"] < height * 1.5  # near the top (at phone width the period form comes first)
    assert box["x"] + box["width"] <= page.evaluate("document.documentElement.clientWidth") + 1  # the box scrolls
    assert sideways(page) == []  # and the steps' table too, not the page
    # It opens on its first step: the top-most box is in view.
    first = page.evaluate("""(() => { const m = document.querySelector('#map').getBoundingClientRect();
        const n = [...document.querySelectorAll('#map svg g.node')].map(e => e.getBoundingClientRect())
          .sort((a, b) => a.top - b.top)[0];
        return n.left >= m.left - 1 && n.right <= m.right + 1; })()""")
    assert first
    # The scroll box is a named region reachable by keyboard.
    region = page.locator("#map")
    assert region.get_attribute("tabindex") == "0" and region.get_attribute("role") == "region"
    assert region.get_attribute("aria-label")
    region.focus()
    assert page.evaluate("document.activeElement.id") == "map"
    # Zoom in, then scroll it.
    page.click("#map-zoom-in")
    assert page.locator("#map svg").bounding_box()["width"] > svg["width"] * 1.2
    page.click("#map-fit")  # the whole map
    assert page.locator("#map svg").bounding_box()["width"] <= box["width"] + 1
    assert page.locator("#map-fit").get_attribute("aria-pressed") == "true"
    shot(page, f"flow-map-screening-{width}")
