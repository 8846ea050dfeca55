"""Hand-off to a person: the queue, claim, reply through Twilio's REST API, release, close.

Replies go to :class:`~tests.fixtures_console.TwilioStandIn`, a local HTTP
server in Twilio's place (``TWILIO_API_BASE``), which records what would
have been sent.
"""
from __future__ import annotations

import json
import time

import pytest

from bot.engine import transcript
from bot.live_sessions import mask
from bot.staffed_hours import Hours, HoursError
from tests.helpers import (everything_stored, last_event_id, option, real_flows, store_session, stored_session,
                           stream_events)
from tests.fixtures_console import PASSWORD, ask_for_a_person, conv_of, csrf_token, post_form, sign_in, text
from tests.twilio_standin import ACCOUNT_SID, TwilioStandIn

pytestmark = pytest.mark.slow  # most tests here take a second or more: an app each, servers, waits

PERSON = "+15550001142"
WA_PERSON = "whatsapp:+5215550001107"
HOTLINE = "1-888-373-7888"


def handoff_says(part: str, lang: str = "es") -> str:
    """The hand-off's own ``text`` (on duty: wait, with the numbers should they not
    be able to) or ``unavailable`` (nobody on duty), from the flows (help.person)."""
    fs = real_flows()
    return fs.translate(lang, getattr(fs.node("help.person"), part).msgid)


@pytest.fixture
def rita(console_app):
    client = console_app.test_client()
    sign_in(client, "rita")
    return client


def on_duty(client) -> None:
    assert post_form(client, "/ops/duty", {"on": "1"}).status_code == 302


def session(redis_client, conv: str) -> dict:
    for key in redis_client.scan_iter("hl:{*}:session"):
        if stored_session(redis_client, key).get("conv") == conv:
            return stored_session(redis_client, key)
    return {}


def handoff_key(redis_client, sender: str = PERSON) -> str:
    from bot.helpline import contact_id

    return f"hl:{{{contact_id('test-secret', sender)}}}:handoff"


# --- asking for a person -----------------------------------------------------------------------------


def test_nobody_on_duty_the_person_gets_the_hotline_at_once(console_app, rita, redis_client):
    person = console_app.test_client()
    replies = ask_for_a_person(person)
    assert replies[0] == handoff_says("unavailable") and HOTLINE in replies[0]
    assert session(redis_client, conv_of(redis_client))["st"] != "handed_off"
    assert "Nobody is waiting for a person." in rita.get("/ops/").text


@pytest.mark.parametrize("how", ["keyword", "menu"])
def test_on_duty_the_person_waits_in_the_queue_masked(console_app, rita, redis_client, how):
    on_duty(rita)
    person = console_app.test_client()
    text(person, "hola")
    replies = text(person, "PERSONA" if how == "keyword" else option("help.person"))
    assert replies == [handoff_says("text")]  # wait for a person (with the numbers, should they not be able to)
    assert "persona" in replies[0].lower() and HOTLINE in replies[0]
    conv = conv_of(redis_client)
    assert session(redis_client, conv)["st"] == "handed_off"
    page = rita.get("/ops/").text
    assert "Waiting for a person" in page and "··42" in page and f"/ops/handoff/{conv}/claim" in page
    assert "5550001142" not in page and "0001142" not in page
    assert "Answer" in page


def test_while_handed_off_the_bot_is_quiet_but_for_keywords(console_app, rita, redis_client):
    on_duty(rita)
    person = console_app.test_client()
    ask_for_a_person(person)
    assert text(person, "me pagan muy poco") == []
    assert text(person, "mi patrón tiene mi pasaporte") == []  # (danger in their words would get the numbers: below)
    assert any(HOTLINE in r for r in text(person, "AYUDA"))  # help still answers
    asked, *lines = redis_client.lrange(handoff_key(redis_client), 0, -1)
    assert asked.startswith("\x1e") and '"k":"asked"' in asked  # when they asked: the queue's wait counts from it
    said, marked = lines[:2], lines[2:]
    # Their texts, each with the time it came (the responder sees it).
    assert [transcript.text_of(line) for line in said] == ["me pagan muy poco", "mi patrón tiene mi pasaporte"]
    [keyword] = marked  # AYUDA goes in as a record, not as a text of theirs
    assert keyword.startswith("\x1e") and '"intent":"help"' in keyword


# --- claim, reply -----------------------------------------------------------------------------------------


def test_claim_then_see_their_messages_and_reply_through_twilio(console_app, rita, redis_client, twilio_api):
    on_duty(rita)
    person = console_app.test_client()
    ask_for_a_person(person)
    text(person, "hay alguien?")
    conv = conv_of(redis_client)

    # Before claiming: no bodies.
    before = rita.get(f"/ops/handoff/{conv}")
    assert before.status_code == 200 and "hay alguien?" not in before.text and "Answer this person" in before.text

    assert post_form(rita, f"/ops/handoff/{conv}/claim").headers["Location"] == f"/ops/handoff/{conv}"
    page = rita.get(f"/ops/handoff/{conv}").text
    assert "hay alguien?" in page and "··42" in page and PERSON not in page
    queue = rita.get("/ops/queue").text
    assert "You are answering" in queue and "Open the chat" in queue

    text(person, "gracias")
    entries = rita.get(f"/ops/handoff/{conv}/entries.json").json
    assert [e["text"] for e in entries["entries"] if e["who"] == "person"] == ["hay alguien?", "gracias"]

    token = csrf_token(rita, f"/ops/handoff/{conv}")
    response = rita.post(f"/ops/handoff/{conv}/reply", data={"text": "Hola, soy Rita. ¿Está a salvo ahora?"},
                         headers={"X-CSRFToken": token, "Accept": "application/json"})
    assert response.status_code == 200, response.json
    [sent] = twilio_api.requests
    assert sent["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert sent["form"]["To"] == PERSON
    assert sent["form"]["From"] == "+15559990000"
    assert sent["form"]["Body"] == "Hola, soy Rita. ¿Está a salvo ahora?"
    assert sent["form"]["StatusCallback"] == "http://localhost/twilio/status"
    assert sent["auth"].startswith("Basic ")

    entries = rita.get(f"/ops/handoff/{conv}/entries.json").json["entries"]
    mine = [e for e in entries if e["who"] == "operator"]
    assert mine[0]["text"].startswith("Hola, soy Rita") and mine[0]["by"] == "rita" and mine[0]["status"] == "sent"

    # The stream records who did what, never what was written.
    events = [e for e in stream_events(redis_client) if e.get("conv") == conv]
    kinds = [e["kind"] for e in events]
    assert "claimed" in kinds and "operator_reply" in kinds
    blob = json.dumps(list(redis_client.xrange("hl:events")))
    assert "Rita" not in blob and "gracias" not in blob and "hay alguien" not in blob and "5550001142" not in blob


def test_a_reply_goes_through_the_messaging_service_when_one_is_set(make_console, redis_client, twilio_api):
    app = make_console(TWILIO_MESSAGING_SERVICE_SID="MG" + "2" * 32)
    rita = app.test_client()
    sign_in(rita)
    on_duty(rita)
    ask_for_a_person(app.test_client(), WA_PERSON)
    conv = conv_of(redis_client, WA_PERSON)
    post_form(rita, f"/ops/handoff/{conv}/claim")
    post_form(rita, f"/ops/handoff/{conv}/reply", {"text": "Hola"})
    [sent] = twilio_api.messages
    assert sent["MessagingServiceSid"] == "MG" + "2" * 32 and "From" not in sent and sent["To"] == WA_PERSON


def test_whatsapp_from_number_gets_the_whatsapp_prefix(console_app, rita, redis_client, twilio_api):
    on_duty(rita)
    ask_for_a_person(console_app.test_client(), WA_PERSON)
    conv = conv_of(redis_client, WA_PERSON)
    post_form(rita, f"/ops/handoff/{conv}/claim")
    page = rita.get(f"/ops/handoff/{conv}").text
    assert "you can reply until" in page
    post_form(rita, f"/ops/handoff/{conv}/reply", {"text": "Hola"})
    assert twilio_api.messages[0]["From"] == "whatsapp:+15559990000"


def test_whatsapp_refuses_a_reply_after_the_24_hour_window(console_app, rita, redis_client, twilio_api):
    on_duty(rita)
    ask_for_a_person(console_app.test_client(), WA_PERSON)
    conv = conv_of(redis_client, WA_PERSON)
    post_form(rita, f"/ops/handoff/{conv}/claim")
    # Their last message was 24 hours and a minute ago.
    key = next(k for k in redis_client.scan_iter("hl:{*}:session") if stored_session(redis_client, k)["conv"] == conv)
    store_session(redis_client, key, {**stored_session(redis_client, key), "t": f"{time.time() - 24 * 3600 - 60:.3f}"})
    console_app.extensions["ops"].live_sessions.refresh()

    page = rita.get(f"/ops/handoff/{conv}").text
    assert "24-hour window has closed" in page
    token = csrf_token(rita, f"/ops/handoff/{conv}")
    response = rita.post(f"/ops/handoff/{conv}/reply", data={"text": "Hola"}, headers={"X-CSRFToken": token})
    assert response.status_code == 409
    assert "24-hour window has closed" in response.json["error"] and "Nothing was sent" in response.json["error"]
    assert twilio_api.requests == []


def test_sms_has_no_window(console_app, rita, redis_client, twilio_api):
    on_duty(rita)
    ask_for_a_person(console_app.test_client())
    conv = conv_of(redis_client)
    post_form(rita, f"/ops/handoff/{conv}/claim")
    key = next(k for k in redis_client.scan_iter("hl:{*}:session") if stored_session(redis_client, k)["conv"] == conv)
    store_session(redis_client, key, {**stored_session(redis_client, key), "t": f"{time.time() - 30 * 3600:.3f}"})
    post_form(rita, f"/ops/handoff/{conv}/reply", {"text": "Hola"})
    assert len(twilio_api.requests) == 1


def test_twilio_refusing_shows_its_code_but_never_the_number(make_console, redis_client):
    with TwilioStandIn(fail_with=(400, 21211)) as failing:
        app = make_console(TWILIO_API_BASE=failing.url)
        rita = app.test_client()
        sign_in(rita)
        on_duty(rita)
        ask_for_a_person(app.test_client())
        conv = conv_of(redis_client)
        post_form(rita, f"/ops/handoff/{conv}/claim")
        token = csrf_token(rita, f"/ops/handoff/{conv}")
        response = rita.post(f"/ops/handoff/{conv}/reply", data={"text": "Hola"}, headers={"X-CSRFToken": token})
        assert response.status_code == 409
        assert "21211" in response.json["error"] and "5550001142" not in response.json["error"]
        assert len(failing.requests) == 1
    entries = rita.get(f"/ops/handoff/{conv}/entries.json").json["entries"]
    assert not [e for e in entries if e["who"] == "operator"]


def test_without_twilio_credentials_the_console_says_what_is_missing(make_console, redis_client, twilio_api):
    app = make_console(TWILIO_ACCOUNT_SID=None)
    rita = app.test_client()
    sign_in(rita)
    assert "TWILIO_ACCOUNT_SID" in rita.get("/ops/").text
    on_duty(rita)
    ask_for_a_person(app.test_client())
    conv = conv_of(redis_client)
    post_form(rita, f"/ops/handoff/{conv}/claim")
    response = post_form(rita, f"/ops/handoff/{conv}/reply", {"text": "Hola"}, follow_redirects=True)
    assert "Replies are not set up" in response.text and twilio_api.requests == []


def test_only_the_operator_who_claimed_replies_until_another_takes_over(console_app, rita, redis_client, twilio_api):
    on_duty(rita)
    person = console_app.test_client()
    ask_for_a_person(person)
    text(person, "hola?")
    conv = conv_of(redis_client)
    rosa = console_app.test_client()
    sign_in(rosa, "rosa")
    # Nobody can reply before claiming.
    assert "Claim this hand-off first" in post_form(rosa, f"/ops/handoff/{conv}/reply", {"text": "x"},
                                                    follow_redirects=True).text
    post_form(rita, f"/ops/handoff/{conv}/claim")
    page = rosa.get(f"/ops/handoff/{conv}").text
    assert "rita</strong> is answering" in page and "hola?" not in page and "Take over" in page
    refused = post_form(rosa, f"/ops/handoff/{conv}/reply", {"text": "x"}, follow_redirects=True)
    assert "rita is answering this person. Take it over first." in refused.text
    post_form(rosa, f"/ops/handoff/{conv}/claim")
    assert "hola?" in rosa.get(f"/ops/handoff/{conv}").text
    assert "rosa is answering" in post_form(rita, f"/ops/handoff/{conv}/reply", {"text": "x"},
                                            follow_redirects=True).text
    assert twilio_api.requests == []


def test_two_operators_pressing_answer_together_the_second_is_told_not_made_to_take_over(console_app, rita,
                                                                                          redis_client):
    # Both pages showed "Answer" (nobody answering); rosa's press came 0.3 s after rita's.
    # Before: rosa took the chat over from rita without being asked ("rosa took over from rita").
    on_duty(rita)
    person = console_app.test_client()
    ask_for_a_person(person)
    conv = conv_of(redis_client)
    rosa = console_app.test_client()
    sign_in(rosa, "rosa")
    post_form(rita, f"/ops/handoff/{conv}/claim", {"holder": ""})
    refused = post_form(rosa, f"/ops/handoff/{conv}/claim", {"holder": ""}, follow_redirects=True)
    assert "rita is already answering this person. To take over from them, open the chat and choose Take over." \
        in refused.text
    assert "rita</strong> is answering" in rosa.get(f"/ops/handoff/{conv}").text
    # The take-over the chat's page asks about names who it takes from: that goes through.
    post_form(rosa, f"/ops/handoff/{conv}/claim", {"holder": "rita"})
    assert "rosa is answering" in post_form(rita, f"/ops/handoff/{conv}/reply", {"text": "x"},
                                            follow_redirects=True).text


def test_the_live_pages_take_over_asks_first_on_the_chats_page(console_app, rita, redis_client):
    on_duty(rita)
    person = console_app.test_client()
    ask_for_a_person(person)
    conv = conv_of(redis_client)
    post_form(rita, f"/ops/handoff/{conv}/claim", {"holder": ""})
    rosa = console_app.test_client()
    sign_in(rosa, "rosa")
    live = rosa.get("/ops/").text
    assert f'href="/ops/handoff/{conv}"' in live and "Take over…" in live
    assert f'action="/ops/handoff/{conv}/claim"' not in live  # no one-click take-over on the card


def _answered(console_app, rita, redis_client, *said: str):
    """A person asks for a person and says ``said``; Rita answers. Their client, and the conversation."""
    person = console_app.test_client()
    ask_for_a_person(person)
    for words in said:
        text(person, words)
    conv = conv_of(redis_client)
    post_form(rita, f"/ops/handoff/{conv}/claim")
    return person, conv


# --- release, close, quick exit --------------------------------------------------------------------------


def test_release_hands_back_to_the_bot_silently_and_forgets_the_messages(console_app, rita, redis_client, twilio_api):
    on_duty(rita)
    person, conv = _answered(console_app, rita, redis_client, "un secreto")
    post_form(rita, f"/ops/handoff/{conv}/reply", {"text": "Hola"})
    response = post_form(rita, f"/ops/handoff/{conv}/release")
    assert response.headers["Location"] == "/ops/"
    assert len(twilio_api.requests) == 1  # the reply; release sends nothing
    s = session(redis_client, conv)
    assert s["st"] == "in_flow" and (s["flow"], s["node"]) == ("main", "menu")
    assert not redis_client.exists(handoff_key(redis_client))
    # Their next text is read by the bot again, at the main menu.
    replies = text(person, option("numbers"))
    assert replies[0].startswith("¿Qué tipo de ayuda necesita?")
    assert "Nobody is waiting" in rita.get("/ops/").text
    kinds = [e["kind"] for e in stream_events(redis_client) if e.get("conv") == conv]
    assert "released" in kinds


def test_close_ends_the_chat_and_the_next_text_starts_at_the_menu(console_app, rita, redis_client, twilio_api):
    on_duty(rita)
    person, conv = _answered(console_app, rita, redis_client)
    post_form(rita, f"/ops/handoff/{conv}/close")
    assert session(redis_client, conv)["st"] == "closed"
    assert twilio_api.requests == []
    replies = text(person, "hola otra vez")
    assert session(redis_client, conv)["st"] == "in_flow"
    assert any("1." in r for r in replies)


def test_unclaim_puts_it_back_in_the_queue(console_app, rita, redis_client):
    on_duty(rita)
    ask_for_a_person(console_app.test_client())
    conv = conv_of(redis_client)
    post_form(rita, f"/ops/handoff/{conv}/claim")
    post_form(rita, f"/ops/handoff/{conv}/unclaim")
    assert "Nobody has answered yet" in rita.get("/ops/queue").text


def test_salir_during_a_hand_off_erases_it_and_nothing_more_can_be_sent(console_app, rita, redis_client, twilio_api):
    on_duty(rita)
    person, conv = _answered(console_app, rita, redis_client, "algo privado")
    post_form(rita, f"/ops/handoff/{conv}/reply", {"text": "Hola"})
    [reply_sid] = twilio_api.created
    replies = text(person, "SALIR")
    assert len(replies) == 1
    # Twilio's copy of the reply goes too, though its status callback never came before the erase.
    assert redis_client.zscore(f"hl:{{hl:events}}:purge", reply_sid) is not None or reply_sid in twilio_api.deleted
    assert not redis_client.exists(handoff_key(redis_client))
    assert not list(redis_client.scan_iter("hl:{*}:session"))
    assert "algo privado" not in json.dumps([redis_client.dump(k) and k for k in redis_client.scan_iter("*")])
    for action in ("reply", "release", "close", "claim"):
        response = post_form(rita, f"/ops/handoff/{conv}/{action}", {"text": "¿sigue ahí?"}, follow_redirects=True)
        assert "This conversation has ended" in response.text, action
    assert len(twilio_api.requests) == 1
    assert rita.get(f"/ops/handoff/{conv}/entries.json").json["ended"] is True
    assert "Nobody is waiting" in rita.get("/ops/").text


def _polled(rita, after: str, conv: str = "") -> str:
    """What a page that polls gets (another console holds the process's one stream)."""
    return rita.get(f"/ops/live/events?after={after}" + (f"&conv={conv}" if conv else "")).text


def _session_event(received: str) -> dict:
    return json.loads(received.split("event: session\ndata: ")[1].split("\n")[0])


def test_an_open_hand_off_page_learns_of_salir_after_its_stream_entries_are_dropped(console_app, rita, redis_client):
    """A page that polls, or is between two streams, reads the stream after its last id; a quick
    exit's entries, its ERASED one too, are dropped soon after (bot/erasure.py, StreamEntries), so
    it would never hear of it. The page names its conversation (?conv=) and is told it is gone:
    its session is not there, which is all the server needs to know."""
    on_duty(rita)
    person, conv = _answered(console_app, rita, redis_client, "algo privado")
    after = last_event_id(redis_client)
    slots = console_app.extensions["ops"].live_slots
    assert slots.acquire(blocking=False)  # another console's stream
    try:
        polled = _polled(rita, after, conv)
        assert '"poll":5' in polled and "event: session" not in polled  # still a hand-off: nothing to say
        text(person, "SALIR")
        deadline = time.monotonic() + 10
        while any(e.get("conv") == conv for e in stream_events(redis_client, after=after)):
            assert time.monotonic() < deadline, "the background job never dropped the quick exit's entries"
            time.sleep(0.05)
        assert conv not in _polled(rita, after)  # the stream alone no longer says anything of it
        polled = _polled(rita, after, conv)
        assert _session_event(polled) == {"conv": conv, "gone": True, "kinds": []}
        assert "algo privado" not in polled and "··42" not in polled
    finally:
        slots.release()

    # A stream of its own says so at once too.
    response = rita.get(f"/ops/live/events?after={after}&conv={conv}", buffered=False)
    received, deadline = "", time.monotonic() + 10
    for chunk in response.response:
        received += chunk if isinstance(chunk, str) else chunk.decode()
        if '"gone"' in received or time.monotonic() > deadline:
            break
    response.close()
    assert '"poll":0' in received and _session_event(received) == {"conv": conv, "gone": True, "kinds": []}

    # As do the transcript's JSON and a Send.
    entries = rita.get(f"/ops/handoff/{conv}/entries.json").json
    assert entries["ended"] is True and entries["why"] == "gone"
    token = csrf_token(rita, "/ops/")
    response = rita.post(f"/ops/handoff/{conv}/reply", data={"text": "¿sigue ahí?"}, headers={"X-CSRFToken": token})
    assert response.status_code == 409 and response.json["ended"] == "gone"


def test_an_open_hand_off_page_learns_the_person_went_back_to_the_bot(console_app, rita, redis_client):
    on_duty(rita)
    person, conv = _answered(console_app, rita, redis_client)
    after = last_event_id(redis_client)
    token = csrf_token(rita, "/ops/")
    response = rita.post(f"/ops/handoff/{conv}/reply", data={"text": ""}, headers={"X-CSRFToken": token})
    assert response.status_code == 409 and response.json["ended"] == ""  # refused, the chat still there
    text(person, "MENU")
    slots = console_app.extensions["ops"].live_slots
    assert slots.acquire(blocking=False)
    try:
        assert _session_event(_polled(rita, after, conv))["st"] == "in_flow"
    finally:
        slots.release()
    assert rita.get(f"/ops/handoff/{conv}/entries.json").json["why"] == "in_flow"


def test_stop_during_a_hand_off_wins_too(console_app, rita, redis_client, twilio_api):
    on_duty(rita)
    person, conv = _answered(console_app, rita, redis_client)
    text(person, "PARAR")
    response = post_form(rita, f"/ops/handoff/{conv}/reply", {"text": "hola"}, follow_redirects=True)
    assert "no longer waiting" in response.text
    assert twilio_api.requests == []


def test_an_operator_action_waits_for_the_persons_text_under_the_same_lock(console_app, rita, redis_client):
    """The console takes the contact's lock like a text does: held by a text, a claim waits for it."""
    on_duty(rita)
    ask_for_a_person(console_app.test_client())
    conv = conv_of(redis_client)
    store = console_app.extensions["store"]
    desk = console_app.extensions["ops"].desk
    desk.lock_wait = 0.3
    row = console_app.extensions["ops"].live_sessions.find(conv)
    held = store.open_turn(row.cid, "SMheld", wait=1)
    from bot.store import LockTimeout

    with pytest.raises(LockTimeout):
        desk.claim(conv, "rita")
    store.release(held)
    desk.claim(conv, "rita")


# --- on duty ------------------------------------------------------------------------------------------------


def test_the_duty_toggle_sets_and_clears_the_flag_with_an_expiry(console_app, rita, redis_client):
    on_duty(rita)
    assert redis_client.get("hl:duty") == "rita"
    assert 0 < redis_client.ttl("hl:duty") <= 120
    assert "ON DUTY" in rita.get("/ops/").text
    assert post_form(rita, "/ops/duty", {"on": "0"}).status_code == 302
    assert not redis_client.exists("hl:duty")
    assert "OFF DUTY" in rita.get("/ops/").text


def test_staffed_hours_put_people_in_the_queue_without_the_toggle(make_console, redis_client):
    app = make_console(HANDOFF_HOURS="Mon-Sun 00:00-24:00", OPS_TIMEZONE="America/Chicago")
    person = app.test_client()
    replies = ask_for_a_person(person)
    assert replies == [handoff_says("text")]
    assert session(redis_client, conv_of(redis_client))["st"] == "handed_off"
    rita = app.test_client()
    sign_in(rita)
    assert "Staffed hours" in rita.get("/ops/").text
    # Rita never went on duty: she has nothing to go off, and cannot switch the hours off for everyone.
    page = rita.get("/ops/").text
    assert "Go off duty" not in page and "Pause the line" not in page
    post_form(rita, "/ops/duty", {"on": "0"})
    assert app.extensions["ops"].duty.is_on()
    # On duty and off again, she switches off only herself: the hours keep the line open for the others.
    post_form(rita, "/ops/duty", {"on": "1"})
    page = post_form(rita, "/ops/duty", {"on": "0", "confirm": "1"}, follow_redirects=True).text
    assert "The staffed hours keep the line open until" in page
    assert app.extensions["ops"].duty.is_on() and not redis_client.exists("hl:ops:duty:off")
    # A supervisor pauses them, once they have read that someone is waiting.
    app.extensions["ops"].accounts.add("sam", "editor", PASSWORD)
    sam = app.test_client()
    sign_in(sam, "sam")
    assert "Pause the line" in sam.get("/ops/").text
    assert "1 person is waiting." in post_form(sam, "/ops/duty", {"pause": "1"}).text
    assert app.extensions["ops"].duty.is_on()
    post_form(sam, "/ops/duty", {"pause": "1", "confirm": "1"})
    assert redis_client.exists("hl:ops:duty:off")
    assert not app.extensions["ops"].duty.is_on()


@pytest.mark.parametrize("spec, when, inside", [
    ("Mon-Fri 09:00-17:00", "2025-01-06 09:00", True),  # Monday
    ("Mon-Fri 09:00-17:00", "2025-01-06 17:00", False),
    ("Mon-Fri 09:00-17:00", "2025-01-04 12:00", False),  # Saturday
    ("Fri 22:00-06:00", "2025-01-04 05:59", True),  # Saturday morning, Friday night's span
    ("Fri 22:00-06:00", "2025-01-03 21:59", False),
    ("Sat-Mon 10:00-12:00; Wed 08:00-09:00", "2025-01-05 11:00", True),  # Sunday
    ("Sat-Mon 10:00-12:00; Wed 08:00-09:00", "2025-01-08 08:30", True),
    ("Sat-Mon 10:00-12:00; Wed 08:00-09:00", "2025-01-07 11:00", False),
])
def test_hours(spec, when, inside):
    import datetime as dt

    hours = Hours.parse(spec, "America/Chicago")
    local = dt.datetime.fromisoformat(when).replace(tzinfo=hours.tz)
    assert hours.within(local) is inside


@pytest.mark.parametrize("spec", ["weekdays 9-5", "Mon-Fri 9:00", "Mon-Xyz 09:00-10:00", "Mon 25:00-26:00"])
def test_bad_hours_say_what_is_expected(spec):
    with pytest.raises(HoursError, match="HANDOFF_HOURS"):
        Hours.parse(spec, "UTC")


def test_bad_hours_stop_the_server_at_start(make_console):
    with pytest.raises(SystemExit, match="Mon-Fri 09:00-17:00"):
        make_console(HANDOFF_HOURS="nights")


def test_mask_keeps_two_digits_only():
    assert mask("+15550001142") == "··42"
    assert mask("whatsapp:+5215550001107") == "··07"


# --- the live stream ------------------------------------------------------------------------------------------


def test_the_live_stream_tells_of_a_new_session_without_its_number_or_words(console_app, rita, redis_client):
    last = redis_client.xrevrange("hl:events", count=1)
    after = last[0][0] if last else "0-0"
    person = console_app.test_client()
    text(person, "hola, me llamo Juana")
    response = rita.get(f"/ops/live/events?after={after}", buffered=False, headers={"Accept": "text/event-stream"})
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    received = ""
    for chunk in response.response:
        received += chunk if isinstance(chunk, str) else chunk.decode()
        if "event: session" in received:
            break
    response.close()
    assert "retry:" in received and "event: duty" in received
    data = json.loads(received.split("event: session\ndata: ")[1].split("\n")[0])
    assert data["masked"] == "··42" and data["st"] == "in_flow" and data["lang"] == "es" and "started" in data["kinds"]
    assert "Juana" not in received and "5550001142" not in received and "cid" not in data


# --- keywords during a hand-off, seen by the responder ----------------------------------------------------


def read_stream(rita, after: str, until: str) -> str:
    response = rita.get(f"/ops/live/events?after={after}", buffered=False, headers={"Accept": "text/event-stream"})
    received = ""
    for chunk in response.response:
        received += chunk if isinstance(chunk, str) else chunk.decode()
        if until in received:
            break
    response.close()
    return received


def test_emergency_during_a_hand_off_is_shown_to_the_responder_at_once_and_marked(console_app, rita, redis_client):
    """Before: the bot sent the emergency numbers and the responder saw nothing of it."""
    on_duty(rita)
    person, conv = _answered(console_app, rita, redis_client)
    text(person, "me están amenazando")
    last = redis_client.xrevrange("hl:events", count=1)[0][0]

    emergency = text(person, "EMERGENCIA")
    assert any("911" in r for r in emergency)

    # At once: the open hand-off page is told its conversation changed, and why.
    received = read_stream(rita, last, '"keyword"')
    event = json.loads(received.split("event: session\ndata: ")[1].split("\n")[0])
    assert event["conv"] == conv and "keyword" in event["kinds"] and "EMERGENCIA" not in received
    # ... and what it fetches then says what happened, marked as such.
    entries = rita.get(f"/ops/handoff/{conv}/entries.json").json["entries"]
    said, marked = entries[-2], entries[-1]
    assert said == {**said, "who": "person", "text": "me están amenazando"}
    assert marked["who"] == "keyword" and marked["kind"] == "danger"
    assert marked["label"] == "They texted EMERGENCIA: the bot sent them the emergency numbers."
    assert marked["sent"] == emergency
    # After a reload, the same, set apart from what they wrote.
    page = rita.get(f"/ops/handoff/{conv}").text
    assert '<li class="msg keyword">' in page and "They texted EMERGENCIA: the bot sent them the emergency numbers." in page
    # On the queue, for every responder: that they asked, not their words.
    queue = rita.get("/ops/queue").text
    assert "Asked for the emergency numbers" in queue and "EMERGENCIA" not in queue and "amenazando" not in queue


@pytest.mark.parametrize("words", ["me quieren matar", "tiene una pistola", "PARAR, me van a matar", "he has a gun"])
def test_danger_in_their_own_words_during_a_hand_off_gets_the_emergency_numbers(console_app, rita, redis_client, words):
    """Found by probing: asked for a person, and while nobody had answered yet, "me quieren
    matar" got silence (only the exact keywords were read during a hand-off), and the card
    showed no priority. The on-duty hand-off text names no number."""
    on_duty(rita)
    person = console_app.test_client()
    ask_for_a_person(person)
    conv = conv_of(redis_client)
    emergency = text(person, words)
    assert any("911" in r for r in emergency)
    queue = rita.get("/ops/queue").text
    assert "Priority: used the danger word" in queue and "Asked for the emergency numbers" in queue
    post_form(rita, f"/ops/handoff/{conv}/claim")
    marked = [e for e in rita.get(f"/ops/handoff/{conv}/entries.json").json["entries"] if e["who"] == "keyword"]
    assert [(e["kind"], e["text"]) for e in marked] == [("danger", words)]
    assert session(redis_client, conv)["st"] == "handed_off", "still waiting for the person they asked for"


@pytest.mark.parametrize("way_out", ["SALIR", "PARAR"])
def test_the_chat_page_of_someone_who_just_left_shows_nothing_of_them(console_app, rita, redis_client, way_out):
    """Found by probing: for up to two seconds after SALIR or PARAR (the live list's snapshot),
    the chat page still showed what the bot knew of them and "Answer this person"."""
    on_duty(rita)
    person = console_app.test_client()
    ask_for_a_person(person)
    text(person, "mi patrón tiene mi pasaporte")
    conv = conv_of(redis_client)
    assert rita.get(f"/ops/handoff/{conv}").status_code == 200  # the snapshot is fresh, and holds them
    text(person, way_out)
    page = rita.get(f"/ops/handoff/{conv}")
    assert page.status_code == 302 and page.headers["Location"].endswith("/ops/")


def test_help_and_a_language_switch_during_a_hand_off_are_marked_too(console_app, rita, redis_client):
    on_duty(rita)
    person = console_app.test_client()
    ask_for_a_person(person)
    conv = conv_of(redis_client)
    rosa = console_app.test_client()
    sign_in(rosa, "rosa")
    text(person, "AYUDA")
    text(person, "ENGLISH")
    # Not claimed yet: another responder sees that they asked, before answering.
    page = rosa.get(f"/ops/handoff/{conv}").text
    assert "Asked for help (the hotline numbers)" in page and "Changed language" in page and "AYUDA" not in page
    post_form(rita, f"/ops/handoff/{conv}/claim")
    labels = [e["label"] for e in rita.get(f"/ops/handoff/{conv}/entries.json").json["entries"] if e["who"] == "keyword"]
    assert labels == ["They texted AYUDA: the bot sent them how to use the line, with the hotline numbers.",
                      "They texted ENGLISH: the bot now writes to them in English."]
    # SALIR erases the marks with everything else.
    text(person, "SALIR")
    assert not redis_client.exists(handoff_key(redis_client))


# --- replies when Twilio is slow -----------------------------------------------------------------------------


def claimed_by_rita(app, redis_client) -> tuple:
    rita = app.test_client()
    sign_in(rita)
    on_duty(rita)
    person = app.test_client()
    ask_for_a_person(person)
    conv = conv_of(redis_client)
    post_form(rita, f"/ops/handoff/{conv}/claim")
    return rita, person, conv


def send_reply(rita, conv: str, body: str):
    token = csrf_token(rita, f"/ops/handoff/{conv}")
    return rita.post(f"/ops/handoff/{conv}/reply", data={"text": body},
                     headers={"X-CSRFToken": token, "Accept": "application/json"})


def test_a_reply_after_a_quick_exit_kept_through_an_outage_is_refused_and_never_sent(make_console, redis_client):
    """SALIR answered while Redis was down is done once Redis answers, by a
    background replay a few seconds later. Before, a responder's reply in
    those seconds went to the phone of the person who had erased the chat."""
    from bot.helpline import contact_id
    from bot.spool import Entry

    with TwilioStandIn() as twilio:
        app = make_console(TWILIO_API_BASE=twilio.url)
        rita, person, conv = claimed_by_rita(app, redis_client)
        cid = contact_id(app.config["SECRET_KEY"], "+15550001142")  # ask_for_a_person's sender
        assert redis_client.exists(f"hl:{{{cid}}}:session")
        assert app.extensions["helpline"].spool.add(Entry(cid, "quick_exit", time.time()))
        answer = send_reply(rita, conv, "Estamos aquí.")
        assert answer.status_code != 200 and "ended" in answer.get_data(as_text=True), answer.get_data(as_text=True)
        assert twilio.requests == []
        assert "Estamos" not in everything_stored(redis_client)


def test_a_reply_twilio_does_not_confirm_in_time_may_have_been_sent_and_is_never_sent_again(make_console,
                                                                                           redis_client):
    """Before: a timeout said "nothing was sent", though Twilio had taken the message."""
    with TwilioStandIn(stall=(6.0,)) as slow:
        app = make_console(TWILIO_API_BASE=slow.url)
        rita, person, conv = claimed_by_rita(app, redis_client)
        response = send_reply(rita, conv, "¿Sigue ahí? Soy Rita.")
        assert response.status_code == 409
        error = response.json["error"]
        assert "may have been sent" in error and "nothing was sent" not in error.lower()
        assert "Check before you send it again" in error and response.json["maybe_sent"] is True
        assert len(slow.requests) == 1  # taken by Twilio, once; never sent again by itself
        entries = rita.get(f"/ops/handoff/{conv}/entries.json").json["entries"]
        [mine] = [e for e in entries if e["who"] == "operator"]
        assert mine["text"] == "¿Sigue ahí? Soy Rita." and mine["status"] == "not confirmed"
        assert "msg operator unsure" in rita.get(f"/ops/handoff/{conv}").text
        assert len(slow.requests) == 1


def test_salir_is_not_answered_while_a_reply_is_in_flight(make_console, redis_client):
    """Twilio trickles its answer in over 7 s (no silence long enough for a
    per-read timeout). Before: the person's lock ran out after 6 s and their
    SALIR erased the chat while the console was still waiting on Twilio; the
    console found out a second later. Now the lock covers the send until the
    console stops waiting, then SALIR erases everything, the reply too."""
    import threading

    with TwilioStandIn(stall=(3.5, 3.5)) as slow:
        app = make_console(TWILIO_API_BASE=slow.url)
        rita, person, conv = claimed_by_rita(app, redis_client)
        done = {}

        def reply():
            done["response"] = send_reply(rita, conv, "Estamos aquí.")
            done["at"] = time.monotonic()

        sending = threading.Thread(target=reply)
        sending.start()
        from tests.servers import wait_until

        wait_until(lambda: slow.requests, timeout=5)  # the message has reached Twilio
        erased = text(person, "SALIR")
        erased_at = time.monotonic()
        sending.join(15)
        assert len(erased) == 1
        assert erased_at >= done["at"] - 0.5, "SALIR was answered while the reply was still being sent"
        assert "may have been sent" in done["response"].json["error"]
        # The erase came after the reply, and took it too.
        assert not redis_client.exists(handoff_key(redis_client))
        assert not list(redis_client.scan_iter("hl:{*}:session"))
        assert "Estamos" not in everything_stored(redis_client)
        assert len(slow.requests) == 1
