"""Understanding people as they write: the behaviours of issue-sized importance, one test each.

The corpus (test_understanding_corpus.py) measures how often; these pin what
must hold, with the real flows: a first message that names a situation goes
straight there; the way out works with politeness around it and never on a
sentence that merely contains the word; "my boss is here" gets one line;
yes / no / not sure in people's words; misses only when nothing is
understood; the explanation staff see; nothing of what people write is kept.
"""
from __future__ import annotations

import functools
import gc
import importlib
import pkgutil

import pytest

import bot
from bot.engine import events as ev
from bot.engine import language
from bot.engine.matching import read_keyword
from bot.engine.text import normalize
from bot.engine.understanding import Lexicon
from tests.helpers import inbound, post_signed
from tests.fixtures_engine import (
    OPT,
    Chat,
    emergency,
    greeting,
    help_text,
    menu,
    prompt,
    reprompt,
    say,
    started,
    text_of,
)


def at_question(fs, lang: str) -> Chat:
    chat = started(fs, lang)
    chat.script(OPT["screening"], "1", "1")
    assert chat.session.position == "screening.under_18"
    return chat


# --- first messages -------------------------------------------------------------------------

SITUATIONS = [
    # (what they wrote, its language, the place it leads, the node they see there)
    ("hola, trabajo en un rancho en texas y el patrón no me paga desde hace semanas", "es", "rights.pay_here",
     "rights.where"),
    ("Me quitaron mi pasaporte", "es", "rights.documents_here", "rights.where"),
    ("Mi patrón no me paga", "es", "rights.pay_here", "rights.where"),
    ("my boss took my passport", "en", "rights.documents_here", "rights.where"),
    ("they make me have sex for money", "en", "screening.intro", "screening.intro"),
    ("soy menor de edad", "es", "numbers.child", "numbers.child_lines"),
    ("I want to know my rights", "en", "rights.place", "rights.where"),
    ("necesito un número", "es", "numbers.by_need", "numbers.by_need"),
]


@pytest.mark.parametrize("text, lang, place, shown", SITUATIONS, ids=[t for t, *_ in SITUATIONS])
def test_a_first_message_that_names_a_situation_goes_straight_there(fs, text, lang, place, shown):
    # The greeting first (one line of hello, one for EXIT), in the language of the text, then the place
    # (for rights, the question of where the person is: the pages differ by country).
    turn = Chat(fs).send(text)
    assert turn.session.lang == lang
    assert turn.replies[0] == greeting(fs, lang)
    node = fs.node(shown)
    expected = prompt(fs, shown, lang) if node.waits else text_of(fs, shown, lang)
    assert turn.replies[1] == expected or turn.replies[1].startswith(expected)
    assert ev.Event(ev.UNDERSTOOD, {"to": place}) in turn.events


def where_option(fs, node: str, flag: str) -> str:
    """The number of the option of the `node` menu that says the person is at ``flag`` (in_us, in_mexico)."""
    return next(str(i) for i, o in enumerate(fs.node(node).options, 1) if flag in o.sets)


@pytest.mark.parametrize("lang", ["es", "en"])
def test_free_text_about_pay_never_gives_the_us_page_to_someone_in_mexico(fs, lang):
    """The rights pages follow the place: asked when nobody said it, kept when they did."""
    unpaid = {"es": "mi patrón no me paga", "en": "my boss is not paying me"}[lang]
    us_pay = text_of(fs, "rights.work", lang)
    # Nobody said where: the question first, then Mexico's own rights.
    chat = Chat(fs)
    chat.send(unpaid)
    turn = chat.send(where_option(fs, "rights.where", "in_mexico"))
    assert chat.session.position == "rights.menu_mexico"
    assert us_pay not in turn.replies and not any("7.25" in r for r in turn.replies)
    # Said in the screening (US): straight to the US pay page.
    chat = started(fs, lang)
    chat.script(OPT["screening"], "1", where_option(fs, "screening.where", "in_us"), "menu")
    turn = chat.send(unpaid)
    assert us_pay in turn.replies


PLACES_SAID_IN_PASSING = [
    ("estoy en tijuana y mi patron no me paga", "es", "in_mexico", "rights.menu_mexico"),
    ("ya no estoy en mexico, estoy en houston, no me pagan", "es", "in_us", "rights.more"),
    ("im in texas and my boss is not paying me", "en", "in_us", "rights.more"),
]


@pytest.mark.parametrize("text, lang, flag, shown", PLACES_SAID_IN_PASSING, ids=[t for t, *_ in PLACES_SAID_IN_PASSING])
def test_a_place_said_in_passing_is_where_the_pages_fit(fs, text, lang, flag, shown):
    # understanding.yaml `saying_where:`: "Where are you now?" was asked of someone who had just said it,
    # in a first text and later at the main menu alike.
    for chat in (Chat(fs), started(fs, lang)):
        chat.send(text)
        assert chat.session.flags.get(flag) == "yes" and chat.session.position == shown


@pytest.mark.parametrize("text", ["vengo de honduras y mi patron no me paga", "no estoy en mexico y no me pagan",
                                  "estoy en tijuana, vivo en san diego, no me pagan"])
def test_a_place_not_said_as_where_they_are_now_is_asked(fs, text):
    chat = Chat(fs)
    chat.send(text)
    assert chat.session.position == "rights.where_pay"
    assert not {"in_us", "in_mexico", "elsewhere"} & set(chat.session.flags)


def test_a_child_who_says_they_are_in_mexico_gets_mexicos_line_first(fs):
    # The children's page had opened with two US lines (Childhelp, ORR) for a 15-year-old in Tijuana.
    turn = Chat(fs).send("tengo 15 años y estoy en tijuana, un señor me quiere llevar a trabajar al otro lado")
    assert "800 5533 000" in turn.replies[1]
    assert not any("1-800-422-4453" in r or "1-800-203-7001" in r for r in turn.replies)
    assert any("1-800-422-4453" in r for r in Chat(fs).send("tengo 15 años, un señor me quiere llevar a trabajar").replies)


@pytest.mark.parametrize("text, lang", [("me pueden ayudar?", "es"), ("can you help me", "en"), ("hola", "es")])
def test_a_first_message_with_nothing_to_place_gets_the_menu_in_its_language(fs, text, lang):
    turn = Chat(fs).send(text)
    assert turn.replies == [greeting(fs, lang), menu(fs, lang)]


@pytest.mark.parametrize("text, lang", [("me tienen encerrada", "es"), ("they locked me in", "en")])
def test_locked_in_as_a_first_text_gets_the_numbers_then_the_questions(fs, text, lang):
    turn = Chat(fs).send(text)
    assert turn.replies[:2] == [emergency(fs, lang), greeting(fs, lang)]
    assert turn.replies[2] == text_of(fs, "screening.intro", lang)
    assert turn.session.flow == "screening"


def test_the_language_of_a_first_message_is_found_without_hint_words(fs):
    for text, lang in [("Me quitaron pasaporte", "es"), ("took passport", "en"),
                       ("me duele la cabeza", "es"), ("need something quick", "en")]:
        assert not set(normalize(text).split()) & set().union(*fs.system.language_hints.values()), text
        assert language.detect(fs.system, text).lang == lang, text


@pytest.mark.parametrize("text", ["911", "?", "😀", "ok", "", "👍🏽👍🏽"])
def test_no_signal_of_a_language_is_never_a_guess(fs, text):
    assert language.detect(fs.system, text).lang is None


def test_hint_words_win_over_the_model(fs):
    # "ayuda" is a Spanish hint word: it decides, whatever the model thinks of the rest.
    found = language.detect(fs.system, "ayuda my boss")
    assert found.lang in fs.system.language_hints and "hint word" in found.how


def test_the_detector_is_built_once_per_set_of_languages():
    language.detector.cache_clear()
    first = language.detector(("en", "es"))
    assert language.detector(("en", "es")) is first
    assert language.detector(("en", "es", "eo")) is not first
    assert language.detector(("en",)) is None  # one language: nothing to tell apart
    assert language.detector(("en", "xx")) is None  # a code lingua does not know counts for nothing


# --- the way out, the alarm, someone near -----------------------------------------------------------

EXITS = ["salir por favor", "SALIR YA", "ya salir", "EXIT!!!", "exit now", "borrar todo", "Salir, por favor!!",
         "borra la conversación", "exittt", "slair", "salir yaaa", "borra tooodo", "EXIT PLSSS"]
NOT_EXITS = ["no puedo salir de la casa", "I can't exit the building", "quiero salir de este trabajo",
             "how do I delete my messages", "sale", "salida", "exito", "edit"]


@pytest.mark.parametrize("text", EXITS)
def test_exit_with_politeness_or_urgency_around_it_erases_at_once(fs, text):
    chat = started(fs, "es")
    turn = chat.send(text)
    assert turn.action == "erase" and turn.replies == [say(fs, "erased", "es")]


@pytest.mark.parametrize("text, action", [
    ("mi patron revisa el cel cada noche asi q borra todo", "erase"), ("he reads my texts so delete this", "erase"),
    ("mi esposo lee todo entonces ya no me escriban", "opt_out"), ("my boss reads our texts so stop texting me", "opt_out"),
    # a story after them is none, nor a question, nor a keyword alone
    ("mi patron borra todo asi que no tengo pruebas", "save"), ("he deletes everything so i have no proof", "save"),
    ("mi patron revisa el cel asi que borra todo?", "save"), ("im so tired so stop", "save"),
])
def test_a_request_after_so_is_a_last_clause_of_its_own(fs, text, action):
    # understanding.yaml `request_openers`: "así que", "so" begin the last clause, as a comma would.
    chat = started(fs, "es")
    turn = chat.send(text)
    assert ("opt_out" if turn.opt_out else turn.action) == action


@pytest.mark.parametrize("text, action", [
    ("quisiera que borren todo lo que les escribi", "erase"), ("mejor borren todo lo q platicamos", "erase"),
    ("nvm erase all this, cant risk it", "erase"), ("i need you to delete this", "erase"),
    ("mejor ya no me escriban", "opt_out"), ("mi esposo lee todo, mejor ya no me escriban", "opt_out"),
    # a lead turned around, or not at the clause's start, or before no request, is none
    ("no quiero que borren nada", "save"), ("mi patron quiere que borre todo lo que tengo", "save"),
    ("mejor no borren nada", "save"), ("mejor salir de aqui", "save"), ("quisiera que borren todo?", "save"),
])
def test_a_request_after_a_lead_is_that_request(fs, text, action):
    # understanding.yaml `request_leads`: "quisiera que", "mejor", "nvm" open a request without changing it.
    chat = started(fs, "es")
    turn = chat.send(text)
    assert ("opt_out" if turn.opt_out else turn.action) == action


@pytest.mark.parametrize("text", ["borra todo, no espera", "borra todo no espera", "erase everything no wait",
                                  "delete this, wait", "delete this i changed my mind", "stop texting me, never mind",
                                  "nvm just delete it, no wait"])
def test_a_request_taken_back_is_none(fs, text):
    # understanding.yaml `take_backs`: the words after a request that take it back.
    chat = started(fs, "es")
    turn = chat.send(text)
    assert turn.action == "save" and not turn.opt_out


@pytest.mark.parametrize("text", ["borrar el chat es seguro?", "cerrar chat, es lo mismo que salir?"])
def test_a_question_about_erasing_does_not_erase(fs, text):
    chat = started(fs, "es")
    assert chat.send(text).action == "save"


@pytest.mark.parametrize("text", NOT_EXITS)
def test_a_sentence_that_merely_contains_the_word_does_not_erase(fs, text):
    chat = started(fs, "es")
    turn = chat.send(text)
    assert turn.action == "save"
    assert read_keyword(fs, normalize(text))[0] is None


def test_not_free_to_leave_is_danger_and_the_screening(fs):
    chat = started(fs, "es")
    turn = chat.send("no puedo salir de la casa")
    assert turn.replies[0] == emergency(fs, "es")
    assert turn.replies[1] == text_of(fs, "screening.intro", "es")
    assert chat.session.flow == "screening"


@pytest.mark.parametrize("text, lang", [("AUXILIO", "es"), ("socorro", "es"), ("AYÚDENME", "es"), ("HELP ME", "en"),
                                        ("me van a matar", "es"), ("auxilio, me quieren matar", "es"),
                                        ("he is going to kill me", "en")])
def test_cries_for_help_are_danger_words(fs, text, lang):
    chat = at_question(fs, lang)
    turn = chat.send(text)
    assert turn.replies == [emergency(fs, lang), prompt(fs, "screening.under_18", lang)]
    assert chat.session.position == "screening.under_18" and chat.session.misses == 0


@pytest.mark.parametrize("text", ["no estoy en peligro", "nadie me va a matar", "i'm not in danger",
                                  "vivo en socorro texas"])
def test_a_danger_phrase_turned_around_is_no_alarm(fs, text):
    chat = started(fs, "es")
    turn = chat.send(text)
    assert emergency(fs, "es") not in turn.replies and emergency(fs, "en") not in turn.replies


# A phrase written with `...` ("mi esposo ... me pega") lets up to three words come there.
WITH_WORDS_BETWEEN = [
    ("mi esposo a veces me pega", "numbers.violence", "2 words between"),
    ("my manager keeps all of my tips", "rights.pay_here", "3 words between"),
    ("el patrón se quedó con todos nuestros papeles", "rights.documents_here", "2 words between"),
    ("nos tienen a todos encerrados en la bodega", "danger+screening.intro", "2 words between"),
    # "me" comes twice: the phrase is found at the second
    ("mi suegra y mi marido me gritan y me empujan", "numbers.violence", "3 words between"),
]


@pytest.mark.parametrize("text, place, how", WITH_WORDS_BETWEEN, ids=[t for t, *_ in WITH_WORDS_BETWEEN])
def test_a_phrase_is_found_with_a_few_words_between_where_it_says_so(fs, text, place, how):
    turn = Chat(fs).send(text)
    assert ev.Event(ev.UNDERSTOOD, {"to": place}) in turn.events
    assert how in str(turn.readings[1])


@pytest.mark.parametrize("text", [
    "mi esposo nunca me pega",  # a not-word between turns it around
    "my husband is good, he never hits me",
    "they took us to the place with the best tips",  # more than three words between
])
def test_words_between_are_no_more_than_three_and_never_a_no(fs, text):
    turn = Chat(fs).send(text)
    assert not [e for e in turn.events if e.kind == ev.UNDERSTOOD]
    assert turn.replies[-1] == menu(fs, turn.session.lang)


@pytest.mark.parametrize("text, place", [
    ("no sé, me pagan muy poco", "rights.pay_here"),
    ("No. Me quitaron el pasaporte", "rights.documents_here"),
    ("nobody helps us\nthe boss keeps our ids", "rights.documents_here"),
])
def test_a_not_word_does_not_reach_past_the_end_of_its_clause(fs, text, place):
    turn = Chat(fs).send(text)
    assert ev.Event(ev.UNDERSTOOD, {"to": place}) in turn.events, turn.readings


@pytest.mark.parametrize("text", ["no sé me pagan muy poco", "No sé\u200b me pagan muy poco"])
def test_a_not_word_in_the_same_clause_still_turns_a_phrase_around(fs, text):
    turn = Chat(fs).send(text)
    assert ev.Event(ev.UNDERSTOOD, {"to": "rights.pay_here"}) not in turn.events, turn.readings


def test_a_word_of_the_phrases_is_not_read_as_a_typo_of_another(fs):
    # "reportar" is in the phrases itself; one letter from "deportar", it is not that word.
    turn = Chat(fs).send("quiero reportar un caso de trata en mi colonia")
    assert ev.Event(ev.UNDERSTOOD, {"to": "numbers.exploitation"}) in turn.events, turn.readings
    assert "typo" not in str(turn.readings)


# Words said in passing that a first wording of the day's phrases took for a situation
# (a review found them): none is placed now.
IN_PASSING = [
    "I locked my keys inside the car",  # not "locked ... inside"
    "should I keep my door locked at night?",
    "no puedo pagar la renta",  # not "no ... pagado"
    "how many hours does the bus take to Houston",
    "me duele la espalda, algo pasa con mi cuerpo",
    "trabajo en amazon llevando paquetes",
    "I made it to work late",
    "my cousin was right behind me when we crossed",  # a story, not "someone near"
]


@pytest.mark.parametrize("text", IN_PASSING)
def test_words_said_in_passing_are_not_a_situation(fs, text):
    turn = Chat(fs).send(text)
    assert not [e for e in turn.events if e.kind == ev.UNDERSTOOD], turn.readings
    assert emergency(fs, turn.session.lang) not in turn.replies


# Short forms (understanding.yaml `short_forms`) are read as the word they stand for.
@pytest.mark.parametrize("text, place, form", [
    ("tengo miedo q mi patron vea q les escribo", "safety.tips", "q = que"),
    ("my bf takes all my money", "numbers.violence", "bf = boyfriend"),
])
def test_short_forms_are_read_as_the_word_they_stand_for(fs, text, place, form):
    turn = Chat(fs).send(text)
    assert ev.Event(ev.UNDERSTOOD, {"to": place}) in turn.events
    assert form in str(turn.readings[1])


def test_an_erase_with_a_short_form_around_it_erases(fs):
    turn = started(fs, "es").send("salir x favor")  # "por favor"
    assert turn.action == "erase" and turn.replies == [say(fs, "erased", "es")]


@pytest.mark.parametrize("text, lang", [("mi patrón está aquí", "es"), ("my boss is here", "en"),
                                        ("ahí viene mi patrón", "es")])
def test_my_boss_is_here_gets_one_safe_line_and_no_menu(fs, text, lang):
    for chat in (started(fs, lang), at_question(fs, lang)):
        where = chat.session.position
        turn = chat.send(text)
        assert turn.replies == [say(fs, "watched", lang)]
        assert chat.session.position == where and chat.session.misses == 0
    assert "EXIT" in say(fs, "watched", "en") and "SALIR" in say(fs, "watched", "es")


def test_my_boss_is_here_as_a_first_text(fs):
    turn = Chat(fs).send("mi patrón está aquí")
    assert turn.replies == [say(fs, "watched", "es")]


# --- answers, numbers, misses -----------------------------------------------------------------------

ANSWERS = [("simón", "yes"), ("sip", "yes"), ("ajá", "yes"), ("claro que sí", "yes"), ("siii", "yes"),
           ("sí, me obligan a trabajar", "yes"), ("nel", "no"), ("nunca", "no"), ("no gracias", "no"),
           ("ni idea", "not_sure"), ("quién sabe", "not_sure"), ("puede ser", "not_sure"),
           ("más o menos", "not_sure"), ("no estoy segura", "not_sure"), ("dunno", "not_sure"),
           ("no idea", "not_sure"), ("i'm not sure", "not_sure"), ("uno", "yes"), ("dos", "no"),
           ("two", "no"), ("la tercera", "not_sure"), ("no estoy sgura", "not_sure")]


@pytest.mark.parametrize("text, answer", ANSWERS, ids=[t for t, _ in ANSWERS])
def test_answers_in_peoples_words(fs, text, answer):
    chat = at_question(fs, "es")
    chat.send(text)
    assert chat.session.flags["under_18"] == answer


@pytest.mark.parametrize("text, lang, answer", [("nah not really", "en", "no"), ("sí, claro que sí", "es", "yes"),
                                                  ("nel, nunca", "es", "no")])
def test_an_answer_said_two_ways_is_that_answer(fs, text, lang, answer):
    chat = at_question(fs, lang)
    turn = chat.send(text)
    assert chat.session.flags["under_18"] == answer
    assert "said two ways" in str(turn.readings[-1])


def at(fs, lang: str, place: str) -> Chat:
    """A chat at a question of the screening, reached by answering no (and yes where no ends it)."""
    chat = started(fs, lang)
    chat.send(OPT["screening"])
    for _ in range(20):
        if chat.session.position == place:
            return chat
        chat.send("1" if chat.session.position in ("screening.safe", "screening.where") else "2")
    raise AssertionError(f"{place} not reached")


@pytest.mark.parametrize("place, text, answer", [
    ("screening.safe", "sí puedo", "yes"), ("screening.safe", "no puedo", "no"),
    ("screening.confined", "no puedo salir", "yes"), ("screening.confined", "nadie", "no"),
    ("screening.pay", "no me pagan", "yes"), ("screening.debt", "no, no tengo", "no"),
    ("screening.debt", "ya no debo", "no"), ("screening.forced", "nobody", "no"),
    ("screening.debt", "si debo, pero no borres nada porfa", "yes"),  # "sí," in its words, then more: as "sí, ..."
])
def test_an_answer_in_the_questions_own_words_is_read_there(fs, place, text, answer):
    # understanding.yaml `answers_at:`: "no puedo" says no to "¿Puede escribir?", and
    # "no puedo salir" yes to "¿Alguien le impide salir?"; before, both were asked again.
    chat = at(fs, "es", place)
    turn = chat.send(text)
    question = fs.node(place)
    assert chat.session.flags[question.flag] == answer
    assert any("understanding.yaml" in str(r) for r in turn.readings), turn.readings  # said where it is written


@pytest.mark.parametrize("place, text", [
    ("screening.safe", "no puedo escribir"),  # one letter from "puedo escribir": someone near, never "safe"
    ("screening.forced", "nadie, solo mi patrón"), ("screening.pay_later", "sigo trabajando, pero sí me pagan"),
    ("screening.pay", "¿nada?"), ("screening.forced", "me obligan? no, yo quiero trabajar"),
    ("screening.debt", "si le debo, ¿me pueden deportar?"),
])
def test_own_words_count_only_as_the_whole_reply_never_with_a_typo_more_words_or_a_question(fs, place, text):
    # What came after them said the opposite, or the reply asked: asked again (a review found each of these recorded).
    chat = at(fs, "es", place)
    chat.send(text)
    assert fs.node(place).flag not in chat.session.flags


def test_an_answer_in_one_questions_words_is_no_answer_at_another(fs):
    chat = at(fs, "es", "screening.debt")
    chat.send("no puedo")  # "¿Tiene una deuda?" "No puedo": not an answer to this one
    assert "debt" not in chat.session.flags and chat.session.position == "screening.debt"


def test_two_different_answers_are_no_answer(fs):
    chat = at_question(fs, "es")
    chat.send("no, a veces")
    assert "under_18" not in chat.session.flags


@pytest.mark.parametrize("text, answer", [("si y ahorita me estan pegando", "yes"), ("yes and he keeps my passport", "yes"),
                                          ("si pero poquito", "yes"), ("sí y no", None), ("yes and no", None)])
def test_an_answer_before_and_or_but_is_that_answer(fs, text, answer):
    # People text without commas: "si y ..." is "sí, y ..."; "sí y no" is two answers, so neither.
    chat = at_question(fs, "es")
    chat.send(text)
    assert chat.session.flags.get("under_18") == answer


def test_an_answer_beside_danger_is_kept_and_raises_the_alarm(fs):
    chat = at_question(fs, "es")
    turn = chat.send("si y ahorita me estan pegando")
    assert chat.session.flags["under_18"] == "yes"
    assert "911" in turn.replies[0]  # the emergency numbers first, then the next question
    assert turn.replies[-1].startswith("Pregunta 2 de")


@pytest.mark.parametrize("text", ["no, nunca me pagan", "no me pagan nada"])
def test_a_no_that_opens_a_longer_reply_is_not_taken_for_an_answer(fs, text):
    # "¿Le pagan muy poco o nada?" "No, nunca me pagan" means yes: ask again rather than guess.
    chat = at_question(fs, "es")
    chat.send(text)
    assert "under_18" not in chat.session.flags and chat.session.misses == 0


@pytest.mark.parametrize("text, lang", [("no porque ya le pague todo", "es"), ("no pq ya pague", "es"),
                                        ("no because i paid it all", "en")])
def test_a_no_with_its_reason_and_no_comma_is_asked_again_as_one_with_a_comma(fs, text, lang):
    # "no porque ..." got "Sorry, I did not understand", where "no, porque ..." is asked
    # again gently: the reason is heard, the answer checked (the no may turn around).
    chat = at_question(fs, lang)
    turn = chat.send(text)
    assert turn.replies == [reprompt(fs, "screening.under_18", lang, "reprompt_unsure")]
    assert chat.session.misses == 0


def test_a_reply_asked_again_says_why_never_that_it_was_not_understood_when_it_was(fs):
    # "Sorry, I did not understand" would be untrue, and cold, after "my boss does not pay me".
    chat = at_question(fs, "es")
    told = chat.send("mi patron no me paga")
    assert told.replies == [reprompt(fs, "screening.under_18", "es", "reprompt_told")]
    assert told.replies[0].startswith("Gracias por contarnos.")
    unsure = chat.send("no, nunca me pagan")  # also a place, but first an answer that may mean two things
    assert unsure.replies == [reprompt(fs, "screening.under_18", "es", "reprompt_unsure")]
    missed = chat.send("asdf qwerty")
    assert missed.replies == [reprompt(fs, "screening.under_18", "es")]
    assert len({told.replies[0], unsure.replies[0], missed.replies[0]}) == 3
    # At a menu, something told leads there: no re-prompt to word.
    assert started(fs, "es").send("mi patron no me paga").replies[-1] == prompt(fs, "rights.where", "es")


@pytest.mark.parametrize("text", ["2 hijos", "3 semanas aqui", "1 vez"])
def test_a_number_said_as_an_amount_picks_no_option(fs, text):
    chat = started(fs, "es")
    chat.send(text)
    assert chat.session.position == "main.menu"


UNDER_18 = [
    # (reply, its language, what it records at "Are you under 18?"; None: nothing, asked again)
    # A number with small words after it answers.
    ("3 no se", "es", "not_sure"), ("1 si", "es", "yes"), ("2 por favor", "es", "no"), ("2", "es", "no"),
    ("1 de una vez", "es", "yes"), ("1 1", "es", "yes"), ("1 3 semanas", "es", "yes"),
    # A number said as an amount does not, after around words or in a few words too.
    ("3 meses sin pagarme", "es", None), ("1 año trabajando aki", "es", None), ("2 kids back home", "en", None),
    ("3 30pm", "en", None), ("2 de mis compañeros", "es", None), ("ok 2 months no pay", "en", None),
    ("pues 3 meses sin pago", "es", None), ("2 an hour", "en", None),
    # An age answers.
    ("tengo 16", "es", "yes"), ("im 17 years old", "en", "yes"), ("pues tengo 17 años", "es", "yes"),
    ("soy alto pero tengo 15", "es", "yes"), ("cumplo 18 el 3 de mayo", "es", "yes"),
    ("end of the month i turn 18", "en", "yes"), ("de hoy en 8 cumplo 18", "es", "yes"), ("si tengo 16", "es", "yes"),
    ("tengo 34 años", "es", "no"), ("im 31", "en", "no"), ("no, tengo 20", "es", "no"), ("hoy cumplo 18", "es", "no"),
    ("i turn 18 today", "en", "no"),
    # The writer's own age only, and one that agrees with the answer beside it.
    ("tengo 12 años trabajando aqui", "es", None), ("tengo 2 hijos", "es", None), ("mi hija tiene 14", "es", None),
    ("es mi hija, 16 años", "es", None), ("tengo 2 hijos, 16 y 14 años", "es", None),
    ("cumplo 16 años trabajando para el", "es", None), ("este año cumplo 15 años de vivir aqui", "es", None),
    ("sí, tengo 20", "es", None), ("2 tengo 16", "es", None),
    # "no" before an age may turn it around: "no tengo 18" (not yet?) and "no tengo 15" are asked again.
    ("no tengo 18", "es", None), ("no tengo 15", "es", None),
    # An answer word, then the age (a review found these asked again); nobody under 18 says "no tengo 30".
    ("no im 24", "en", "no"), ("nah im 19", "en", "no"), ("no i am 24", "en", "no"), ("no tengo 30", "es", "no"),
    ("no tengo 20 años", "es", "no"),
    # A number alone that is no option is an age (a review: "17" was not understood); years spent are not.
    ("17", "en", "yes"), ("25", "es", "no"), ("i said im 17", "en", "yes"), ("15 years here", "en", None),
    # Not yet 18, in the question's own words.
    ("no tengo ni 18", "es", "yes"), ("todavia no tengo 18", "es", "yes"), ("not 18 yet", "en", "yes"),
    ("im not even 18", "en", "yes"),
]


@pytest.mark.parametrize("text, lang, answer", UNDER_18, ids=[t for t, *_ in UNDER_18])
def test_what_a_reply_records_at_are_you_under_18(fs, text, lang, answer):
    chat = at_question(fs, lang)
    chat.send(text)
    assert chat.session.flags.get("under_18") == answer


def test_an_age_answers_only_a_question_that_asks_for_one(fs):
    chat = started(fs, "es")
    chat.script(OPT["screening"], "1", "1", "no")  # under 18: no; now at "held for ransom?"
    where = chat.session.position
    chat.send("tengo 16")
    assert chat.session.position == where and "ransom" not in chat.session.flags


@pytest.mark.parametrize("text", ["tengo 15 y me estan pegando", "tengo 15 años sos", "si tengo 15 años peligro",
                                  "si tengo 15 sos", "si, tengo 16 ayudenme"])
def test_an_age_with_danger_after_it_answers_and_shows_the_numbers(fs, text):
    chat = at_question(fs, "es")
    turn = chat.send(text)
    assert chat.session.flags["under_18"] == "yes"
    assert turn.replies[0] == emergency(fs, "es")


@pytest.mark.parametrize("text, flow", [("4 pero no es emergencia", "numbers"), ("2, nomas quiero saber", "difference")])
def test_a_number_that_opens_a_longer_reply_picks_its_option(fs, text, flow):
    chat = started(fs, "es")
    chat.send(text)
    assert chat.session.flow == flow


@pytest.mark.parametrize("text, lang", [("1 ya llego mi esposo", "es"), ("1 gotta go", "en"), ("2 me tengo que ir", "es"),
                                        ("tengo 16 y ahi viene", "es"), ("tengo 16 ya llego", "es"),
                                        ("im 16 gotta go", "en"), ("si, tengo 16 ya llego", "es"),
                                        ("yes, im 16 gotta go", "en")])
def test_someone_near_after_a_number_or_an_age_without_a_comma_gets_the_one_line(fs, text, lang):
    chat = at_question(fs, lang)
    turn = chat.send(text)
    assert turn.replies == [say(fs, "watched", lang)]
    assert "under_18" not in chat.session.flags


@pytest.mark.parametrize("text, flag", [("1 emergencia", "yes"), ("2 sos", "no"), ("1 911", None)])
def test_a_danger_word_after_a_number_shows_the_numbers_first(fs, text, flag):
    chat = at_question(fs, "es")
    turn = chat.send(text)
    assert turn.replies[0] == emergency(fs, "es")
    assert chat.session.flags.get("under_18") == flag


@pytest.mark.parametrize("text, action", [("1 borra todo", "erase"), ("2 salir ya", "erase"), ("1 delete this", "erase"),
                                          ("2 no me escriban mas", "stop"), ("2 stop texting me", "stop")])
def test_a_way_out_after_a_number_wins(fs, text, action):
    for chat in (started(fs, "es"), at_question(fs, "es")):
        turn = chat.send(text)
        if action == "erase":
            assert turn.action == "erase" and turn.replies == [say(fs, "erased", "es")]
        else:
            assert turn.opt_out is True


@pytest.mark.parametrize("text", ["1 salir", "2 Baja", "1 stop"])
def test_a_keyword_alone_after_a_number_is_no_way_out(fs, text):
    # "1 salir" answers "¿Alguien le impide salir?"; "2 Baja" is Baja California.
    chat = at_question(fs, "es")
    turn = chat.send(text)
    assert turn.action != "erase" and turn.opt_out is None


@pytest.mark.parametrize("text, lang, action", [("no borra todo", "es", "erase"), ("sí bórralo ya", "es", "erase"),
                                                ("nel porfa borra todo", "es", "erase"),
                                                ("si por favor bórralo", "es", "erase"),
                                                ("no bórralo porque mi esposo lo ve", "es", "erase"),
                                                ("yes delete this now my husband is coming", "en", "erase"),
                                                ("nope erase everything", "en", "erase"),
                                                ("nah stop texting me", "en", "stop")])
def test_a_way_out_after_a_yes_or_a_no_wins(fs, text, lang, action):
    # At "Is it safe to text now?" above all: "no borra todo" is "no, borra todo" without its comma.
    for chat in (started(fs, lang), at_question(fs, lang)):
        turn = chat.send(text)
        if action == "erase":
            assert turn.action == "erase" and turn.replies == [say(fs, "erased", lang)]
        else:
            assert turn.opt_out is True


# From a review of the rule: a "no" that turns the request around, words that negate ("never", "nunca") or are
# "and" ("y"), learner English ("no delete" for "don't delete"), what someone else does ("sí, borra mis mensajes":
# he deletes them), a plea ("yes please remove me"), and a question.
@pytest.mark.parametrize("text, lang", [("no borre nada", "es"), ("no borren todo", "es"), ("no quiero borrar todo", "es"),
                                        ("no para de escribirme", "es"), ("si borra todo?", "es"),
                                        ("nunca borra los mensajes", "es"), ("y borra todo", "es"),
                                        ("si borra el chat mi patron", "es"), ("si borra mis mensajes", "es"),
                                        ("no borra todo mi historial mi esposo", "es"),
                                        ("never delete this", "en"), ("never stop texting me", "en"),
                                        ("no delete my messages", "en"), ("no remove my number", "en"),
                                        ("no stop texting me", "en"), ("yes please remove me", "en"),
                                        ("no please dont delete this", "en"), ("yes stop", "en"), ("no delete", "en")])
def test_a_no_that_turns_the_request_around_or_a_question_is_no_way_out(fs, text, lang):
    # After "no", only words it cannot turn around open the request ("bórralo", not "borre": "no borre" is "don't").
    chat = at_question(fs, lang)
    turn = chat.send(text)
    assert turn.action != "erase" and turn.opt_out is None


@pytest.mark.parametrize("text", ["tengo 15 sos", "si 911", "si peligro"])
def test_a_danger_word_that_ends_a_short_reply_shows_the_numbers(fs, text):
    turn = at_question(fs, "es").send(text)
    assert turn.replies[0] == emergency(fs, "es")


@pytest.mark.parametrize("text, lang, flow", [("me obligan a trabajar SOS", "es", "screening"),
                                              ("me obligan a trabajar en el campo SOS!!", "es", "screening"),
                                              ("tengo 15 años, sos porfa", "es", "numbers"),
                                              ("my boss took my passport. sos", "en", "rights")])
def test_a_cry_that_ends_a_message_shows_the_numbers_before_its_page(fs, text, lang, flow):
    chat = started(fs, lang)
    turn = chat.send(text)
    assert turn.replies[0] == emergency(fs, lang)
    assert chat.session.flow == flow


@pytest.mark.parametrize("text", ["me obligan a trabajar en un lugar de peligro", "me da miedo llamar al 911",
                                  "necesito un abogado ayudeme por favor", "hay retenes de la migra que peligro",
                                  "abogado sos?", "el abogado es de aqui, vos sos", "necesito un abogado, vos de donde sos",
                                  "no me pagan, el celular dice solo SOS", "no me pagan. atte. Socorro"])
def test_a_danger_word_that_may_be_part_of_the_sentence_is_no_cry(fs, text):
    turn = started(fs, "es").send(text)
    assert emergency(fs, "es") not in turn.replies


@pytest.mark.parametrize("text, lang", [("tengo 16, y ahi viene", "es"), ("si, pero ya llego mi esposo", "es"),
                                        ("yes, and he just got home", "en"), ("mi patron no me paga. ahi viene", "es")])
def test_a_warning_in_a_clause_of_its_own_wins(fs, text, lang):
    for chat in (started(fs, lang), at_question(fs, lang)):
        assert chat.send(text).replies == [say(fs, "watched", lang)]


def test_a_question_asked_at_a_question_is_neither_thanked_for_nor_not_understood(fs):
    chat = at_question(fs, "es")
    turn = chat.send("quien lee esto?")
    assert turn.replies == [reprompt(fs, "screening.under_18", "es", "reprompt_asked")]


def test_a_number_picked_beside_danger_shows_the_numbers_first(fs):
    chat = started(fs, "es")
    turn = chat.send("2 me estan pegando")
    assert turn.replies[0] == emergency(fs, "es")
    assert chat.session.flow == "difference"


def test_a_number_answered_beside_someone_coming_gets_the_one_line(fs):
    chat = at_question(fs, "es")
    turn = chat.send("1 ya viene")
    assert turn.replies == [say(fs, "watched", "es")]
    assert "under_18" not in chat.session.flags and chat.session.position == "screening.under_18"


@pytest.mark.parametrize("text, target", [("dos", "difference"), ("la tercera", "rights"), ("two", "difference"),
                                          ("numeros de ayda", "numbers"), ("the third one", "rights")])
def test_menu_options_in_words_and_with_typos(fs, text, target):
    chat = started(fs, "es")
    chat.send(text)
    assert chat.session.flow == target


def test_three_misses_lead_to_help_only_when_nothing_is_understood(fs):
    chat = at_question(fs, "es")
    # Understood, even if not an answer: no miss, no help screen.
    for text in ("mi patrón está aquí", "me van a matar", "no me pagan"):
        chat.send(text)
    assert chat.session.misses == 0
    turns = [chat.send("asdf qwerty") for _ in range(3)]
    assert turns[0].replies == [reprompt(fs, "screening.under_18", "es")]
    assert turns[2].replies == [help_text(fs, "es"), prompt(fs, "screening.under_18", "es")]


# --- explaining ---------------------------------------------------------------------------------------


def test_the_turn_says_why_and_where_the_phrase_is_written(fs):
    turn = Chat(fs).send("Me quitaron mi pasaporte")
    said = [str(r) for r in turn.readings]
    assert said[0].startswith("language: es")
    assert "meaning: rights.documents_here" in said[1] and "understanding.yaml:" in said[1]


def test_flask_chat_explain_shows_why(app):
    with app.app_context():  # as `flask` runs it
        result = app.test_cli_runner().invoke(args=["chat", "--explain", "--no-segments"],
                                              input="Mi patrón no me paga\n1\n")  # then: in the US
    assert result.exit_code == 0, result.output
    assert "why: language: es" in result.output
    assert "why: meaning: rights.pay_here, from `no me paga` (es), at flows/understanding.yaml:" in result.output
    assert "Sueldo no pagado" in result.output


@pytest.mark.slow
def test_the_console_simulator_shows_why(make_console):
    from tests.fixtures_console import post_form, sign_in

    client = make_console().test_client()
    sign_in(client, "vic")
    page = post_form(client, "/ops/simulator/send", {"text": "me quitaron mi pasaporte"}, follow_redirects=True).text
    assert "Why: meaning: rights.documents_here, from `me quitaron mi pasaporte` (es)" in page


# --- privacy ----------------------------------------------------------------------------------------------

MARKER = "zorroplateado"


LRU_CACHE = type(functools.lru_cache()(lambda: None))  # what functools.lru_cache returns


def test_nothing_caches_what_people_write(fs, client):
    # No memo keyed by text: normalize is a plain function now.
    assert not hasattr(normalize, "cache_info")
    # The process-wide caches of the bot's modules are keyed by other things.
    for info in pkgutil.walk_packages(bot.__path__, "bot."):
        importlib.import_module(info.name)
    cached = sorted(f"{obj.__module__}.{obj.__qualname__}" for obj in gc.get_objects()
                    if isinstance(obj, LRU_CACHE) and getattr(obj, "__module__", "").startswith("bot"))
    assert cached == [
        "bot.channels.twilio._twiml",  # the bot's own replies
        "bot.engine.language.detector",  # the service's language codes
        "bot.engine.loader._read_schema",  # flows/schema.json, and its check
        "bot.engine.matching._label_words",  # the words of a menu's labels, the flows' own text
        "bot.published_flows._checked",  # the flow files staff wrote, and their check
    ], cached
    # And what a flow set works out once is keyed by the bot's own words, never by a message.
    post_signed(client, "/twilio/messages", inbound(f"hola {MARKER} no me pagan"))
    post_signed(client, "/twilio/messages", inbound(f"{MARKER} sí"))
    live = client.application.extensions["content"]()
    assert MARKER not in repr(list(live._derived))
    assert not any(MARKER in repr(k) for k in Lexicon.of(live).__dict__)


def test_events_say_what_was_understood_never_the_words(client, redis_client):
    from tests.helpers import stream_events

    post_signed(client, "/twilio/messages", inbound(f"{MARKER}: me quitaron mi pasaporte"))
    found = stream_events(redis_client)
    assert {"kind": "understood", "to": "rights.documents_here"}.items() <= next(
        e for e in found if e.get("kind") == "understood").items()
    assert MARKER not in repr(found) and "pasaporte" not in repr(found)
    assert MARKER not in repr(redis_client.xrange("hl:events"))


@pytest.mark.parametrize("text, lang", [("no entiendo la pregunta", "es"), ("I don't understand", "en")])
def test_saying_you_do_not_understand_gets_the_help_at_once(fs, text, lang):
    chat = at_question(fs, lang)
    turn = chat.send(text)
    assert turn.replies == [help_text(fs, lang), prompt(fs, "screening.under_18", lang)]
    assert chat.session.misses == 0


# CONTENT.md section 8, "Typed answers people use (accept them)": the floor.
CONTENT_8 = {
    "yes": ["simón", "sip", "ajá", "así es", "claro que sí", "creo que sí", "i think so"],
    "no": ["nel", "nunca", "creo que no"],
    "not_sure": ["ni idea", "quién sabe", "puede ser", "más o menos", "no estoy seguro", "no estoy segura",
                 "dunno", "no idea", "i'm not sure", "kind of"],
}


@pytest.mark.parametrize("answer, word", [(a, w) for a, ws in CONTENT_8.items() for w in ws])
def test_the_typed_answers_of_the_content_brief_are_understood(fs, answer, word):
    for lang in ("es", "en"):
        chat = at_question(fs, lang)
        chat.send(word)
        assert chat.session.flags["under_18"] == answer, (word, lang)


@pytest.mark.parametrize("lang, text, flag", [
    ("es", "en el otro lado", "in_us"),  # Mexican Spanish for the US: it had picked "En otro lugar" by its "otro"
    ("es", "aca en estados unidos", "in_us"), ("es", "estoy en houston", "in_us"), ("es", "en texas", "in_us"),
    ("es", "estoy en nuevo mexico", "in_us"), ("es", "tijuana", "in_mexico"),
    ("es", "estoy en baja california", "in_mexico"),  # the longest name: not "california"
    ("es", "en otro lado", "elsewhere"), ("es", "en guatemala", "elsewhere"),
    ("en", "the united states", "in_us"), ("en", "im in new mexico", "in_us"),
    ("en", "im in juarez across from el paso", "in_mexico"),  # "El Paso" alone is no name: "el paso", the crossing
    ("en", "ohio", "in_us"), ("en", "im in tx", "in_us"), ("en", "in us", "in_us"),
])
def test_a_place_named_in_other_words_answers_where_are_you(fs, lang, text, flag):
    # understanding.yaml `option_words:`: each was "Sorry, I did not understand", or the wrong place.
    for menu_at in ("screening.where", "rights.where_pay"):
        chat = started(fs, lang)
        if menu_at == "screening.where":
            chat.script(OPT["screening"], "1")
        else:
            chat.send("mi patrón no me paga" if lang == "es" else "my boss is not paying me")
        assert chat.session.position == menu_at
        turn = chat.send(text)
        assert chat.session.flags.get(flag) == "yes" and chat.session.position != menu_at
        assert any("understanding.yaml" in str(r) for r in turn.readings), turn.readings


@pytest.mark.parametrize("text, flag", [
    # An adversarial review: where they go, or came through, is named too. Where they say they are settles it.
    ("soy de mexico pero estoy en texas", "in_us"), ("estoy en tijuana esperando pasar para el otro lado", "in_mexico"),
    ("cruzamos por nogales sonora, ahora estamos en tucson", "in_us"),
    ("no me pagan y estoy en texas", "in_us"),  # "no" before the place stopped the reading
])
def test_two_places_named_where_they_say_they_are_answers(fs, text, flag):
    chat = started(fs, "es")
    chat.script(OPT["screening"], "1")
    chat.send(text)
    assert chat.session.position != "screening.where"
    assert {"in_us", "in_mexico", "elsewhere"} & set(chat.session.flags) == {flag}


@pytest.mark.parametrize("text", [
    "no estoy en texas", "estoy en tijuana, vivo en san diego",
    # An adversarial review: where they go, or came through, is named too; "us" is a pronoun.
    "cruzamos por nogales sonora hacia tucson", "they brought us to a house near the border",
])
def test_a_place_after_a_no_or_two_places_is_asked_again(fs, text):
    chat = started(fs, "es")
    chat.script(OPT["screening"], "1")
    chat.send(text)
    assert chat.session.position == "screening.where"
    assert not {"in_us", "in_mexico", "elsewhere"} & set(chat.session.flags)


@pytest.mark.parametrize("text", [
    "si no pagan me van a matar", "dicen que si no pagamos nos matan", "tengo miedo me pueden matar",
    "if i dont pay they might kill me",
])
def test_a_threat_to_kill_with_an_if_not_is_danger(fs, text):
    # The "no" of "si no pagan" had turned "me van a matar" around: "Perdón, no entendí".
    lang = "en" if text.startswith("if") else "es"
    turn = started(fs, lang).send(text)
    assert turn.replies[0] == emergency(fs, lang)


@pytest.mark.parametrize("text, place", [
    ("me van a deportar si llamo", "safety.privacy"),  # was the screening: a boss's threat
    ("si llamo a ese numero me pueden deportar?", "safety.privacy"),
    # A woman made to sell sex by her partner had only the domestic-violence line.
    ("mi novio me obliga a estar con hombres por dinero y dice que si lo dejo le hace algo a mi hija", "screening.intro"),
    # A husband who took her passport: the violence page (911 and the hotline), not the passport rights.
    ("estoy escondida en el baño, mi esposo me quito el pasaporte y me pega", "numbers.violence"),
])
def test_what_a_review_found_sent_to_the_wrong_page(fs, text, place):
    turn = started(fs, "es").send(text)
    assert ev.Event(ev.UNDERSTOOD, {"to": place}) in turn.events


# --- what a review playing fourteen English texters found (2026-12-06) ----------------------

@pytest.mark.parametrize("text", [
    "the coyote has me in a house til my family pays",  # was the smuggling explainer, and no 911
    "they gonna kill my mom if i dont do it", "someone help", "somebody help me",
])
def test_held_now_a_threat_to_family_or_a_cry_shows_the_emergency_numbers_first(fs, text):
    turn = at_question(fs, "en").send(text)
    assert turn.replies[0] == emergency(fs, "en")


@pytest.mark.parametrize("text", ["he is reading my phone", "hes looking", "omg hes back"])
def test_someone_near_in_more_words_gets_the_one_line(fs, text):
    assert at_question(fs, "en").send(text).replies == [say(fs, "watched", "en")]


@pytest.mark.parametrize("text", ["exti", "eixt"])
def test_exit_with_two_letters_swapped_erases(fs, text):
    chat = at_question(fs, "en")
    assert read_keyword(chat.fs, normalize(text), text)[0] == "quick_exit"
    assert read_keyword(chat.fs, "edit", "edit")[0] is None  # one letter changed is a word of its own


@pytest.mark.parametrize("text", ["if i call that hotline do they call ice on me?? i dont have papers",
                                  "will they report me to immigration"])
def test_asking_whether_the_line_reports_to_ice_gets_who_sees_what_they_write(fs, text):
    turn = Chat(fs).send(text)  # a first text: it had started the screening (a boss's threat)
    assert ev.Event(ev.UNDERSTOOD, {"to": "safety.privacy"}) in turn.events


@pytest.mark.parametrize("text", ["el patron la tiene", "the coyote has it"])
def test_who_has_the_id_in_other_words_picks_boss_or_who_brought_me(fs, text):
    chat = at(fs, "es", "screening.documents")
    chat.send(text)
    assert chat.session.flags.get("id_taken") == "yes" and chat.session.position == "screening.threats"


@pytest.mark.parametrize("lang, text, place", [
    # What a review playing twelve callers said (speech reads as a text).
    ("es", "la línea contra la trata", "numbers.exploitation"),  # was the smuggling explainer, by its "trata"
    ("en", "the trafficking hotline", "numbers.exploitation"),  # was the screening
    ("es", "deme el número", "numbers.by_need"), ("en", "just give me the hotline number", "numbers.by_need"),
    ("es", "oiga esta llamada la están grabando", "safety.privacy"), ("en", "is this call being recorded", "safety.privacy"),
    ("es", "ustedes le pasan mis datos a migración", "safety.privacy"), ("en", "will this go to ice", "safety.privacy"),
    ("en", "so if i paid a coyote and now i work for him to pay him back is that trafficking", "screening.intro"),
    # And texters: a trip to be worked off, asked about before leaving (was the screening), a relative
    # missing after crossing (was the smuggling page, by "coyote").
    ("es", "el señor dice que el paga el viaje y alla se lo pago trabajando, es confiable eso?", "difference.turns_into"),
    ("es", "mi hermano cruzo por el desierto y no sabemos nada de el, el coyote ya no contesta", "numbers.consulate"),
    ("en", "my brother is missing after crossing", "numbers.consulate"),
])
def test_what_callers_asked_for_in_their_words(fs, lang, text, place):
    turn = Chat(fs).send(text)  # said first (at the main menu, a label's word picks first: "trafficking")
    assert ev.Event(ev.UNDERSTOOD, {"to": place}) in turn.events


@pytest.mark.parametrize("lang, text", [("es", "estamos encerrados"), ("en", "we are locked in")])
def test_locked_in_said_whispered_is_danger_then_the_screening(fs, lang, text):
    turn = Chat(fs).send(text)
    assert turn.replies[0] == emergency(fs, lang) and turn.session.position.startswith("screening.")


@pytest.mark.parametrize("place, lang, text", [
    ("screening.documents", "en", "he says he call la migra on me"),  # had left for the police-stop page
    ("screening.where", "es", "si pagamos 8 mil al coyote"),  # had left for the smuggling page
])
def test_a_story_at_a_menu_that_records_an_answer_keeps_the_screening(fs, place, lang, text):
    # A review: every answer given so far was lost, and no outcome ever shown. As at a yes / no
    # question: thanks, and the question again.
    chat = at(fs, lang, place)
    answered = dict(chat.session.flags)
    turn = chat.send(text)
    assert chat.session.position == place and chat.session.flags == answered
    assert turn.replies[-1] == reprompt(fs, place, lang, "reprompt_told")


def test_the_id_held_and_given_back_is_asked_again(fs):
    chat = at(fs, "en", "screening.documents")
    chat.send("I have it, my boss gave it back")  # two options named: the question again
    assert chat.session.position == "screening.documents" and "id_taken" not in chat.session.flags


@pytest.mark.parametrize("text", [
    "this job is gonna kill my back", "my son is being held by immigration in a detention center",
    "my cousins were locked up by ICE", "my money is missing from my check",
])
def test_what_the_adversarial_review_found_raises_no_alarm_and_goes_nowhere_new(fs, text):
    turn = started(fs, "en").send(text)
    assert emergency(fs, "en") not in turn.replies
    assert ev.Event(ev.UNDERSTOOD, {"to": "numbers.consulate"}) not in turn.events


@pytest.mark.parametrize("text", ["my husband was deported, hes back in honduras and they call me for money",
                                  "he keeps reading my phone every night and took my passport"])
def test_someone_near_in_a_sentence_is_no_warning(fs, text):
    assert started(fs, "en").send(text).replies != [say(fs, "watched", "en")]


# --- what a second round of reviews found (2026-12-06, later) ----------------------------

@pytest.mark.parametrize("text, lang", [
    # A mother whose son is held for ransom had the children's lines, and no 911.
    ("tienen a mi hijo unos hombres en tamaulipas me llaman y me piden 5 mil dolares y si no los mando dicen q lo matan",
     "es"),
    ("me dicen q si no pago matan a mi hijo", "es"),
    # Not let out, in the words English texters used: the plain main menu.
    ("she doesnt let me leave the house", "en"), ("he never lets me leave", "en"), ("im not free to leave", "en"),
    # and what an adversarial review found still missed
    ("my boss doesnt let us leave the house", "en"), ("they dont let us out", "en"), ("van a matar a mi hijo", "es"),
    # Asking to be helped out: "no le entendí" (a review of callers and texters)
    ("ayúdeme a salir de aquí", "es"), ("como salgo de aqui", "es"), ("help me get out", "en"),
    ("the man i work for doesnt let me go out of the house", "en"),
])
def test_a_threat_to_a_relative_or_not_being_let_out_shows_the_emergency_numbers_first(fs, text, lang):
    turn = started(fs, lang).send(text)
    assert turn.replies[0] == emergency(fs, lang)


@pytest.mark.parametrize("text, lang, place", [
    ("si llamo me van a echar a la migra?", "es", "safety.privacy"),  # was the screening, as a boss's threat
    ("es de la migra este numero?", "es", "safety.privacy"),  # was the page on being stopped by police
    ("if i call will they send ice after her", "en", "safety.privacy"),
    ("will the hotline call ice on me", "en", "safety.privacy"),
    ("my boss says if i call he will call ice", "en", "screening.intro"),  # a boss's threat stays one
    ("mi patrona dice que si llamo a alguien me van a echar a la migra", "es", "screening.intro"),
])
def test_asking_whether_a_call_brings_immigration_gets_who_sees_what_they_write(fs, text, lang, place):
    turn = started(fs, lang).send(text)
    assert ev.Event(ev.UNDERSTOOD, {"to": place}) in turn.events


@pytest.mark.parametrize("text, lang, to", [
    ("mi patron no me deja salir y me pega", "es", "danger+screening.intro"),
    ("my boss locked me in", "en", "danger+screening.intro"),
    ("hola necesito ayuda", "es", None),
])
def test_free_text_at_the_language_question_chooses_its_language(fs, text, lang, to):
    # A review: after "911" as a first text (no language said, so the language question), Spanish
    # written instead of a number had the emergency numbers and every question after in English.
    chat = Chat(fs)
    chat.send("911")
    assert chat.session.position == "welcome.language"
    turn = chat.send(text)
    assert chat.session.lang == lang and chat.session.state == "in_flow"
    if to is None:
        assert turn.replies == [menu(fs, lang)]
    else:
        assert turn.replies[0] == emergency(fs, lang)
        assert ev.Event(ev.UNDERSTOOD, {"to": to}) in turn.events


def test_what_says_no_language_at_the_language_question_asks_it_again(fs):
    chat = Chat(fs)
    chat.send("911")
    chat.send("ok")
    assert chat.session.position == "welcome.language"


@pytest.mark.parametrize("text, lang, number", [
    ("my husband pushes me", "en", "1-800-799-7233"),  # had "Thank you for telling us" and nothing more
    ("me da el numero de la linea contra la trata?", "es", "1-888-373-7888"),
])
def test_a_page_of_numbers_named_at_a_question_is_given_there_and_the_question_stays(fs, text, lang, number):
    chat = at_question(fs, lang)
    turn = chat.send(text)
    assert any(number in r for r in turn.replies[:-1])
    assert chat.session.position == "screening.under_18" and "under_18" not in chat.session.flags


@pytest.mark.parametrize("text, lang, flag", [
    ("la señora", "es", "id_taken"), ("mi patrona", "es", "id_taken"), ("the lady i work for", "en", "id_taken"),
    ("my husband has it", "en", "id_other"), ("mi esposo", "es", "id_other"),
])
def test_who_holds_the_passport_in_their_words(fs, text, lang, flag):
    # A review of callers and texters: a domestic worker's "la señora" and a teen's "my uncle" were not understood.
    chat = started(fs, lang)
    chat.send("1")
    for _ in range(20):
        if chat.session.position == "screening.documents":
            break
        chat.send("1" if chat.session.position in ("screening.safe", "screening.where") else "2")
    chat.send(text)
    assert chat.session.flags.get(flag) == "yes" and chat.session.position == "screening.threats"


def test_a_no_in_one_clause_does_not_hide_a_name_in_the_next(fs):
    # "no tengo nada, el coyote me quitó mi partida de nacimiento" had picked "I have none" alone.
    chat = started(fs, "es")
    chat.send("1")
    for _ in range(20):
        if chat.session.position == "screening.documents":
            break
        chat.send("1" if chat.session.position in ("screening.safe", "screening.where") else "2")
    chat.send("no tengo nada, el coyote me quitó mi partida de nacimiento")
    assert chat.session.position == "screening.documents"  # two named: the question again


@pytest.mark.parametrize("text, lang, state", [
    # An adversarial review: a parent, a school, a shelter's curfew; a hospital bill; a relative who brought them.
    ("my mom doesnt let me go out with friends on weekends", "en", "first"),
    ("im not allowed out after curfew at the shelter", "en", "first"),
    ("tienen a mi hijo en el hospital y piden que pague la cuenta", "es", "first"),
])
def test_a_plainly_safe_message_raises_no_alarm(fs, text, lang, state):
    turn = Chat(fs).send(text)
    assert emergency(fs, lang) not in turn.replies


@pytest.mark.parametrize("text, flag", [
    ("we were in tijuana for a month, now my boss in texas wont pay me", None),  # "were in": the past
    ("aqui en mexico no hay trabajo por eso me vine a texas y no me pagan", None),
    ("no se si estoy en texas o en mexico y no me pagan", None),
])
def test_a_place_said_but_not_as_where_they_are_now_records_nothing(fs, text, flag):
    chat = Chat(fs)
    chat.send(text)
    assert not {"in_us", "in_mexico", "elsewhere"} & set(chat.session.flags)


def test_a_no_before_a_page_of_numbers_at_a_question_still_gives_the_numbers(fs):
    # An adversarial review: "no, pero mi esposo me golpea" had only "Para no equivocarnos" back.
    chat = at_question(fs, "es")
    turn = chat.send("no, pero mi esposo me golpea")
    assert any("1-800-799-7233" in r for r in turn.replies)


def test_the_whole_label_in_a_longer_reply_picks_its_option(fs):
    chat = started(fs, "es")
    chat.send("numeros de ayuda para mi hija que no le pagan")
    assert chat.session.position == "numbers.by_need"


def test_a_language_named_at_the_language_question_is_chosen(fs):
    chat = Chat(fs)
    chat.send("911")
    chat.send("quiero en ingles")  # written in Spanish, asks for English
    assert chat.session.lang == "en"


def test_a_child_in_mexico_told_to_carry_a_backpack_gets_the_childrens_page_not_the_place(fs):
    # A review: "estoy en Piedras Negras" (a phrase of the Mexico page) beat the age and the backpack:
    # a 16-year-old alone read "No tener papeles no es delito". The place is recorded all the same.
    chat = Chat(fs)
    turn = chat.send("soi un cipote de honduras tengo 16 años vengo solo, estoy en piedras negras con un coyote y "
                     "dice q pa pasar tengo q cruzar una mochila xq mi mama no le completo el pago")
    assert ev.Event(ev.UNDERSTOOD, {"to": "rights.mexico"}) not in turn.events
    assert ev.Event(ev.UNDERSTOOD, {"to": "screening.intro"}) in turn.events  # the backpack: a sign
    assert chat.session.flags.get("in_mexico") == "yes"


@pytest.mark.parametrize("text", ["no quiero llevar droga me da miedo", "me quieren poner a cruzar droga"])
def test_being_made_to_carry_drugs_in_the_future_is_the_screening(fs, text):
    turn = started(fs, "es").send(text)
    assert ev.Event(ev.UNDERSTOOD, {"to": "screening.intro"}) in turn.events


# A meaning's `together:` (understanding.yaml, the page on a number that did not go through): a
# phrase of each group a few words apart, in any order, is one phrase of it, as long as they are.
CALLS_THAT_FAILED = [
    ("marqué al 1 888 y suena y suena", "es"),
    ("nadie me contesta en ese número, ya probé dos veces", "es"),  # what went wrong first
    ("the number you gave me doesnt connect", "en"),
    ("no answer at that number, it went to voicemail", "en"),
    ("la línea de trata no contesta", "es"),  # the line named is the one that did not answer: not option 2, "trata"
    ("the text to 233733 says message failed", "en"),  # not option 4, "Numbers to call or text"
    # The line named before the words found the widest way ("hotline ... dropped"): still the line that failed.
    ("the trafficking hotline put me on hold like 40 mins then the call dropped", "en"),
]


@pytest.mark.parametrize("text, lang", CALLS_THAT_FAILED, ids=[t for t, _ in CALLS_THAT_FAILED])
def test_a_call_named_and_what_went_wrong_is_a_number_that_did_not_go_through(fs, text, lang):
    chat = Chat(fs)
    chat.send({"es": "hola", "en": "hi"}[lang])
    turn = chat.send(text)
    assert ev.Event(ev.UNDERSTOOD, {"to": "numbers.no_answer"}) in turn.events, turn.readings
    assert any("words together" in str(r) for r in turn.readings), turn.readings
    assert text_of(fs, "numbers.no_answer", lang) in turn.replies[0]


@pytest.mark.parametrize("text", [
    "llamé a mi patrón y no contesta",  # someone else who does not answer (`not_with`)
    "my boss wont pick up when i call him about my check",
    "marqué al número que me dio",  # a call, and nothing that went wrong
    # a call and what went wrong, too far apart to be one thing said
    "called the number last week after work because someone told me to and now the bus is always busy",
])
def test_a_call_alone_someone_else_or_words_far_apart_are_no_failed_call(fs, text):
    placed = Lexicon.of(fs).place(normalize(text))
    assert not placed.together and (placed.target is None or placed.target.goto != "numbers.no_answer"), placed


def test_911_that_does_not_answer_is_danger_never_the_page_on_our_numbers(fs):
    placed = Lexicon.of(fs).place(normalize("llamé al nueve once y no contestan"))
    assert placed.alarm is not None and placed.target is None, placed


def test_a_place_named_within_a_longer_danger_phrase_is_the_dangers(fs):
    # "policía" is the page on police stops; said in "la policía no contesta" it is the alarm alone.
    placed = Lexicon.of(fs).place(normalize("la policía no contesta y él está tocando la puerta"))
    assert placed.alarm is not None and placed.target is None, placed


# Written blind on 2026-12-07 to share words with a failed call to our numbers (a line, a number, busy,
# voicemail, hung up, cut off) while telling of someone else, one's own phone, or another sense of the
# words. One of the 40 ("my phone got cut off ... can i still text u") was read as a failed call at first.
FAILED_CALL_LOOKALIKES = [
    'llame a mi mama en guatemala y no contesta desde ayer, estoy bien preocupada',
    'mi esposo esta detenido y le marco al centro de detencion pero siempre suena ocupado como se si esta bien??',
    'el abogado no me contesta el cel ya le deje como 5 mensajes de voz q hago',
    'mi patron no me contesta las llamadas y me debe 2 semanas de pago',
    'le escribi al casero por whats q se descompuso el boiler y nomas me deja en visto',
    'el coyote ya no contesta el numero que nos dio y tiene el dinero de mi hermano',
    'se me acabo el saldo y no puedo hacer llamadas, donde puedo recargar aqui en juarez',
    'no hay señal en el albergue el cel no agarra nada, solo con el wifi de la cocina',
    'me quitaron el chip en el reten y ahora tengo numero nuevo, este es mi nuevo numero',
    'me cortaron la linea x no pagar el plan, ustedes dan telefonos o saben donde?',
    'hay una fila enorme en el consulado desde las 5am, vale la pena esperar o mejor hago cita',
    'cuantas personas caben en el albergue? somos un numero grande como 12 con niños',
    'perdon no conteste tuve un dia bien ocupado en la obra, el patron me pide un numero de telefono pa la planilla pero no tengo q le doy',
    'me sacaron del grupo de whatsapp de la iglesia y ahi avisaban de trabajo, como vuelvo a entrar al chat',
    'vi un anuncio en face q dice llame a este numero, trabajo en el campo paga 800 a la semana, sera real?',
    'me llamo un señor diciendo q era de migracion y pedia dinero, cuando le dije q no me colgo. lo reporto?',
    'mi hijo dejo la escuela porque nos cambiamos de ciudad, como lo vuelvo a inscribir',
    'el año pasado llame a la policia y nunca contestaron ni llegaron, por eso ya no confio',
    'llamo a la clinica pa sacar cita pa mi niño y me ponen en espera una hora y luego se corta',
    'le marco a mi amiga q me iba a recoger en la central de autobuses y me manda directo al buzon, ya es de noche',
    'my brother in honduras hasnt answered his phone in 3 days what do i do',
    'the detention center line is always busy, how do i find out if my husband got transferred',
    'called my immigration lawyer like 10 times n it keeps going to voicemail, is that normal??',
    'my boss hung up on me when i asked about my check',
    'greyhound customer service never picks up and they lost my bag with all my papers in it',
    'the bank keeps sending me to a recording and wont let me talk to a person about my account being frozen',
    'my landlord wont answer my texts and theres no water in the apartment since monday',
    'my phone got cut off bc i couldnt pay the bill, can i still text u on wifi',
    'no signal out here near the river so this might not send right',
    'screen is cracked can barely type sorry, this is my cousins phone for now',
    'got a new number, the old chip got taken at the border. pls save this one',
    'how long is the line at the consulate in el paso for passports? waited 4 hrs yesterday and didnt get in',
    'a number of us from the same town need help w work permits, can we all come in together',
    'sorry late reply, busy day at work. i was asking about rent help',
    'is the whatsapp group chat for the shelter still active? nobody posts anymore',
    'someone sent me a job ad that says call this number for farm work with housing included, is it legit',
    'a guy said he was from ICE and wanted gift cards, i said no and he hung up. should i report it',
    'my daughter dropped out of school after we moved, can she still go back at 17',
    'last year the police never answered when i called about my neighbor hitting his wife',
    'my old boss never picked up when i asked for my W-2 and now i need it for taxes',
]


def test_a_failed_call_to_someone_else_or_in_other_words_is_no_failed_call_to_our_numbers(fs):
    lex = Lexicon.of(fs)
    read = {text: lex.place(normalize(text)) for text in FAILED_CALL_LOOKALIKES}
    wrong = [text for text, placed in read.items() if placed.target is not None and placed.target.goto == "numbers.no_answer"]
    assert not wrong, wrong


@pytest.mark.parametrize("text, goto", [
    # Someone who writes for another person: the hotline's numbers, not the screening's questions about the writer.
    ("soy maestra, a la mama de un alumno la amenazan con la migra si deja el trabajo", "numbers.exploitation"),
    ("im a landlord, 14 men live in my house, they havent been paid in months and the guy has their passports",
     "numbers.exploitation"),
    # What is not the screening is read as it is: a child named, the writer's own pay.
    ("soy maestra, mi alumna de 14 trabaja de noche en un bar", "numbers.child"),
    ("soy maestra y mi patron no me paga desde hace 2 meses", "rights.pay_here"),
    # The writer's own story beside the role: the screening.
    ("im a nurse and my boss makes me work doubles with no overtime pay", "screening.intro"),
])
def test_a_message_written_for_someone_else_leads_to_the_hotlines_numbers_instead_of_the_screening(fs, text, goto):
    placed = Lexicon.of(fs).place(normalize(text))
    assert placed.target is not None and placed.target.goto == goto, placed
    if goto == "numbers.exploitation":
        assert "instead of screening" in placed.reading.how, placed.reading


def test_someone_else_held_now_still_raises_the_alarm_when_written_for_them(fs):
    placed = Lexicon.of(fs).place(normalize("soy enfermera, una paciente dice que la tienen encerrada en un motel"))
    assert placed.alarm is not None and placed.target.goto == "numbers.exploitation", placed


def test_a_role_alone_is_no_reading(fs):
    # `instead_of` stands in for the screening only: alone it places nothing.
    assert not Lexicon.of(fs).place(normalize("soy maestra")).placed
