"""The engine with the real flows: first contact, menus, misses, recoveries.

Tests drive :func:`bot.engine.runner.step` directly with a fixed clock and
fixed ids, keeping the session in memory the way the service keeps it in
Redis (:class:`Chat`). Expected replies are built from the flows (the screen
a reply should lead to), so these tests say *where* a reply takes a person;
the exact wording people read is pinned by the golden transcripts.

Keywords, opt-out and hand-off are in test_engine_keywords.py; odd input and
privacy of events in test_engine_input.py. :class:`Chat` and the ``fs``
fixture live in fixtures_engine.py.
"""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import bot.engine
from bot.engine import events as ev
from bot.engine import render, stateless
from bot.engine.matching import keyword
from bot.engine.model import FlowSet, Translation
from bot.engine.runner import ERASE, SAVE
from bot.engine.session import Session
from bot.engine.text import normalize
from tests.helpers import option

from tests.fixtures_engine import (ADDRESS, HOTLINE, OPT, Chat, emergency, greeting, help_text, menu, prompt, reprompt, say,
                                   started, text_of)


# --- first contact ---------------------------------------------------------------------------

FIRST = [
    ("hola", "es"),
    ("Hola!", "es"),
    ("buenas", "es"),
    ("Buenos días", "es"),
    ("necesito información", "es"),
    ("hi", "en"),
    ("Hello", "en"),
    ("what is this", "en"),
    ("me pueden ayudar?", "es"),  # no hint word: the language model says Spanish
    ("can you help me", "en"),
    ("necesito saber algo", "es"),
    ("her dad wont let her come home for christmas", "en"),  # the language model alone says Spanish
]


@pytest.mark.parametrize("text, lang", FIRST, ids=[repr(t) for t, _ in FIRST])
def test_first_message_greets_in_its_language_then_shows_the_main_menu(fs, text, lang):
    chat = Chat(fs)
    turn = chat.send(text)
    assert turn.replies == [greeting(fs, lang), menu(fs, lang)]
    s = turn.session
    assert (s.state, s.lang, s.position, s.history, s.misses) == ("in_flow", lang, fs.system.main_menu, [], 0)
    assert (s.conv, s.started_at, s.updated_at) == ("conv0001", chat.now, chat.now)
    assert turn.events[0] == ev.Event(ev.STARTED, {"lang": lang})
    assert turn.action == SAVE


@pytest.mark.parametrize("lang, exit_word, other_lang", [("en", "EXIT", "es"), ("es", "SALIR", "en")])
def test_greeting_names_the_exit_word_and_how_to_switch_language(fs, lang, exit_word, other_lang):
    lines = greeting(fs, lang).splitlines()
    # One line of its own says how to end and erase the chat, with a word that does it.
    exit_lines = [line for line in lines if exit_word in line]
    assert len(exit_lines) == 1, lines
    assert keyword(fs.keywords, normalize(exit_word)) == ("quick_exit", None)
    # Another names a word that switches to the other language.
    switch = [w for w in fs.keywords.languages[other_lang] if w.upper() in normalize(greeting(fs, lang)).upper()]
    assert switch, f"the {lang} greeting does not name a word that switches to {other_lang}"
    # A lock-screen preview shows the first line: it must not name trafficking.
    assert not any(w in lines[0].lower() for w in ("traffick", "trata", "explota", "exploit"))


def test_first_message_keyword_help_shows_help_then_greets(fs):
    turn = Chat(fs).send("AYUDA")
    assert turn.replies == [help_text(fs, "es"), greeting(fs, "es"), menu(fs, "es")]
    assert HOTLINE in turn.replies[0]


LANGUAGE_QUESTION = "welcome.language"
# A first text that says nothing of its language: nothing is guessed.
NO_SIGNAL = ["1", "", "😀", "?", "MENU", "ok", "👍👍"]


@pytest.mark.parametrize("text", NO_SIGNAL, ids=[repr(t) for t in NO_SIGNAL])
def test_first_message_with_no_language_gets_a_line_in_every_language_and_the_choice(fs, text):
    turn = Chat(fs).send(text)
    hello = render.in_every_language(fs, "hello_any")
    assert turn.replies == [hello, prompt(fs, LANGUAGE_QUESTION, "en")]
    assert hello.splitlines() == [say(fs, "hello_any", lang) for lang in fs.system.languages]
    assert turn.session.position == LANGUAGE_QUESTION and turn.session.state == "choosing_language"
    chat = Chat(fs, session=turn.session)
    assert chat.send("1").replies == [menu(fs, "es")] and chat.session.lang == "es"  # Spanish is listed first


@pytest.mark.parametrize("text", ["911", " 911 !!", "9-1-1", "9 1 1", "9.1.1", "SOS", "sos!!", "SOS SOS"])
def test_first_message_911_gives_the_emergency_numbers_first_in_every_language(fs, text):
    # The language is not known, and a frightened person must read the numbers
    # at once: the emergency screen in every language, then the choice.
    turn = Chat(fs).send(text)
    assert turn.replies == [emergency(fs, "es"), emergency(fs, "en"), render.in_every_language(fs, "hello_any"),
                            prompt(fs, LANGUAGE_QUESTION, "en")]
    assert "911" in turn.replies[0] and HOTLINE in turn.replies[0]


@pytest.mark.parametrize("text, lang", [("PELIGRO", "es"), ("EMERGENCY", "en"), ("AUXILIO", "es"), ("HELP ME", "en")])
def test_first_message_danger_word_gives_the_emergency_numbers_first(fs, text, lang):
    turn = Chat(fs).send(text)
    assert turn.replies == [emergency(fs, lang), greeting(fs, lang), menu(fs, lang)]


@pytest.mark.parametrize("text, lang", [("ESPAÑOL", "es"), ("espanol", "es"), ("ENGLISH", "en"), ("Inglés", "en")])
def test_first_message_language_word_sets_the_language(fs, text, lang):
    turn = Chat(fs).send(text)
    assert turn.replies == [greeting(fs, lang), menu(fs, lang)]
    assert turn.session.lang == lang


@pytest.mark.parametrize("text", ["BACK", "VOLVER", "START", "YES", "LANGUAGE", "INICIO"])
def test_first_message_navigation_word_just_starts(fs, text):
    turn = Chat(fs).send(text)
    assert turn.replies[-2:] == [greeting(fs, turn.session.lang), menu(fs, turn.session.lang)]
    assert turn.session.position == fs.system.main_menu


def test_first_message_exit_erases_at_once(fs):
    turn = Chat(fs).send("EXIT")
    assert (turn.action, turn.replies, turn.events) == (ERASE, [say(fs, "erased", "en")], [ev.Event(ev.ERASED)])


@pytest.mark.parametrize("on_duty", [False, True], ids=["off duty", "on duty"])
def test_first_message_human_greets_then_asks_for_a_person(fs, on_duty):
    # The greeting (it says how to quit), then the hand-off: the menu is sent
    # once, and only when nobody can take the conversation.
    turn = Chat(fs, on_duty=on_duty).send("HUMAN")
    assert turn.replies[0] == greeting(fs, "en")
    person = fs.node(fs.keywords.gotos["human"])
    if on_duty:
        assert turn.replies[1:] == [fs.translate("en", person.text.msgid)]
        assert turn.session.state == "handed_off"
    else:
        assert turn.replies[1:] == [fs.translate("en", person.unavailable.msgid), menu(fs, "en")]
        assert HOTLINE in turn.replies[1]
        assert turn.session.state == "in_flow"


# Spanish keywords sent as a first text are answered in Spanish: they are
# language hints in flows/system.yaml.
SPANISH_ONLY_WORDS = ["AYUDA", "PELIGRO", "EMERGENCIA", "SALIR", "BORRAR", "PARAR", "BAJA", "PERSONA", "AGENTE",
                      "INICIO", "VOLVER", "ATRÁS", "IDIOMA"]


@pytest.mark.parametrize("word", SPANISH_ONLY_WORDS)
def test_first_message_spanish_keyword_is_answered_in_spanish(fs, word):
    turn = Chat(fs).send(word)
    assert turn.session.lang == "es"


# STOP and EXIT alone read as English (Twilio answers STOP in English), but the
# words beside them tell more: "hola stop" is a Spanish speaker's STOP. The
# same answer when the store is down (bot.engine.stateless). So for any first
# text with a keyword in it: the words beside it say the language.
@pytest.mark.parametrize("text, lang", [("hola stop", "es"), ("buenas noches, stop", "es"), ("stop por favor", "es"),
                                        ("hola exit", "es"), ("stop", "en"), ("please stop", "en"), ("hi salir", "en"),
                                        ("salir", "es"), ("hola", "es"), ("salirrr ya", "es"), ("BORRAR", "es"),
                                        # a first text with danger beside STOP is no stop: the same rule
                                        ("stop, me estan golpeando", "es"), ("hola help", "es"), ("help", "en")])
def test_a_first_stop_or_exit_is_answered_in_the_language_beside_it(fs, text, lang):
    turn = Chat(fs).send(text)
    assert turn.session.lang == lang
    if turn.replies and (turn.opt_out or turn.action == ERASE):
        assert stateless.answer(fs, text).replies == tuple(turn.replies)


# --- menus ------------------------------------------------------------------------------------

PICKS = [
    ("en", OPT["numbers"], "numbers.by_need"),
    ("en", OPT["numbers"] + ".", "numbers.by_need"),
    ("en", "numbers", "numbers.by_need"),
    ("en", "NUMBERS", "numbers.by_need"),
    ("en", OPT["safety"], "safety.menu"),
    ("en", "safe", "safety.menu"),
    ("en", OPT["language"], "welcome.language"),
    ("en", OPT["screening"], "screening.safe"),
    ("en", "what happened to me", "screening.safe"),
    ("en", OPT["difference"], "difference.more"),
    ("en", "difference", "difference.more"),
    ("en", OPT["rights"], "rights.where"),  # where the person is, asked once
    ("en", "rights", "rights.where"),
    ("es", OPT["numbers"], "numbers.by_need"),
    ("es", "números", "numbers.by_need"),
    ("es", "NUMEROS", "numbers.by_need"),
    ("es", "numbers", "numbers.by_need"),  # English labels work in Spanish too
    ("es", OPT["safety"], "safety.menu"),
    ("es", "¿seguro?", "safety.menu"),
    ("es", OPT["language"], "welcome.language"),
    ("es", OPT["screening"], "screening.safe"),
    ("es", "¿qué me pasó?", "screening.safe"),
    ("es", OPT["difference"], "difference.more"),
    ("es", "diferencia", "difference.more"),
    ("es", OPT["rights"], "rights.where"),
    ("es", "derechos", "rights.where"),
]


@pytest.mark.parametrize("lang, text, target", PICKS, ids=[f"{lang}:{text}" for lang, text, _ in PICKS])
def test_main_menu_option_by_number_or_word(fs, lang, text, target):
    chat = started(fs, lang)
    turn = chat.send(text)
    assert turn.replies[-1] == prompt(fs, target, lang)
    assert chat.session.position == target
    assert chat.session.history == [fs.system.main_menu]


def test_safety_option_offers_the_safety_plan_page_by_page(fs):
    chat = started(fs, "en")
    assert chat.send(OPT["safety"]).replies == [prompt(fs, "safety.menu", "en")]
    turn = chat.send("1")  # texting without being seen
    pages = ["safety.tips", "safety.previews"]
    assert turn.replies == [text_of(fs, p, "en") for p in pages] + [prompt(fs, "safety.more", "en")]


def test_talk_to_a_person_off_duty_gives_the_hotline_and_the_menu_again(fs):
    chat = started(fs, "es")
    turn = chat.send(OPT["person"])
    assert turn.replies == [fs.translate("es", fs.node("help.person").unavailable.msgid), menu(fs, "es")]
    assert HOTLINE in turn.replies[0]
    assert chat.session.state == "in_flow"


@pytest.fixture(scope="module")
def directory_options(fs):
    node = fs.node("numbers.by_need")
    return [(i, option.goto) for i, option in enumerate(node.options, 1)]


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_directory_option_gives_its_numbers_then_what_next(fs, lang, directory_options):
    assert len(directory_options) >= 5
    for number, target in directory_options:
        chat = started(fs, lang)
        chat.send(OPT["numbers"])
        turn = chat.send(str(number))
        entries = [fs.hotlines[e] for e in fs.node(target).entries]
        given = "\n".join(turn.replies[:-1])
        for hotline in entries:
            assert fs.translate(lang, hotline.name.msgid) in given, (target, hotline.id)
            for contact in hotline.contacts:
                assert contact.number in given, (target, hotline.id, contact.number)
        assert turn.replies[-1] == prompt(fs, "numbers.more", lang)
        assert chat.session.position == "numbers.more"


def test_what_next_leads_to_other_numbers_or_the_main_menu(fs):
    chat = started(fs, "en")
    chat.script(OPT["numbers"], option("numbers.exploitation", "numbers.by_need"))
    assert chat.session.position == "numbers.more"
    assert chat.send(option("numbers.by_need", "numbers.more")).replies == [prompt(fs, "numbers.by_need", "en")]
    chat.send(option("numbers.emergency", "numbers.by_need"))
    assert chat.session.position == "numbers.more"
    assert chat.send("main menu").replies == [menu(fs, "en")]


# --- replies the bot does not understand -------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "es"])
def test_unknown_reply_reprompts_then_help_after_the_third_in_a_row(fs, lang):
    chat = started(fs, lang)
    main = fs.system.main_menu
    labels = render.option_labels(fs, fs.node(main), lang)
    for n in (1, 2):
        turn = chat.send("banana")
        assert turn.replies == [reprompt(fs, main, lang)]
        assert all(f"{i}. {label}" in turn.replies[0] for i, label in enumerate(labels, 1))
        assert (chat.session.position, chat.session.misses) == (main, n)
        assert turn.events == [ev.Event(ev.MISSED, {"flow": "main", "node": "menu"})]
    turn = chat.send("banana")
    assert turn.replies == [help_text(fs, lang), menu(fs, lang)]
    assert HOTLINE in turn.replies[0]
    assert (chat.session.position, chat.session.misses) == (main, 0)
    # The count starts over: the fourth miss is a plain re-prompt again.
    assert chat.send("banana").replies == [reprompt(fs, main, lang)]


def test_a_good_answer_resets_the_count_of_misses(fs):
    chat = started(fs, "en")
    chat.script("what", "?")
    chat.send(OPT["numbers"])
    assert chat.session.misses == 0
    turn = chat.send("nope")
    assert turn.replies == [reprompt(fs, "numbers.by_need", "en")]


def test_media_without_text_says_only_text_is_read(fs):
    """A voice note or a picture is not a mistake: a kind line (with the number
    to call), then the question again, and it is not counted as a miss."""
    chat = started(fs, "es")
    for _ in range(3):  # never the help text that three misses bring
        turn = chat.send("", media=2)
        assert turn.replies == [say(fs, "media_only", "es"), render.prompt(fs, fs.node(fs.system.main_menu), "es")]
        assert "1-888-373-7888" in turn.replies[0]
        assert chat.session.misses == 0


def test_media_in_a_hand_off_says_only_text_is_read(fs):
    """Waiting for a person: a voice note would go unheard (operators read text), so the bot says so."""
    chat = Chat(fs, on_duty=True)
    chat.send("hola")
    chat.send("PERSONA")
    assert chat.session.state == "handed_off"
    turn = chat.send("", media=1)
    assert turn.replies == [say(fs, "media_only", "es")] and turn.transcript == []
    assert chat.session.state == "handed_off"
    assert chat.send("hola otra vez").replies == [], "text goes to the operator, as before"


def test_media_with_text_reads_the_text(fs):
    chat = started(fs, "en")
    chat.send(OPT["numbers"], media=1)
    assert chat.session.position == "numbers.by_need"


# --- sessions the flows no longer fit -----------------------------------------------------------

STALE = [
    ("in_flow", "gone.node"),
    ("in_flow", "main.gone"),
    ("in_flow", "numbers.exploitation"),  # exists, but is not a question any more
    ("choosing_language", "welcome.gone"),
]


@pytest.mark.parametrize("state, position", STALE, ids=[p for _, p in STALE])
@pytest.mark.parametrize("lang", ["en", "es"])
def test_session_at_a_node_that_no_longer_exists_gets_an_apology_and_the_main_menu(fs, state, position, lang):
    flow, _, node = position.partition(".")
    session = Session(cid="c1", address=ADDRESS, state=state, lang=lang, conv="k", flow=flow, node=node,
                      history=["main.menu", "gone.too"], misses=2)
    chat = Chat(fs, session=session)
    turn = chat.send("1")
    assert turn.replies == [say(fs, "recovered", lang), menu(fs, lang)]
    assert len(turn.replies[0].splitlines()) == 1  # one line of apology
    assert ev.Event(ev.RECOVERED) in turn.events
    s = chat.session
    assert (s.state, s.position, s.history, s.misses) == ("in_flow", fs.system.main_menu, [], 0)
    # From there on, it is an ordinary conversation.
    chat.send(OPT["numbers"])
    assert chat.session.position == "numbers.by_need"


def test_help_at_a_stale_node_still_gives_the_hotline(fs):
    session = Session(cid="c1", state="in_flow", lang="es", conv="k", flow="gone", node="node")
    turn = Chat(fs, session=session).send("AYUDA")
    assert turn.replies == [help_text(fs, "es"), say(fs, "recovered", "es"), menu(fs, "es")]


def test_back_skips_history_entries_that_no_longer_exist(fs):
    session = Session(cid="c1", state="in_flow", conv="k", flow="numbers", node="more",
                      history=["numbers.by_need", "gone.node", "numbers.exploitation"])
    chat = Chat(fs, session=session)
    assert chat.send("BACK").replies == [prompt(fs, "numbers.by_need", "en")]
    assert chat.session.history == []


def test_back_with_only_stale_history_goes_to_the_main_menu(fs):
    session = Session(cid="c1", state="in_flow", conv="k", flow="numbers", node="more", history=["gone.node"])
    chat = Chat(fs, session=session)
    assert chat.send("BACK").replies == [menu(fs, "en")]


def test_a_closed_conversation_reopens_at_the_main_menu(fs):
    session = Session(cid="c1", state="closed", lang="es", conv="k", flow="numbers", node="more")
    chat = Chat(fs, session=session)
    turn = chat.send("hola")
    assert turn.replies == [menu(fs, "es")]
    assert ev.Event(ev.REOPENED) in turn.events
    assert (chat.session.state, chat.session.position) == ("in_flow", fs.system.main_menu)


@pytest.mark.parametrize("first, line, lang", [("no me manden nada", "opted_out", "es"), ("borren", "erased", "es"),
                                               ("stop texting me", "opted_out", "en")])
def test_a_first_text_that_stops_or_erases_in_words_is_answered_in_their_language(fs, first, line, lang):
    # The phrase read says the language when no hint word does ("borren" is none).
    assert Chat(fs).send(first).replies == [say(fs, line, lang)]


def test_thanks_gets_a_short_answer_not_the_menu_and_the_next_text_opens_it_again(fs):
    chat = Chat(fs)
    chat.send("hola")
    turn = chat.send("ok gracias")
    thanks = render.prompt(fs, fs.node("help.thanks"), "es")
    assert turn.replies == [thanks]  # not "Perdón, no entendí" and the whole menu
    assert chat.session.state == "closed"
    assert chat.send("gracias").replies == [thanks]  # thanked again: the same short answer
    assert chat.send("hola").replies == [menu(fs, "es")]
    turn = chat.send("gracias, mi patron no me paga")  # not the whole message: the page on pay
    visited = [f"{e.data['flow']}.{e.data['node']}" for e in turn.events if e.kind == ev.VISITED]
    assert "rights.pay_here" in visited and "help.thanks" not in visited


# --- the engine is a function -----------------------------------------------------------------------

SCRIPT = ["hola", "1", "2", "xx", "ENGLISH", "BACK", "911", "HELP", "3", "4", "2", "MENU", "STOP", "hi", "START"]


def test_the_same_inputs_give_the_same_turns(fs):
    def run():
        chat = Chat(fs)
        return [(t.action, t.replies, t.events, t.session, t.opt_out) for t in map(chat.send, SCRIPT)]

    assert run() == run()


def test_the_clock_comes_from_the_context(fs):
    chat = Chat(fs)
    chat.send("hola")
    first = chat.now
    chat.send("1")
    assert (chat.session.started_at, chat.session.updated_at) == (first, chat.now)


@pytest.mark.parametrize("name", sorted(m.name for m in pkgutil.iter_modules(bot.engine.__path__)))
def test_engine_docstring_examples(name):
    module = importlib.import_module(f"bot.engine.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


@pytest.mark.parametrize("on_duty", [False, True], ids=["off duty", "on duty"])
def test_asking_for_a_person_at_a_removed_node_still_asks_for_a_person(fs, on_duty):
    chat = Chat(fs, on_duty=on_duty)
    chat.send("hi")
    chat.session.flow, chat.session.node = "main", "removed"
    turn = chat.send("HUMAN")
    person = fs.node(fs.keywords.gotos["human"])
    assert turn.replies[0] == say(fs, "recovered", "en")
    assert turn.replies[1] == fs.translate("en", (person.text if on_duty else person.unavailable).msgid)
    assert turn.session.state == ("handed_off" if on_duty else "in_flow")


def test_what_is_worked_out_once_per_set_belongs_to_that_set(fs):
    # Option labels are cached on the flow set: a set published later with a
    # new translation must show the new label, and the old set keep its own.
    menu_node = fs.node(fs.system.main_menu)
    first = menu_node.options[0].label.msgid
    before = render.option_labels(fs, menu_node, "es")
    catalogs = {lang: dict(entries) for lang, entries in fs.catalogs.items()}
    catalogs["es"][first] = Translation("Etiqueta nueva", False, catalogs["es"][first].where)
    newer = FlowSet(fs.flows, fs.keywords, fs.system, fs.hotlines, catalogs, version="newer")

    assert render.option_labels(newer, menu_node, "es")[0] == "Etiqueta nueva"
    assert render.option_labels(fs, menu_node, "es") == before != render.option_labels(newer, menu_node, "es")
    assert "Etiqueta nueva" in render.prompt(newer, menu_node, "es")
