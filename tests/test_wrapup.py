"""Wrap-up, take-over and signing out while answering (issue 19: wrap-up and hand-over).

Ending the chat or handing back records how it ended (an outcome from
flows/console/outcomes.yaml, counted in the figures) and an optional internal
note, kept for the next responder, erased when the person texts SALIR.
"""
from __future__ import annotations

import pytest

from bot.outcomes import load, problems
from tests.fixtures_console import ask_for_a_person, conv_of, post_form, sign_in, text
from tests.helpers import REPO, stream_events

pytestmark = pytest.mark.slow


@pytest.fixture
def rita(rita_on_duty):
    return rita_on_duty


def _answered(console_app, rita, redis_client):
    person = console_app.test_client()
    ask_for_a_person(person)
    conv = conv_of(redis_client)
    post_form(rita, f"/ops/handoff/{conv}/claim")
    return person, conv


def _note_keys(redis_client) -> list:
    return list(redis_client.scan_iter("hl:{*}:note"))


def _wrapups(console_app) -> dict:
    figures = console_app.extensions["ops"].figures
    figures.catch_up()
    today = figures.today()
    return figures.read(today, today).group("wrapup")


def test_ending_the_chat_counts_its_outcome_and_keeps_the_note_out_of_events(console_app, rita, redis_client):
    person, conv = _answered(console_app, rita, redis_client)
    response = post_form(rita, f"/ops/handoff/{conv}/close",
                         {"outcome": "safety_planning", "note": "Talked about a safe place to stay"})
    assert response.status_code == 302 and response.headers["Location"] == "/ops/"
    assert _wrapups(console_app) == {"safety_planning": 1}
    events = [e for e in stream_events(redis_client) if e.get("conv") == conv]
    assert "safe place" not in repr(events)
    assert [k for k in _note_keys(redis_client)]  # kept for the next responder
    page = rita.get("/ops/figures").text
    assert "How chats with a person ended" in page and "Safety planning" in page
    assert "safe place" not in page
    csv = rita.get("/ops/figures.csv").text
    assert "wrapup_outcomes,safety_planning,1" in csv


def test_the_note_is_shown_to_the_next_responder_and_erased_on_salir(console_app, rita, redis_client):
    person, conv = _answered(console_app, rita, redis_client)
    post_form(rita, f"/ops/handoff/{conv}/release", {"outcome": "information", "note": "Asked about visas"})
    assert _wrapups(console_app) == {"information": 1}
    ask_for_a_person(person)
    conv = conv_of(redis_client)
    post_form(rita, f"/ops/handoff/{conv}/claim")
    assert "Asked about visas" in rita.get(f"/ops/handoff/{conv}").text
    text(person, "SALIR")
    assert _note_keys(redis_client) == []


def test_an_unknown_outcome_is_refused_and_the_chat_goes_on(console_app, rita, redis_client):
    _, conv = _answered(console_app, rita, redis_client)
    page = post_form(rita, f"/ops/handoff/{conv}/close", {"outcome": "made_up"}, follow_redirects=True).text
    assert "Pick how the chat ended from the list." in page
    assert "/close" in page  # still on the hand-off, the chat open
    assert _wrapups(console_app) == {}


def test_the_handoff_page_asks_for_an_outcome_from_the_data_file(console_app, rita, redis_client):
    _, conv = _answered(console_app, rita, redis_client)
    page = rita.get(f"/ops/handoff/{conv}").text
    for o in load(str(REPO / "flows")):
        assert f'value="{o.id}"' in page and o.label in page
    assert "How did the chat end?" in page


def test_taking_over_is_confirmed_and_the_transcript_says_from_whom(console_app, rita, redis_client):
    _, conv = _answered(console_app, rita, redis_client)
    rosa = console_app.test_client()
    sign_in(rosa, "rosa")
    assert "rita</strong> is answering. Take over?" in rosa.get(f"/ops/handoff/{conv}").text
    post_form(rosa, f"/ops/handoff/{conv}/claim")
    assert "rosa took over from rita" in rosa.get(f"/ops/handoff/{conv}").text


def test_signing_out_puts_the_chats_you_hold_back_in_the_queue(console_app, rita, redis_client):
    _, conv = _answered(console_app, rita, redis_client)
    rosa = console_app.test_client()
    sign_in(rosa, "rosa")
    assert "rita" in rosa.get("/ops/queue").text
    page = post_form(rita, "/ops/logout", follow_redirects=True).text
    assert "went back to the queue" in page
    assert "Nobody has answered yet" in rosa.get("/ops/queue").text


def test_flows_check_finds_what_is_wrong_in_the_outcomes_file(tmp_path):
    assert problems(str(REPO / "flows")) == []
    (tmp_path / "console").mkdir()
    bad = tmp_path / "console" / "outcomes.yaml"
    bad.write_text("outcomes:\n  - {id: Hotline!, label: x}\n  - {id: other, label: ''}\n  - {id: other, label: y}\n")
    found = [str(p) for p in problems(str(tmp_path))]
    assert any("Hotline!" in p and p.startswith(f"{bad}:2: ") for p in found)  # path:line: message
    assert any("no label" in p for p in found)
    assert any("used twice" in p for p in found)
    bad.write_text("outcomes: nope\n")
    assert problems(str(tmp_path)) and "expected `outcomes:`" in str(problems(str(tmp_path))[0])
    assert problems(str(tmp_path / "nowhere")) == []  # no file: ending a chat asks for no outcome


# --- transfer and presence ----------------------------------------------------------------------------


def _present(console_app, *names):
    import time

    presence = console_app.extensions["store"].presence
    for name in names:
        presence.seen(name, time.time() + 60, time.time())


def test_transfer_only_to_a_colleague_on_the_console_with_a_note_they_see(console_app, rita, redis_client):
    _, conv = _answered(console_app, rita, redis_client)
    rosa = console_app.test_client()
    sign_in(rosa, "rosa")
    page = post_form(rita, f"/ops/handoff/{conv}/transfer", {"to": "rosa", "note": "Wants the labour line"},
                     follow_redirects=True).text
    assert "rosa is not on the console now" in page
    assert 'value="rosa"' not in rita.get(f"/ops/handoff/{conv}").text
    _present(console_app, "rosa")
    assert 'value="rosa"' in rita.get(f"/ops/handoff/{conv}").text
    response = post_form(rita, f"/ops/handoff/{conv}/transfer", {"to": "rosa", "note": "Wants the labour line"})
    assert response.status_code == 302
    chat = rosa.get(f"/ops/handoff/{conv}").text
    assert "rita handed this chat to rosa" in chat and "Wants the labour line" in chat
    assert "rosa is answering" in post_form(rita, f"/ops/handoff/{conv}/reply", {"text": "x"},
                                            follow_redirects=True).text
    events = [e for e in stream_events(redis_client) if e.get("conv") == conv]
    assert "labour line" not in repr(events)


def test_the_live_page_lists_who_is_on_the_console_and_what_they_answer(console_app, rita, redis_client):
    _, conv = _answered(console_app, rita, redis_client)
    _present(console_app, "rita", "rosa")
    page = rita.get("/ops/").text
    section = page[page.index("On the console now"):]
    assert "<strong>rita</strong> · on duty · answering" in section and "··42" in section
    assert "<strong>rosa</strong> · not on duty · not answering anyone" in section
    console_app.extensions["store"].presence.gone("rita")  # her console closed, still holding the chat
    page = rita.get("/ops/").text
    assert "<strong>rita</strong> · <span class=\"away\">console closed</span>" in page
    post_form(rita, "/ops/logout")
    rosa = console_app.test_client()
    sign_in(rosa, "rosa")
    assert "<strong>rita</strong>" not in rosa.get("/ops/").text.split("On the console now")[1]
