"""Nobody left waiting in silence: the moment nobody is on duty, everyone waiting
for a person gets the hotline numbers once, in their language, and the bot again.

Duty ends three ways: the last responder on duty presses *Go off duty*, every
console closes and on duty lapses (``OPS_DUTY_TTL``), or the staffed hours
end. The messages go through Twilio's REST API, here the local stand-in
that records them (:class:`~tests.fixtures_console.TwilioStandIn`).
"""
from __future__ import annotations

import re
import time

import pytest

from tests.helpers import real_flows
from tests.servers import wait_until
from tests.fixtures_console import conv_of, post_form, sign_in, text
from tests.twilio_standin import TwilioStandIn

pytestmark = pytest.mark.slow  # most tests here take a second or more: an app each, servers, waits

ANA = "+15550001142"  # writes in Spanish
BEN = "+15550002253"  # writes in English
HOTLINE = "1-888-373-7888"


def unavailable(lang: str) -> str:
    """The hand-off's own text for nobody being there, from the flows (help.person)."""
    fs = real_flows()
    return fs.translate(lang, fs.node("help.person").unavailable.msgid)


def two_people_waiting(app) -> dict[str, str]:
    """Ana (Spanish) and Ben (English) ask for a person; returns their conversation ids."""
    person = app.test_client()
    text(person, "hola", ANA)
    text(person, "PERSONA", ANA)
    text(person, "hello", BEN)
    assert text(person, "HUMAN", BEN) != []
    return {ANA: conv_of_any(app, ANA), BEN: conv_of_any(app, BEN)}


def conv_of_any(app, sender: str) -> str:
    return conv_of(app.extensions["store"].r, sender)


def state_of(redis_client, sender: str) -> str:
    from tests.helpers import stored_session
    from bot.helpline import contact_id

    return stored_session(redis_client, f"hl:{{{contact_id('test-secret', sender)}}}:session").get("st", "")


def sent_to(twilio_api) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for form in twilio_api.messages:
        found.setdefault(form["To"], []).append(form["Body"])
    return found


def fresh_duty(app) -> None:
    """The webhook reads on duty from a 2-second cache (helpline.Cached): read it again now."""
    app.extensions["helpline"].on_duty.until = 0


def test_the_last_responder_going_off_duty_sends_each_waiting_person_the_numbers_once(console_app, redis_client,
                                                                                      twilio_api):
    rita = console_app.test_client()
    sign_in(rita, "rita")
    post_form(rita, "/ops/duty", {"on": "1"})
    two_people_waiting(console_app)
    # Rita answers Ana; Ben is still waiting. Both are left once Rita goes.
    post_form(rita, f"/ops/handoff/{conv_of_any(console_app, ANA)}/claim")
    assert twilio_api.requests == []

    # She is told first what will happen to them, and nothing happens until she confirms.
    page = post_form(rita, "/ops/duty", {"on": "0"}, follow_redirects=True).text
    assert "2 people are waiting." in page and "they will get the hotline numbers at once" in page
    assert "nobody else is on duty. They get the numbers the moment you confirm." in page
    assert "You are answering 1 of them" in page  # Ana
    assert console_app.extensions["duty"].is_on()
    page = post_form(rita, "/ops/duty", {"on": "0", "confirm": "1"}, follow_redirects=True).text
    assert "nobody else is on duty: everyone waiting gets the hotline numbers" in page
    console_app.extensions["ops"].watch.join()  # including its second look, 3 s later

    assert sent_to(twilio_api) == {ANA: [unavailable("es")], BEN: [unavailable("en")]}
    assert HOTLINE in unavailable("es") and HOTLINE in unavailable("en")
    # Sent with no status callback: its sid is kept with their conversation at once,
    # so that a quick exit deletes it at Twilio with the rest.
    from bot.helpline import contact_id
    kept = set().union(*(redis_client.smembers(f"hl:{{{contact_id('test-secret', who)}}}:sids") for who in (ANA, BEN)))
    assert twilio_api.created and set(twilio_api.created) <= kept, (twilio_api.created, kept)
    assert state_of(redis_client, ANA) == state_of(redis_client, BEN) == "in_flow"
    assert not list(redis_client.scan_iter("hl:{*}:handoff"))  # nothing said in the hand-off is kept
    # Their next text gets the bot's answer, not silence.
    fresh_duty(console_app)
    person = console_app.test_client()
    assert text(person, "1", ANA) != []
    assert text(person, "hello?", BEN) != []
    assert len(twilio_api.requests) == 2
    assert "Nobody is waiting for a person." in rita.get("/ops/").text
    # The figures count how their wait ended.
    figures = re.sub(r"\s+", " ", rita.get("/ops/figures").text)
    assert re.search(r"Waited, then got the numbers: nobody on duty any more</span>.*?bar-num\">2<", figures)


def test_while_another_responder_is_on_duty_nobody_is_handed_back(console_app, redis_client, twilio_api):
    rita, rosa = console_app.test_client(), console_app.test_client()
    sign_in(rita, "rita")
    sign_in(rosa, "rosa")
    post_form(rita, "/ops/duty", {"on": "1"})
    post_form(rosa, "/ops/duty", {"on": "1"})
    two_people_waiting(console_app)

    page = post_form(rita, "/ops/duty", {"on": "0"}).text
    assert "2 people are waiting." in page and "<strong>rosa</strong> is still on duty, so they keep waiting" in page
    page = post_form(rita, "/ops/duty", {"on": "0", "confirm": "1"}, follow_redirects=True).text
    assert "You are off duty. Still on duty: rosa." in page
    assert console_app.extensions["duty"].is_on()
    console_app.extensions["ops"].watch.join()
    assert twilio_api.requests == [] and state_of(redis_client, ANA) == "handed_off"
    assert "Go on duty" in rita.get("/ops/").text and "Go off duty" in rosa.get("/ops/").text

    post_form(rosa, "/ops/duty", {"on": "0", "confirm": "1"})
    console_app.extensions["ops"].watch.join()
    assert sent_to(twilio_api) == {ANA: [unavailable("es")], BEN: [unavailable("en")]}


def test_going_off_duty_puts_the_chats_you_hold_back_in_the_queue(console_app, redis_client, twilio_api):
    """Rita goes off duty while Rosa stays: the person Rita was answering waits for
    Rosa again, counted and shown as waiting, not behind "rita is answering"."""
    rita, rosa = console_app.test_client(), console_app.test_client()
    sign_in(rita, "rita")
    sign_in(rosa, "rosa")
    post_form(rita, "/ops/duty", {"on": "1"})
    post_form(rosa, "/ops/duty", {"on": "1"})
    convs = two_people_waiting(console_app)
    post_form(rita, f"/ops/handoff/{convs[ANA]}/claim")
    page = post_form(rita, "/ops/duty", {"on": "0"}).text
    assert "You are answering 1 of them: they go back in the queue" in page
    page = post_form(rita, "/ops/duty", {"on": "0", "confirm": "1"}, follow_redirects=True).text
    assert "The person you were answering went back to the queue." in page
    assert [w.holder for w in console_app.extensions["ops"].desk.queue(max_age=None)] == ["", ""]
    assert twilio_api.requests == [] and state_of(redis_client, ANA) == "handed_off"


def test_a_closed_console_puts_its_chats_back_in_the_queue_for_whoever_is_on_duty(make_console, redis_client,
                                                                                  twilio_api):
    """Rita answers Ana, then her laptop closes without signing out; Rosa is on duty.
    Ana texted into silence behind "rita is answering": once Rita's console is
    gone, Ana waits in the queue again for Rosa. Nothing is sent to her."""
    app = make_console()
    rita, rosa = app.test_client(), app.test_client()
    sign_in(rita, "rita")
    sign_in(rosa, "rosa")
    post_form(rosa, "/ops/duty", {"on": "1"})
    convs = two_people_waiting(app)
    post_form(rita, f"/ops/handoff/{convs[ANA]}/claim")
    presence = app.extensions["store"].presence
    now = time.time()
    presence.seen("rosa", now + 60, now)
    presence.seen("rita", now + 60, now)
    watch = app.extensions["ops"].watch
    watch.UNATTENDED_EVERY = 0
    assert watch.check() == 0  # both consoles open: nothing moves
    assert {w.holder for w in app.extensions["ops"].desk.queue(max_age=None)} == {"rita", ""}
    presence.gone("rita")  # her console's presence lapsed (no page renews it)
    assert watch.check() == 1
    assert [w.holder for w in app.extensions["ops"].desk.queue(max_age=None)] == ["", ""]
    assert twilio_api.requests == [] and state_of(redis_client, ANA) == "handed_off"
    assert "rita" not in rosa.get("/ops/queue").text


def test_answering_someone_puts_a_responder_on_duty(console_app, redis_client, twilio_api):
    rita, rosa = console_app.test_client(), console_app.test_client()
    sign_in(rita, "rita")
    sign_in(rosa, "rosa")
    post_form(rita, "/ops/duty", {"on": "1"})
    convs = two_people_waiting(console_app)
    post_form(rosa, f"/ops/handoff/{convs[ANA]}/claim")  # Rosa never pressed Go on duty
    post_form(rita, "/ops/duty", {"on": "0", "confirm": "1"})  # people wait: confirmed
    console_app.extensions["ops"].watch.join()
    assert twilio_api.requests == []  # Rosa is there: nobody is handed back under her
    assert "rosa" in rosa.get("/ops/").text and console_app.extensions["ops"].duty.state().who == ("rosa",)


def test_when_every_console_closed_duty_lapses_and_the_waiting_get_the_numbers(make_console, redis_client,
                                                                                twilio_api):
    app = make_console(OPS_DUTY_TTL=1)
    rita = app.test_client()
    sign_in(rita, "rita")
    post_form(rita, "/ops/duty", {"on": "1"})
    two_people_waiting(app)
    # Rita's laptop closes: nobody renews on duty. The watch (running in every
    # served process) notices within a tick of the lapse.
    watch = app.extensions["ops"].watch
    watch.tick = 0.2
    watch.start()
    wait_until(lambda: len(twilio_api.requests) >= 2, timeout=10)
    assert not redis_client.exists("hl:duty")
    watch.stop()
    watch.join()
    assert sent_to(twilio_api) == {ANA: [unavailable("es")], BEN: [unavailable("en")]}
    fresh_duty(app)
    assert text(app.test_client(), "hola", ANA) != []


def test_across_workers_each_person_is_texted_exactly_once(make_console, redis_client, twilio_api):
    """Two processes' watches (two gunicorn workers) see the same lapse; one hands back."""
    first, second = make_console(OPS_DUTY_TTL=1), make_console(OPS_DUTY_TTL=1)
    rita = first.test_client()
    sign_in(rita, "rita")
    post_form(rita, "/ops/duty", {"on": "1"})
    two_people_waiting(first)
    watches = [first.extensions["ops"].watch, second.extensions["ops"].watch]
    for watch in watches:
        watch.tick = 0.05
        watch.start()
    wait_until(lambda: len(twilio_api.requests) >= 2, timeout=10)
    time.sleep(first.extensions["ops"].watch.AGAIN + 0.5)  # both watches, second looks included
    for watch in watches:
        watch.stop()
        watch.join()
    assert sent_to(twilio_api) == {ANA: [unavailable("es")], BEN: [unavailable("en")]}


def test_when_the_staffed_hours_end_the_waiting_get_the_numbers(make_console, redis_client, twilio_api):
    app = make_console(HANDOFF_HOURS="Mon-Sun 00:00-24:00")
    two_people_waiting(app)
    duty = app.extensions["ops"].duty
    watch = app.extensions["ops"].watch
    assert watch.check() == 0 and redis_client.exists("hl:ops:duty:armed")  # on: nothing to do
    duty.hours = None  # the span is over
    watch.stop()  # no second look: this test looks once
    assert watch.check() == 2
    assert sent_to(twilio_api) == {ANA: [unavailable("es")], BEN: [unavailable("en")]}
    assert watch.check() == 0  # looked once for this end of duty; nobody is texted twice


def test_a_person_the_hand_back_missed_gets_the_numbers_from_the_bot(console_app, redis_client, twilio_api):
    """Before: a text in a hand-off nobody can answer got an empty reply, for good."""
    rita = console_app.test_client()
    sign_in(rita, "rita")
    post_form(rita, "/ops/duty", {"on": "1"})
    two_people_waiting(console_app)
    redis_client.delete("hl:duty", "hl:ops:duty:who")  # duty gone with no watch running
    fresh_duty(console_app)
    replies = text(console_app.test_client(), "¿hay alguien?", ANA)
    assert replies[0] == unavailable("es") and len(replies) == 2  # the numbers, then the main menu
    assert state_of(redis_client, ANA) == "in_flow"
    assert twilio_api.requests == []


def test_a_person_twilio_refused_stays_for_the_bot_to_answer(make_console, redis_client):
    with TwilioStandIn(fail_with=(400, 21610)) as refusing:
        app = make_console(TWILIO_API_BASE=refusing.url)
        rita = app.test_client()
        sign_in(rita, "rita")
        post_form(rita, "/ops/duty", {"on": "1"})
        two_people_waiting(app)
        post_form(rita, "/ops/duty", {"on": "0", "confirm": "1"})
        app.extensions["ops"].watch.join()
        assert len(refusing.requests) == 2  # one try each, no retry
    # Nothing reached them: they are still in the hand-off, and their next text gets the numbers.
    assert state_of(redis_client, ANA) == "handed_off"
    fresh_duty(app)
    assert text(app.test_client(), "hola?", ANA)[0] == unavailable("es")


def still_waiting(lang: str) -> str:
    """The hand-off's text for someone nobody has answered for too long (help.person)."""
    fs = real_flows()
    return fs.translate(lang, fs.node("help.person").still_waiting.msgid)


def rita_on_duty_and_two_waiting(app):
    """Rita on duty, her console open; Ana and Ben asking for a person. (rita's client, their conversations)."""
    rita = app.test_client()
    sign_in(rita, "rita")
    post_form(rita, "/ops/duty", {"on": "1"})
    app.extensions["store"].presence.seen("rita", time.time() + 3600, time.time())
    return rita, two_people_waiting(app)


def past_the_wait_limit(app, minutes: float) -> None:
    """The desk's clock ``minutes`` on, and the watch looking at every check."""
    ops = app.extensions["ops"]
    ops.watch.UNATTENDED_EVERY = 0
    ops.desk.clock = lambda: time.time() + minutes * 60

def test_someone_nobody_answers_for_too_long_is_told_once_and_keeps_their_place(make_console, redis_client,
                                                                                 twilio_api):
    """Staffed hours with nobody at a console, or a busy night: Ana waits past the
    wait limit with no answer. She is told once that nobody is free yet, with the
    numbers, and stays in line; Ben, whom Rita is answering, is told nothing."""
    app = make_console(OPS_WAIT_LIMIT_MINUTES=5)
    rita, convs = rita_on_duty_and_two_waiting(app)
    post_form(rita, f"/ops/handoff/{convs[BEN]}/claim")
    watch, desk = app.extensions["ops"].watch, app.extensions["ops"].desk
    past_the_wait_limit(app, 4.9)
    assert watch.check() == 0  # under five minutes: nothing yet
    past_the_wait_limit(app, 5.1)
    assert watch.check() == 1
    assert sent_to(twilio_api) == {ANA: [still_waiting("es")]}
    assert HOTLINE in still_waiting("es") and "911" in still_waiting("en")
    assert watch.check() == 0 and len(twilio_api.requests) == 1  # once
    assert state_of(redis_client, ANA) == "handed_off"  # still in line, first in it
    assert [w.row.conv for w in desk.queue(max_age=None) if not w.holder] == [convs[ANA]]
    # Its sid is kept with her conversation: SALIR deletes it at Twilio with the rest.
    from bot.helpline import contact_id
    assert set(twilio_api.created) <= redis_client.smembers(f"hl:{{{contact_id('test-secret', ANA)}}}:sids")
    # Whoever answers her sees that she was told, and when.
    post_form(rita, f"/ops/handoff/{convs[ANA]}/claim")
    page = rita.get(f"/ops/handoff/{convs[ANA]}").text
    assert "the bot told them nobody was free yet and sent the hotline numbers; they stay in line" in page
    entries = rita.get(f"/ops/handoff/{convs[ANA]}/entries.json").get_json()["entries"]
    assert [e["kind"] for e in entries if e["who"] == "note"] == ["still_waiting", "claim"]


def test_someone_a_responder_has_answered_is_not_told_nobody_is_free(make_console, redis_client, twilio_api):
    """Rita answered Ben, then put him back in the queue: "nobody has been free to
    answer yet" would be untrue, so he is not sent it however long he waits."""
    app = make_console(OPS_WAIT_LIMIT_MINUTES=5)
    rita, convs = rita_on_duty_and_two_waiting(app)
    post_form(rita, f"/ops/handoff/{convs[BEN]}/claim")
    post_form(rita, f"/ops/handoff/{convs[BEN]}/reply", {"text": "Hi, I am Rita. Are you safe now?"})
    post_form(rita, f"/ops/handoff/{convs[BEN]}/unclaim")
    assert sent_to(twilio_api) == {BEN: ["Hi, I am Rita. Are you safe now?"]}
    past_the_wait_limit(app, 60)
    assert app.extensions["ops"].watch.check() == 1  # Ana only
    assert sent_to(twilio_api) == {BEN: ["Hi, I am Rita. Are you safe now?"], ANA: [still_waiting("es")]}


def test_nothing_is_sent_unasked_to_someone_whose_last_text_said_someone_is_near(make_console, redis_client,
                                                                                   twilio_api):
    """Ana waits, then texts "ya llegó mi esposo": the bot says nothing unasked, so
    the watch sends her nothing, neither past the wait limit nor when duty ends,
    until she writes again. The responder sees the warning on her text."""
    app = make_console(OPS_WAIT_LIMIT_MINUTES=5)
    rita, convs = rita_on_duty_and_two_waiting(app)
    person = app.test_client()
    assert text(person, "ya llegó mi esposo", ANA) == []  # in a hand-off the bot stays quiet
    ops = app.extensions["ops"]
    past_the_wait_limit(app, 6)
    assert ops.watch.check() == 1 and sent_to(twilio_api) == {BEN: [still_waiting("en")]}
    post_form(rita, f"/ops/handoff/{convs[ANA]}/claim")
    entries = rita.get(f"/ops/handoff/{convs[ANA]}/entries.json").get_json()["entries"]
    assert [e["near"] for e in entries if e["who"] == "person"] == [True]
    assert "someone may be near them: wait for them to write" in rita.get(f"/ops/handoff/{convs[ANA]}").text
    post_form(rita, f"/ops/handoff/{convs[ANA]}/unclaim")
    # Duty ends: Ben gets the numbers; Ana, who said someone is near, stays for the bot to answer her next text.
    post_form(rita, "/ops/duty", {"on": "0", "confirm": "1"})
    ops.watch.join()
    assert sent_to(twilio_api) == {BEN: [still_waiting("en"), unavailable("en")]}
    assert state_of(redis_client, ANA) == "handed_off"
    fresh_duty(app)
    from bot.engine import render
    assert text(person, "ya volvió mi esposo", ANA) == [render.say(real_flows(), "es", "watched")]  # still nothing more
    assert text(person, "ya se fue", ANA)[0] == unavailable("es")


def test_someone_who_wrote_again_after_saying_someone_was_near_is_told_they_still_wait(make_console, redis_client,
                                                                                        twilio_api):
    app = make_console(OPS_WAIT_LIMIT_MINUTES=5)
    rita_on_duty_and_two_waiting(app)
    person = app.test_client()
    text(person, "ya llegó mi esposo", ANA)
    text(person, "ya se fue, sigo esperando", ANA)
    past_the_wait_limit(app, 6)
    assert app.extensions["ops"].watch.check() == 2
    assert sent_to(twilio_api) == {ANA: [still_waiting("es")], BEN: [still_waiting("en")]}


def test_a_still_waiting_text_that_never_reached_twilio_is_not_recorded_as_sent_or_refused(make_console):
    """Twilio unreachable (nothing left the server): nothing is recorded, so the next look tries again."""
    app = make_console(TWILIO_API_BASE="http://127.0.0.1:9", OPS_WAIT_LIMIT_MINUTES=5)
    rita, convs = rita_on_duty_and_two_waiting(app)
    past_the_wait_limit(app, 6)
    assert app.extensions["ops"].watch.check() == 0
    post_form(rita, f"/ops/handoff/{convs[ANA]}/claim")
    entries = rita.get(f"/ops/handoff/{convs[ANA]}/entries.json").get_json()["entries"]
    assert [e["kind"] for e in entries if e["who"] == "note"] == ["claim"]


def test_a_still_waiting_text_twilio_refuses_is_recorded_not_tried_again(make_console, redis_client):
    with TwilioStandIn(fail_with=(400, 21610)) as refusing:
        app = make_console(TWILIO_API_BASE=refusing.url, OPS_WAIT_LIMIT_MINUTES=5)
        rita, convs = rita_on_duty_and_two_waiting(app)
        ops = app.extensions["ops"]
        past_the_wait_limit(app, 6)
        assert ops.watch.check() == 0  # refused: nobody was told
        assert ops.watch.check() == 0
        assert len(refusing.requests) == 2  # one try each, never again every few seconds
    assert state_of(redis_client, ANA) == "handed_off"
    post_form(rita, f"/ops/handoff/{convs[ANA]}/claim")
    page = rita.get(f"/ops/handoff/{convs[ANA]}").text
    assert "the bot could not send them the hotline numbers (Twilio refused)" in page


@pytest.mark.parametrize("nobody", ["console closed", "went off duty"])
def test_the_console_shows_who_is_on_duty(console_app, nobody):
    rita = console_app.test_client()
    sign_in(rita, "rita")
    post_form(rita, "/ops/duty", {"on": "1"})
    page = rita.get("/ops/").text
    assert "On duty: <strong>rita</strong>" in page and "Go off duty" in page
    assert "The moment nobody is on duty, everyone still waiting gets the hotline numbers" in page
    if nobody == "went off duty":
        post_form(rita, "/ops/duty", {"on": "0"})
    else:
        console_app.extensions["store"].r.delete("hl:duty", "hl:ops:duty:who")
    assert "Nobody is on duty" in rita.get("/ops/").text


def test_the_badge_says_a_responders_own_duty_not_the_lines(console_app):
    """Rita off duty while Rosa is on: her badge must not read ON DUTY (a night-shift
    review: she would think she covers people she does not)."""
    rita, rosa = console_app.test_client(), console_app.test_client()
    sign_in(rita, "rita")
    sign_in(rosa, "rosa")
    post_form(rosa, "/ops/duty", {"on": "1"})
    badge = re.compile(r'<p id="duty-badge" class="duty-badge (\w+)".*?>\s*(.*?)\s*</p>', re.S)
    assert badge.search(rosa.get("/ops/").text).groups() == ("on", "ON DUTY")
    page = rita.get("/ops/").text
    assert badge.search(page).groups() == ("off", "YOU: OFF DUTY")
    assert 'title="The line is on: rosa on duty"' in page
    post_form(rosa, "/ops/duty", {"on": "0"})
    assert badge.search(rita.get("/ops/").text).groups() == ("off", "OFF DUTY")


@pytest.mark.parametrize("others", [(), ("rosa",)], ids=["alone", "rosa-stays"])
def test_a_renewal_racing_a_responder_going_off_duty_never_puts_her_back(redis_client, others):
    """Her open console renews her on every page and event-stream tick. One that
    read her as on duty just before she clicked "Go off duty" must not write her
    back, nor keep the line on for nobody: people asking for a person would wait."""
    from bot.duty import Duty
    from bot.store.duty import DutyRecords
    from bot.store.keys import Keys

    keys = Keys("hl:renew-race")
    duty = Duty(DutyRecords(redis_client, keys))
    for name in ("rita", *others):
        duty.switch(True, name)

    class OffRightAfterTheRead:
        """The real client; her click lands between the renewal's read and its writes."""

        def __getattr__(self, name):
            return getattr(redis_client, name)

        def zscore(self, *args):
            found = redis_client.zscore(*args)
            duty.switch(False, "rita")
            return found

    assert not Duty(DutyRecords(OffRightAfterTheRead(), keys)).renew("rita")
    state = duty.state()
    assert state.who == others
    assert state.on == bool(others)
    if not others:
        assert not duty.records.line_on()


def test_a_renewal_writing_the_flag_just_after_she_left_does_not_outlast_who_stays(redis_client):
    """Her click lands between the renewal's entry and its flag. Rosa stays on
    duty, but her console is closed and her duty lapses in 30 s: the line must
    not stay on for the renewal's full 120 s, with nobody answering."""
    from bot.duty import Duty
    from bot.store.duty import DutyRecords
    from bot.store.keys import Keys

    keys = Keys("hl:renew-flag-race")
    duty = Duty(DutyRecords(redis_client, keys))
    duty.switch(True, "rita")
    duty.switch(True, "rosa")
    redis_client.zadd(keys.duty_who(), {"rosa": time.time() + 30})  # her console closed 90 s ago
    clicked = []

    class OffBeforeTheFlag:
        """The real client; her click lands after the renewal's entry, before its flag."""

        def __getattr__(self, name):
            return getattr(redis_client, name)

        def pipeline(self, *args, **kwargs):
            if not clicked:
                clicked.append(True)
                duty.switch(False, "rita")
            return redis_client.pipeline(*args, **kwargs)

    assert not Duty(DutyRecords(OffBeforeTheFlag(), keys)).renew("rita")
    assert clicked
    assert duty.state().who == ("rosa",)
    assert 0 < redis_client.pttl(keys.duty()) <= 30_000
