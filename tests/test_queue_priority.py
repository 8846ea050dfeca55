"""The queue's order (risk, then waiting since asking), its cards and count, and
what the hand-off page says the bot knows (bot/handoff_context.py)."""
from __future__ import annotations

import re
import time

import pytest

from bot import handoff_context as hc
from bot.engine import transcript
from bot.live_sessions import chat_label
from tests.fixtures_console import post_form, sign_in, text

ANSWERS = {  # the screening's flags as a person's answers leave them
    "safe_now": "yes", "in_us": "yes", "under_18": "no", "ransom": "no", "paid_to_cross": "no", "drugs": "no",
    "force": "yes", "deceived": "no", "pay": "no", "pay_later": "no", "debt": "no", "id_taken": "yes",
    "threats": "yes", "confined": "no", "sex": "no",
}
CHILD = {**{k: "no" for k in ANSWERS}, "safe_now": "yes", "in_mexico": "yes", "in_us": None, "under_18": "yes",
         "pay": "yes"}
CHILD = {k: v for k, v in CHILD.items() if v}

# English texts that walk the screening to a trafficking referral (force, ID held, threats), in the US.
SCREENED_TRAFFICKING = ["hello", "1", "1", "1", "2", "2", "2", "2", "1", "2", "2", "2", "2", "2", "1", "2", "2", "2"]
LANG_NAMES = {"en": "English", "es": "Spanish"}
CHANNEL_NAMES = {"sms": "SMS", "whatsapp": "WhatsApp"}


# --- the pure module: answers in, an operator's words out ------------------------------------------


def test_the_context_says_what_the_screening_found_in_the_flows_words(fs):
    ctx = hc.build(fs, ANSWERS, ("main.menu",), "en", "sms", [], LANG_NAMES, CHANNEL_NAMES)
    assert (ctx.language, ctx.channel, ctx.place, ctx.safe_to_text, ctx.danger) == (
        "English", "SMS", "In the US", "Yes", "No")
    assert ctx.outcome == "trafficking_referral" and "trafficking" in ctx.outcome_words
    assert [s.question for s in ctx.indicators] == [
        "Has anyone made you work or do things you did not want to do, by force or threats?",
        "Who has your passport or ID now?",
        "To make you work or stay, has anyone threatened you or your family, or threatened to call immigration on you?",
    ]
    assert ctx.indicators[1].answer == "My boss, or who brought me"
    assert ctx.steps[0].flow == "Screening" and ctx.steps[0].question == "Is it safe for you to text right now?"
    assert ctx.risks == ["Priority: screening suggests trafficking"]
    assert ctx.asked_from == "Main menu"
    assert hc.build(fs, {"safe_now": "yes"}, ("screening.under_18",)).asked_from == "Screening: Are you under 18?"
    # Words, not node ids or flags, and no "Question 2 of 13." counters.
    words = " ".join([ctx.outcome_words, ctx.place] + [f"{s.flow} {s.question} {s.answer}" for s in ctx.steps])
    for internal in ("held_for_ransom", "id_taken", "paid_to_cross", "screening.", "Question 2 of"):
        assert internal not in words


def test_a_child_referral_is_a_priority_of_its_own(fs):
    ctx = hc.build(fs, CHILD)
    assert ctx.outcome == "child_referral" and ctx.place == "In Mexico"
    assert ctx.risks == ["Priority: screening suggests a child"]
    assert "Are you under 18?" in [s.question for s in ctx.indicators]


def test_what_the_bot_was_not_told_says_not_asked(fs):
    ctx = hc.build(fs, {}, ("main.menu",), "es", "whatsapp", [], LANG_NAMES, CHANNEL_NAMES)
    assert (ctx.language, ctx.channel) == ("Spanish", "WhatsApp")
    assert (ctx.place, ctx.safe_to_text, ctx.outcome_words) == ("Not asked",) * 3
    assert ctx.steps == [] and ctx.indicators == [] and ctx.risks == []


def test_a_screening_left_half_way_has_no_outcome(fs):
    half = {"safe_now": "not_sure", "in_us": "yes", "under_18": "no", "ransom": "no"}
    ctx = hc.build(fs, half)
    assert ctx.outcome == "" and ctx.outcome_words.startswith("Not finished")
    assert [s.answer for s in ctx.steps] == ["Not sure", "In the US", "No", "No"]
    assert ctx.safe_to_text == "Not sure" and ctx.risks == []


def test_the_danger_word_comes_first_among_the_reasons(fs):
    assert hc.risks("trafficking_referral", ["help", "danger"]) == [
        "Priority: used the danger word", "Priority: screening suggests trafficking"]
    assert hc.risks("labour_rights", ["help"]) == []
    assert hc.build(fs, {}, keywords=["danger"]).danger.startswith("Yes")


def test_chat_labels_are_short_stable_and_not_the_number():
    label = chat_label("3f9c0a7e51d24b8e")
    assert re.fullmatch(r"Chat [A-Z0-9]{2}", label) and label == chat_label("3f9c0a7e51d24b8e")
    assert len({chat_label(f"conv{i:04d}") for i in range(40)}) > 30  # tells most cards on a screen apart


# --- the queue, through the service -----------------------------------------------------------------


@pytest.fixture
def rita(rita_on_duty):
    return rita_on_duty


def handoff_key(sender: str) -> str:
    from bot.helpline import contact_id

    return f"hl:{{{contact_id('test-secret', sender)}}}:handoff"


def backdate_asking(redis_client, sender: str, seconds: float) -> None:
    """As if they had asked ``seconds`` ago: the asked record is the hand-off list's first line."""
    first = redis_client.lindex(handoff_key(sender), 0)
    assert transcript.read(first)["k"] == transcript.ASKED
    redis_client.lset(handoff_key(sender), 0, transcript.record(transcript.ASKED, time.time() - seconds))


def test_risky_people_come_first_then_the_longest_waiting(console_app, rita, redis_client):
    person = console_app.test_client()
    text(person, "hola", "+15550001101")
    text(person, "PERSONA", "+15550001101")  # asks first, no risk
    text(person, "hola", "+15550001102")
    text(person, "PERSONA", "+15550001102")  # asks second, then uses the danger word
    text(person, "EMERGENCIA", "+15550001102")
    for body in SCREENED_TRAFFICKING:  # screened, then asks last
        text(person, body, "+15550001103")
    text(person, "HUMAN", "+15550001103")
    backdate_asking(redis_client, "+15550001103", 60)  # risky and waiting longest of the two risky ones

    queue = console_app.extensions["ops"].desk.queue()
    assert [w.row.masked for w in queue] == ["··03", "··02", "··01"]
    assert [w.risks for w in queue] == [["Priority: screening suggests trafficking"],
                                        ["Priority: used the danger word"], []]

    page = rita.get("/ops/queue").get_data(as_text=True)
    assert page.index("··03") < page.index("··02") < page.index("··01")
    assert "Priority: screening suggests trafficking" in page and "Priority: used the danger word" in page
    assert "EMERGENCIA" not in page  # what they typed stays out of the queue
    assert "Waiting <span" in page and page.count("Chat ") >= 3


def test_the_wait_counts_from_asking_not_from_the_last_message(console_app, rita):
    person = console_app.test_client()
    text(person, "hola")
    text(person, "PERSONA")
    after_asking = time.time()
    time.sleep(0.05)
    text(person, "sigo aquí")
    [w] = console_app.extensions["ops"].desk.queue()
    # Times are kept to the millisecond: the request may read a hair after the clock read here.
    assert w.asked <= after_asking + 0.001 and after_asking < w.row.t


def test_the_count_leaves_out_people_being_answered(console_app, rita, redis_client):
    person = console_app.test_client()
    for sender in ("+15550001101", "+15550001102", "+15550001103"):
        text(person, "hola", sender)
        text(person, "PERSONA", sender)
    [first, *_] = console_app.extensions["ops"].desk.queue()
    assert post_form(rita, f"/ops/handoff/{first.row.conv}/claim").status_code == 302
    page = rita.get("/ops/queue").get_data(as_text=True)
    assert re.search(r'id="queue-count">2<', page)
    assert "1 being answered" in page and "Being answered" in page


def test_past_the_limit_a_card_says_waiting_too_long(make_console, redis_client):
    app = make_console(OPS_WAIT_LIMIT_MINUTES=2)
    rita = app.test_client()
    sign_in(rita, "rita")
    post_form(rita, "/ops/duty", {"on": "1"})
    person = app.test_client()
    for sender in ("+15550001101", "+15550001102"):
        text(person, "hola", sender)
        text(person, "PERSONA", sender)
    backdate_asking(redis_client, "+15550001101", 3 * 60)
    page = rita.get("/ops/queue").get_data(as_text=True)
    cards = re.findall(r'<li class="card[^"]*"[^>]*>.*?</li>', page, re.S)
    late = next(c for c in cards if "··01" in c)
    fresh = next(c for c in cards if "··02" in c)
    assert "overdue" in late.split(">")[0] and "Waiting too long</strong>" in late and "3 min" in late
    assert "overdue" not in fresh.split(">")[0] and re.search(r"overdue-label\"\s+hidden", fresh)
    assert 'data-limit="120"' in page


def test_the_wait_limit_comes_from_the_environment(monkeypatch, tmp_path):
    from bot.config import Config

    monkeypatch.setenv("OPS_WAIT_LIMIT_MINUTES", "9")
    assert Config().OPS_WAIT_LIMIT_MINUTES == 9
    monkeypatch.delenv("OPS_WAIT_LIMIT_MINUTES")
    assert Config().OPS_WAIT_LIMIT_MINUTES == 5


def test_salir_erases_when_they_asked(console_app, rita, redis_client):
    person = console_app.test_client()
    text(person, "hola")
    text(person, "PERSONA")
    assert redis_client.exists(handoff_key("+15550001142"))
    text(person, "SALIR")
    assert not redis_client.exists(handoff_key("+15550001142"))
    assert console_app.extensions["ops"].desk.queue() == []


def test_the_hand_off_page_shows_what_the_bot_knows_before_and_after_answering(console_app, rita):
    person = console_app.test_client()
    for body in SCREENED_TRAFFICKING:
        text(person, body)
    text(person, "HUMAN")
    text(person, "my boss has my passport")
    [w] = console_app.extensions["ops"].desk.queue()
    for claimed in (False, True):
        page = rita.get(f"/ops/handoff/{w.row.conv}").get_data(as_text=True)
        assert "What the bot knows" in page and "In the US" in page and "Signs of trafficking" in page
        assert "Who has your passport or ID now?" in page and "My boss, or who brought me" in page
        assert "Screening: Is it safe for you to text right now?" in page
        assert "Asked from</dt><dd>Main menu" in page
        panel = page[page.index('class="context-panel"'):page.index("</section>", page.index('class="context-panel"'))]
        assert "my boss has my passport" not in panel and "id_taken" not in panel
        if not claimed:
            assert post_form(rita, f"/ops/handoff/{w.row.conv}/claim").status_code == 302


def test_a_danger_word_before_asking_counts_too(fs, console_app, rita):
    person = console_app.test_client()
    text(person, "hola", "+15550001101")
    text(person, "PERSONA", "+15550001101")
    text(person, "hola", "+15550001102")
    text(person, "AUXILIO", "+15550001102")  # the bot shows the emergency numbers, then they ask for a person
    text(person, "PERSONA", "+15550001102")
    queue = console_app.extensions["ops"].desk.queue()
    assert [(w.row.masked, w.risks) for w in queue] == [("··02", ["Priority: used the danger word"]), ("··01", [])]
    assert hc.build(fs, {"used_danger_word": "yes"}).danger.startswith("Yes")
