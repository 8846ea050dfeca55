"""A quick exit (SALIR, EXIT) seen from the console, in Debian's chromium.

The promise to the person is that nothing of the conversation survives,
an operator's screen included. So whichever way a console page learns that
the chat is gone (the live event; a page that polls, after the background
job has dropped the conversation's stream entries, its ERASED entry too; a
Send that is refused), it keeps nothing of them: not their words, not what
the bot learned ("What the bot knows"), not the half-typed reply, not the
wrap-up note, and nothing in sessionStorage. The reply box is disabled and
one banner says what happened.
"""
from __future__ import annotations

import json
import os
import time

import pytest

from tests.fixtures_browser import CHROMIUM, sign_in_page, text
from tests.fixtures_console import PASSWORD, conv_of

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing: apt-get install -y chromium"),
]

EVENTS = "**/ops/live/events*"
PERSON = "+15550001102"
# Screened to a trafficking referral (as in test_browser_queue.py): the context panel has plenty to show.
SCREENING = ["hello", "1", "1", "1", "2", "2", "2", "2", "1", "2", "2", "2", "2", "2", "1", "2", "2", "2"]
SAID = "my boss keeps my passport and I sleep in the kitchen"
DRAFT = "Thank you for telling me. Is your boss with you right now"
NOTE = "Boss holds her passport; three months unpaid"
# What the bot learned, as the context panel words it.
KNOWN = ["Signs of trafficking", "Who has your passport or ID now?", "In the US",
         "Has anyone made you work or do things you did not want to do, by force or threats?"]
LEFT_BEHIND = [SAID, "passport", DRAFT, NOTE, *KNOWN]


def _expect():
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    return expect


# The page's live updates, as ops.js connects them: window.__poll is what the server last said
# ("mode"): 0 for a stream of the page's own, 5 when it polls (another console holds the stream).
MODE_WATCH = """
window.EventSource = class extends window.EventSource {
  constructor(url, options) {
    super(url, options);
    this.addEventListener("mode", e => { window.__poll = JSON.parse(e.data).poll; });
  }
};
"""


def _signed_in(browser, base, name="rita"):
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.set_default_timeout(15_000)
    page.add_init_script(MODE_WATCH)
    sign_in_page(page, base, name)
    page.wait_for_selector("#duty-badge")
    return page


def _answering(page, base) -> str:
    """The person is screened, asks for a person, and says something; the responder answers.
    Returns the conversation id."""
    expect = _expect()
    for body in SCREENING:
        text(base, body, sender=PERSON)
    text(base, "HUMAN", sender=PERSON)
    page.goto(base + "/ops/")
    page.locator(".queue .card", has_text="··02").locator("button", has_text="Answer").click()
    expect(page.locator("h1")).to_contain_text("Chat with ··02")
    text(base, SAID, sender=PERSON)
    expect(page.locator("#transcript")).to_contain_text(SAID)
    return page.locator("#handoff").get_attribute("data-conv")


def _typing(page) -> None:
    """The responder opens their answers, half types a reply and a wrap-up note."""
    expect = _expect()
    page.locator(".context-path summary").click()
    expect(page.locator(".context-panel")).to_contain_text("Who has your passport or ID now?")
    page.fill("#reply-text", DRAFT)
    page.locator("#wrapup summary").click()
    page.fill("#wrapup-note", NOTE)
    page.evaluate("window.notReloaded = true")


def _cut_off(page) -> None:
    """The page's live updates fail from now on; returns once one has (none is on its way)."""
    failed = []
    page.route(EVENTS, lambda route: (failed.append(route.request.url), route.abort()))
    while not failed:
        page.wait_for_timeout(100)


def _everything_on(page) -> str:
    """The page as a script could read it: its HTML, what is typed in its boxes, and this tab's storage."""
    return page.evaluate("""() => document.documentElement.outerHTML
        + [...document.querySelectorAll('textarea, input')].map(e => e.value).join('\\n')
        + JSON.stringify(sessionStorage) + JSON.stringify(localStorage)""")


def _nothing_of_them_left(page, base, conv: str, banner: str) -> None:
    expect = _expect()
    ended = page.locator("#ended")
    expect(ended).to_be_visible()
    expect(ended).to_contain_text(banner)
    expect(page.locator("#transcript")).not_to_contain_text(SAID)
    expect(page.locator(".context-panel")).to_have_count(0)
    expect(page.locator("#reply-text")).to_have_value("")
    expect(page.locator("#reply-text")).to_be_disabled()
    expect(page.locator("#reply-form button[type=submit]")).to_be_disabled()
    # No advice that assumes the chat is still there.
    expect(page.locator("#reply-status")).not_to_contain_text("chat above")
    found = _everything_on(page)
    assert [w for w in LEFT_BEHIND if w in found] == []
    assert page.evaluate("window.notReloaded") is True  # cleared in place, not by a reload
    # Leaving the page keeps nothing of them in the tab either (wrapup.js keeps a draft on pagehide).
    page.goto(base + "/ops/")
    stored = page.evaluate("JSON.stringify(sessionStorage)")
    assert conv not in stored and DRAFT not in stored, stored


def _stream_forgot(app, conv: str) -> None:
    """Wait until the background job (bot/erasure.py, StreamEntries) has dropped every entry of ``conv``."""
    from bot.engine.events import read_entry

    events = app.extensions["stores"].events
    deadline = time.monotonic() + 20
    while any((entry := read_entry(fields)) and entry["conv"] == conv for _, fields in events.entries_after("", 10_000)):
        assert time.monotonic() < deadline, "the quick exit's stream entries were never dropped"
        time.sleep(0.1)


def _rita_polls_while_rosa_streams(browser, base, app):
    """Rita and Rosa on duty, Rosa's Live page holding the process's one live stream
    (OPS_LIVE_STREAMS=1): Rita's pages poll every 5 s. Both go on duty first: a change
    of who is on duty reloads a Live page, and with it its stream."""
    expect = _expect()
    app.extensions["ops"].accounts.add("rosa", "responder", PASSWORD)
    rita = _signed_in(browser, base)
    rita.click("text=Go on duty")
    expect(rita.locator(".flash.ok")).to_contain_text("You are on duty")
    rita.goto("about:blank")
    rosa = _signed_in(browser, base, "rosa")
    rosa.click("text=Go on duty")
    expect(rosa.locator(".flash.ok")).to_contain_text("You are on duty")
    rosa.wait_for_function("() => window.__poll === 0", timeout=20_000)
    return rita, rosa


def test_the_page_holding_the_live_stream_keeps_nothing_after_salir(live_server, browser):
    base, _app = live_server
    page = _signed_in(browser, base)
    page.click("text=Go on duty")
    conv = _answering(page, base)
    # Its own stream (the page it came from may hold the one stream for a moment: it polls till then).
    page.wait_for_function("() => window.__poll === 0", timeout=20_000)
    _typing(page)
    text(base, "SALIR", sender=PERSON)
    _nothing_of_them_left(page, base, conv, "They erased this chat (SALIR). Nothing of it is kept.")


def test_a_polling_page_learns_of_salir_after_its_stream_entries_are_gone(live_server, browser):
    """Rosa's Live page holds the process's one live stream (OPS_LIVE_STREAMS=1), so Rita's chat page
    polls every 5 s. The SALIR comes between two of her polls, and the background job drops the
    conversation's stream entries (the ERASED one too) before her next: she still learns of it."""
    expect = _expect()
    base, app = live_server
    rita, rosa = _rita_polls_while_rosa_streams(browser, base, app)
    conv = _answering(rita, base)
    _typing(rita)
    assert rita.evaluate("window.__poll") == 5

    _cut_off(rita)  # between two of its polls
    text(base, "SALIR", sender=PERSON)
    _stream_forgot(app, conv)
    rita.unroute(EVENTS)
    _nothing_of_them_left(rita, base, conv, "This chat was erased (SALIR), or it expired.")
    expect(rosa.locator(".queue .card", has_text="··02")).to_have_count(0)


def test_a_refused_send_after_a_missed_salir_clears_the_page(live_server, browser):
    """The page heard nothing (its live updates cut off); Send is refused: that answer alone clears it."""
    base, app = live_server
    page = _signed_in(browser, base)
    page.click("text=Go on duty")
    conv = _answering(page, base)
    page.route(EVENTS, lambda route: route.abort())
    page.reload()  # its live stream cut off from now on
    _typing(page)
    text(base, "SALIR", sender=PERSON)
    _stream_forgot(app, conv)
    page.wait_for_timeout(1000)
    assert SAID in page.locator("#transcript").inner_text()  # nothing told the page
    page.click("#reply-form button[type=submit]")
    _nothing_of_them_left(page, base, conv, "This chat was erased (SALIR), or it expired.")


def test_a_chat_that_went_back_to_the_bot_is_cleared_and_says_so(live_server, browser):
    base, _app = live_server
    page = _signed_in(browser, base)
    page.click("text=Go on duty")
    conv = _answering(page, base)
    _typing(page)
    text(base, "MENU", sender=PERSON)
    _nothing_of_them_left(page, base, conv, "went back to the bot")
    assert json.loads(page.evaluate("JSON.stringify(sessionStorage)")) == {}


def test_an_exit_that_waited_for_a_reply_leaves_no_advice_about_the_chat(live_server, browser, twilio_api):
    """Twilio is slow to take the reply; the person's EXIT waits for it, then erases the chat. The reply
    may have gone out ("not confirmed"): the page says so, not "check ... in the chat above"."""
    import threading

    expect = _expect()
    base, _app = live_server
    page = _signed_in(browser, base)
    page.click("text=Go on duty")
    conv = _answering(page, base)
    _typing(page)
    twilio_api.stall = (7.0,)  # past the sender's 5 s deadline
    page.click("#reply-form button[type=submit]")
    page.wait_for_timeout(800)
    leaving = threading.Thread(target=text, args=(base, "EXIT", PERSON))
    leaving.start()
    expect(page.locator("#reply-status")).to_have_text(
        "Your last reply may have reached them before the chat ended.", timeout=20_000)
    leaving.join()
    _nothing_of_them_left(page, base, conv, "erased")


def test_a_polling_live_page_drops_the_row_and_card_of_someone_who_erased(live_server, browser):
    """The Live list of a page that polls misses the erase the same way a chat page
    would: on each poll its rows and cards follow the live list, so an erased
    person's last digits and where they were do not stay on screen."""
    expect = _expect()
    base, app = live_server
    rita, rosa = _rita_polls_while_rosa_streams(browser, base, app)
    for body in SCREENING:
        text(base, body, sender=PERSON)
    text(base, "HUMAN", sender=PERSON)
    rita.goto(base + "/ops/")
    expect(rita.locator(".queue .card", has_text="··02")).to_have_count(1)
    expect(rita.locator("#sessions tr", has_text="··02")).to_have_count(1)
    rita.wait_for_function("() => window.__poll === 5", timeout=20_000)
    conv = conv_of(app.extensions["store"].r, PERSON)

    _cut_off(rita)  # between two of its polls
    text(base, "SALIR", sender=PERSON)
    _stream_forgot(app, conv)
    rita.unroute(EVENTS)
    expect(rita.locator("#sessions tr", has_text="··02")).to_have_count(0)
    expect(rita.locator(".queue .card", has_text="··02")).to_have_count(0)
    assert conv not in _everything_on(rita)
