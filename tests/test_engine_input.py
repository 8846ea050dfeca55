"""Whatever arrives, the engine answers sensibly and never raises; events leak nothing.

People text from basic phones and broken keyboards; some messages arrive
empty, as a photo, or with bytes that were never text. The table says what
each should lead to at three points of a conversation; a property test then
throws arbitrary Unicode (lone surrogates included) at the engine.

Events go to a stream operators and figures read: they must never carry what
a person wrote, nor their number.
"""
from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.engine import events as ev
from bot.engine import render, transcript
from tests.fixtures_engine import (
    ADDRESS,
    Chat,
    greeting,
    menu,
    prompt,
    reprompt,
    say,
    started,
)

MAIN = "main.menu"
LANGUAGE_QUESTION = "welcome.language"
FIRST = "main:1"  # the question main menu option 1 leads to (read from the flows)
SECOND = "main:2"

# label, text, what it does at the main menu: a node it leads to, "main:<n>"
# for where main menu option n leads, "reprompt", or one of those per language
BAD_INPUT = [
    ("empty", "", "reprompt"),
    ("spaces", "   ", "reprompt"),
    ("line breaks", "\n\n\r\n", "reprompt"),
    ("control characters", "\x00\x07\x1b\x7f", "reprompt"),
    ("10,000 characters", "x" * 10_000, "reprompt"),
    ("10,000 characters of words", "the rain in the valley " * 435, "reprompt"),
    ("a number then 10,000 characters", "1 " + "a" * 9_998, FIRST),  # "2 please" picks 2
    ("one emoji", "😀", "reprompt"),
    ("500 emoji", "🙏" * 500, "reprompt"),
    ("emoji with skin tone and joiner", "👩🏽\u200d🌾", "reprompt"),
    ("lone high surrogate", "\ud800", "reprompt"),
    ("lone low surrogate and text", "\udfff qwerty", "reprompt"),
    ("surrogate inside a number", "\ud8001", FIRST),
    ("right-to-left marks only", "\u200f\u200e", "reprompt"),
    ("right-to-left override around a number", "\u202e1\u202c", FIRST),
    ("zero-width characters only", "\u200b\u200c\u200d\ufeff", "reprompt"),
    ("zero-width around a number", "\u200b1\u200b", FIRST),
    ("null after a number", "1\x00", FIRST),
    ("full-width digit", "２", SECOND),
    ("combining marks only", "\u0301\u0301\u0301", "reprompt"),
    ("private use", "\ue000\U000f0000", "reprompt"),
    ("unassigned code point", "\U000e0080", "reprompt"),
    ("Arabic", "مرحبا", "reprompt"),
    ("Chinese", "你好", "reprompt"),
    ("format placeholders", "{number} {0} %s %(x)s {{", "reprompt"),
    ("TwiML", "<Response><Message>hi</Message></Response>", "reprompt"),
    ("SQL-ish", "1; DROP TABLE sessions", FIRST),
    ("a huge number", "9" * 400, "reprompt"),
]
IDS = [row[0] for row in BAD_INPUT]


@pytest.mark.parametrize("label, text, at_menu", BAD_INPUT, ids=IDS)
def test_bad_input_as_a_first_message_still_greets(fs, label, text, at_menu):
    # In its language when it has one; else a line in every language and the
    # language question (nothing is guessed).
    turn = Chat(fs).send(text)
    lang = turn.session.lang
    if turn.session.position == LANGUAGE_QUESTION:
        assert turn.replies == [render.in_every_language(fs, "hello_any"), prompt(fs, LANGUAGE_QUESTION, lang)]
    else:
        assert turn.replies == [greeting(fs, lang), menu(fs, lang)]


@pytest.mark.parametrize("label, text, at_menu", BAD_INPUT, ids=IDS)
@pytest.mark.parametrize("lang", ["en", "es"])
def test_bad_input_at_the_main_menu(fs, label, text, at_menu, lang):
    if isinstance(at_menu, dict):
        at_menu = at_menu[lang]
    if at_menu.startswith("main:"):
        at_menu = landing(fs, fs.node(MAIN).options[int(at_menu[5:]) - 1].goto)
    chat = started(fs, lang)
    turn = chat.send(text)
    if at_menu == "reprompt":
        assert turn.replies == [reprompt(fs, MAIN, lang)]
        assert chat.session.position == MAIN
    else:
        assert turn.replies[-1] == prompt(fs, at_menu, lang)
        assert chat.session.position == at_menu


def landing(fs, target: str) -> str:
    """The question a goto reaches, passing the messages on the way (as a person sees it)."""
    node = fs.node(target)
    while not node.waits:
        assert node.kind in ("message", "directory"), target
        target = node.next
        node = fs.node(target)
    return target


@pytest.mark.parametrize("label, text, at_menu", BAD_INPUT, ids=IDS)
def test_bad_input_during_a_hand_off_is_passed_on_cleaned(fs, label, text, at_menu):
    chat = started(fs, "en", on_duty=True)
    chat.send("HUMAN")
    turn = chat.send(text)
    assert turn.replies == []
    for line in turn.transcript:
        kept = transcript.text_of(line)  # kept with the time it came (a record)
        kept.encode("utf-8")  # the operator's console can show it
        assert kept.strip() and not re.search(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\ufeff]", kept)


@pytest.mark.parametrize("label, text, at_menu", BAD_INPUT, ids=IDS)
def test_bad_input_while_opted_out_stays_silent(fs, label, text, at_menu):
    chat = started(fs, "es")
    chat.send("BAJA")
    assert chat.send(text).replies == []


@pytest.mark.parametrize("media", [1, 3, 10])
def test_media_only_first_message_greets(fs, media):
    # A picture says nothing of the language: a line in every language, then the choice.
    turn = Chat(fs).send("", media=media)
    assert turn.replies == [render.in_every_language(fs, "hello_any"), prompt(fs, LANGUAGE_QUESTION, "en")]


def waiting_nodes():
    from bot.published_flows import load
    from tests.fixtures_engine import REPO

    flows, _ = load(str(REPO / "flows"), str(REPO / "locales"))
    return sorted(f"{f.id}.{n.id}" for f in flows.flows.values() for n in f.nodes if n.waits)


@pytest.mark.parametrize("position, lang", [(p, lang) for p in waiting_nodes() for lang in ("en", "es")])
def test_media_only_at_any_question_is_answered_kindly_within_budget(fs, position, lang):
    """A picture or voice note anywhere: the kind line, then the question again, each within budget."""
    flow, _, node = position.partition(".")
    state = "choosing_language" if fs.node(position).kind == "language" else "in_flow"
    chat = Chat(fs)
    s = chat.session
    s.state, s.lang, s.conv, s.flow, s.node = state, lang, "k", flow, node
    turn = chat.send("", media=1)  # Chat.send checks the reply fits 3 segments
    assert turn.replies[0] == say(fs, "media_only", lang)
    assert "\n1. " in turn.replies[1]
    assert chat.session.position == position and chat.session.misses == 0


# --- arbitrary text ------------------------------------------------------------------------------

ANY_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=300)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=ANY_TEXT, second=ANY_TEXT, media=st.integers(min_value=0, max_value=10))
def test_any_text_gets_an_answer_and_never_raises(fs, first, second, media):
    chat = Chat(fs)  # Chat.send checks every reply can be sent and fits the budget
    turn = chat.send(first, media=media)
    if turn.action != "erase" and not turn.opt_out:
        assert turn.replies, "a first message always gets an answer"
    turn = chat.send(second)
    if chat.session.state not in ("opted_out", "handed_off"):
        assert turn.replies, "a subscribed person always gets an answer"


# --- events carry no text and no number ------------------------------------------------------------

SCRIPT = [
    "hola soy maría, mi número es +15550001111",
    "1",
    "zqx-mark-1 my boss keeps my passport",
    "2",
    "ENGLISH",
    "zqx-mark-2",
    "BACK",
    "911",
    "AYUDA",
    "zqx-mark-3 😀",
    "3",
    "HUMAN",
    "zqx-mark-4 he says I owe him 5000 dollars",
    "\ud800zqx-mark-5",
    "MENU",
    "4",
    "zqx-mark-6",
    "2",
    "IDIOMA",
    "ESPAÑOL",
    "x" * 5000 + "zqx-mark-7",
    "PARAR",
    "zqx-mark-8 hola?",
    "ALTA",
    "SALIR",
    "zqx-mark-9",
    "STOP",
    "START",
]

KEYS = {"lang", "flow", "node", "intent", "outcome", "on_duty", "by",
        "to"}  # `understood`: the meaning's intent and place (danger + screening.intro), never the words


@pytest.mark.parametrize("on_duty", [False, True], ids=["off duty", "on duty"])
def test_no_event_carries_message_text_or_the_address(fs, on_duty):
    chat = Chat(fs, on_duty=on_duty)
    events = [e for text in SCRIPT for e in chat.send(text).events]
    assert len(events) > 40
    kinds = {v for k, v in vars(ev).items() if k.isupper() and isinstance(v, str)}
    intents = set(fs.keywords.intents) | {"switch_language"}
    for e in events:
        assert e.kind in kinds, e
        assert set(e.data) <= KEYS, e
        for key, value in e.data.items():
            assert isinstance(value, str) and len(value) <= 40, e
            assert "zqx" not in value and "5550001111" not in value and ADDRESS not in value, e
        # Every value is one the flows define: nothing a person typed can get in.
        if "lang" in e.data:
            assert e.data["lang"] in fs.system.languages
        if "flow" in e.data:
            assert fs.node(f"{e.data['flow']}.{e.data['node']}") is not None, e
        if "intent" in e.data:
            assert e.data["intent"] in intents
        if "on_duty" in e.data:
            assert e.data["on_duty"] in ("yes", "no")
    # The texts did reach the operator while handed off, and only then.
    passed_on = [w for turn in chat.turns for w in map(transcript.text_of, turn.transcript) if w is not None]
    if on_duty:
        assert passed_on == ["zqx-mark-4 he says I owe him 5000 dollars", "zqx-mark-5"]
    else:
        assert passed_on == []
