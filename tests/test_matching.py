"""Reading what people type: cleaning, normalising, keywords, menus, answers, language.

Each test is a table: what a person might send, and what the bot should make
of it. The word lists are the real ones from flows/ (keywords.yaml,
system.yaml), so a table row failing after a content change means a person
typing that would now be misunderstood.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.published_flows import load
from bot.engine import render
from bot.engine.matching import answer, detect_language, keyword, pick, read_answer, read_keyword, read_pick
from bot.engine.model import ANSWERS
from bot.engine.text import MATCH_LIMIT, clean, normalize

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fs():
    flows, problems = load(str(REPO / "flows"), str(REPO / "locales"))
    assert flows is not None, [str(p) for p in problems]
    return flows


def ids(table):
    return [repr(row[0]) for row in table]


# --- cleaning: what is dropped before anything is read -------------------------------

CLEAN = [
    (None, ""),
    ("", ""),
    ("  hola  ", "hola"),
    ("\x00\x07me\x1bnu\x7f", "menu"),  # control characters
    ("\u200bSALIR\u200b", "SALIR"),  # zero-width space
    ("SA\u200dLIR", "SALIR"),  # zero-width joiner inside a word
    ("\ufeffEXIT", "EXIT"),  # byte order mark
    ("\u200f\u200eSALIR", "SALIR"),  # right-to-left / left-to-right marks
    ("\u202e1\u202c", "1"),  # right-to-left override
    ("\ud800hola\udfff", "hola"),  # lone surrogates from a broken encoding
    ("\ue000x", "x"),  # private use
    ("line one\r\nline two", "line one\nline two"),  # CR dropped, line break kept
    ("a\tb", "a b"),  # tab becomes a space
    ("😀 hola", "😀 hola"),  # emoji are text, kept for a hand-off transcript
    ("¿Qué?", "¿Qué?"),
]


@pytest.mark.parametrize("raw, cleaned", CLEAN, ids=ids(CLEAN))
def test_clean(raw, cleaned):
    assert clean(raw) == cleaned
    cleaned.encode("utf-8")  # always encodable again: no lone surrogates left


# --- normalising: what a keyword or option is compared with ---------------------------

NORMALIZE = [
    ("MENU", "menu"),
    ("Menú", "menu"),
    ("  ¡MENÚ!  ", "menu"),
    ("ATRÁS", "atras"),
    ("Atras", "atras"),
    ("ESPAÑOL", "espanol"),
    ("Inglés", "ingles"),
    ("¿Sí?", "si"),
    ("No  sé", "no se"),
    ("no sé...", "no se"),
    ("I don't know", "i dont know"),
    ("911", "911"),
    ("1.", "1"),
    ("2)", "2"),
    ("\u00a0hola\u00a0", "hola"),  # no-break spaces
    ("ＭＥＮＵ", "menu"),  # full-width letters (some Asian keyboards)
    ("me\u0301nu", "menu"),  # decomposed accent
    ("Straße", "strasse"),
    ("😀", ""),
    ("!!!", ""),
    ("ayuda\n\nporfa", "ayuda porfa"),
]


@pytest.mark.parametrize("raw, norm", NORMALIZE, ids=ids(NORMALIZE))
def test_normalize(raw, norm):
    assert normalize(raw) == norm


def test_normalize_reads_only_the_start_of_a_long_text_and_no_word_cut_in_two():
    assert normalize("menu " + "x" * 10_000) == "menu"
    assert normalize("x" * 10_000) == "x" * MATCH_LIMIT, "one long word is cut where the limit falls"
    long = "no me pagan " * 100
    assert normalize(long).split()[-1] in ("no", "me", "pagan") and len(normalize(long)) <= MATCH_LIMIT


@pytest.mark.parametrize("said", ["ayuda por favor ", "SALIR ", "exit now "])
def test_a_keyword_said_again_past_the_limit_is_read_wherever_the_limit_falls(fs, said):
    """What is read never ends in half a word ("ayuda por fa"), so a keyword said
    over and over reads the same whatever the text's length."""
    first = read_keyword(fs, normalize(said))[0]
    assert first is not None
    for times in range(MATCH_LIMIT // len(said), MATCH_LIMIT // len(said) + len(said) + 2):
        assert read_keyword(fs, normalize(said * times))[0] == first, times


# --- global keywords: every word in keywords.yaml, as written and as typed ---------------


def keyword_rows():
    data = yaml.safe_load((REPO / "flows" / "keywords.yaml").read_text(encoding="utf-8"))
    rows = []
    for intent, spec in data["intents"].items():
        for word in spec["words"]:
            rows.append((str(word), intent, None))
    for lang, words in data["languages"].items():
        for word in words:
            rows.append((str(word), "switch_language", lang))
    return rows


KEYWORDS = keyword_rows()


@pytest.mark.parametrize("word, intent, lang", KEYWORDS, ids=[f"{r[0]}->{r[1]}" for r in KEYWORDS])
@pytest.mark.parametrize("typed", ["as written", "lower case", "no accents", "padded"])
def test_every_keyword_matches_however_typed(fs, word, intent, lang, typed):
    text = {
        "as written": word,
        "lower case": word.lower(),
        "no accents": word.translate(str.maketrans("ÁÉÍÓÚÑáéíóúñ", "AEIOUNaeioun")),
        "padded": f"  {word.lower()}!  ",
    }[typed]
    assert keyword(fs.keywords, normalize(text)) == (intent, lang)


NOT_KEYWORDS = [
    "menu please",  # only a whole message is a keyword
    "i want to exit this job",  # a sentence that happens to contain EXIT
    "stop hitting me",
    "hola",
    "9 1",
    "1",
    "",
    "si",  # YES opts in; "si" is only an answer
]


@pytest.mark.parametrize("text", NOT_KEYWORDS)
def test_not_a_keyword(fs, text):
    assert keyword(fs.keywords, normalize(text)) == (None, None)


# --- menus: a number, or a word of the label --------------------------------------------

# The main menu's labels as the runner offers them in a Spanish session:
# each option in Spanish and in English.
MAIN_MENU = [
    ["que me paso", "what happened to me"],
    ["smuggling or trafficking whats the difference", "trafico o trata la diferencia"],
    ["mis derechos", "my rights"],
    ["numbers to call or text", "numeros de ayuda"],
    ["es seguro hablar", "is it safe to talk"],
    ["hablar con una persona", "talk to a person"],
    ["espanol english"],
]

PICKS = [
    ("1", 0),
    ("2", 1),
    ("4", 3),
    (" 3 ", 2),
    ("2.", 1),
    ("#2", 1),
    ("3 please", 2),
    ("1 por favor", 0),
    ("01", 0),
    ("7", 6),
    ("0", None),
    ("8", None),
    ("12", None),
    ("100", None),
    ("-1", 0),  # punctuation goes, the number stays
    ("numbers", 3),
    ("NUMBERS", 3),
    ("Números", 3),
    ("numeros", 3),
    ("numeros de ayuda", 3),  # the whole label
    ("safe", 4),
    ("¿Es seguro?", 4),
    ("SEGURO", 4),
    ("person", 5),
    ("una persona", 5),
    ("english", 6),
    ("¿Qué me pasó?", 0),
    ("what happened", 0),
    ("difference", 1),
    ("la diferencia", 1),
    ("¿tráfico o trata?", 1),
    ("trafficking", 1),
    ("derechos", 2),
    ("my rights", 2),
    ("talk", None),  # in two labels: ambiguous, so ask again
    ("hablar", None),  # the same in Spanish
    ("what", None),  # too common to choose by
    ("la", None),  # too short
    ("xyz", None),
    ("", None),
    ("😀", None),
]


@pytest.mark.parametrize("text, index", PICKS, ids=ids(PICKS))
def test_pick_a_menu_option(text, index):
    assert pick(normalize(text), MAIN_MENU) == index


WHERE = [["in the us", "en ee uu"], ["in mexico", "en mexico"], ["somewhere else", "en otro lugar"],
         ["not sure", "no se"]]


# "not" is shared with "Not sure" by any sentence with a "not" in it: it counts only with the word after it.
@pytest.mark.parametrize("text, index", [("the hotline did not answer", None), ("i did not get it", None),
                                         ("not", None), ("im not sure", 3), ("not sure where", 3),
                                         ("mexico i think", 1)])
def test_a_not_word_picks_an_option_only_with_the_word_after_it(fs, text, index):
    assert read_pick(fs, normalize(text), WHERE)[0] == index


# A label said with a not-word before it is its opposite, by its words or with a typo; with a comma, it is not.
BY_NEED = [["alguien me controla o controla mi pago"], ["emergencia"], ["estoy en mexico"], ["un lugar donde quedarme"]]


@pytest.mark.parametrize("text, index", [("no estoy en mexico", None), ("no estoy en mexcio", None),
                                         ("ya no estoy en mexico, estoy en texas", None), ("estoy en mexico", 2),
                                         ("No, estoy en México", 2), ("estoy en mexcio", 2)])
def test_a_label_said_with_a_not_word_before_it_is_not_picked(fs, text, index):
    assert read_pick(fs, normalize(text), BY_NEED, text)[0] == index


def test_pick_with_the_real_main_menu_labels(fs):
    # The table above is written by hand; it must be the menu people really see.
    node = fs.node(fs.system.main_menu)
    es = [normalize(x) for x in render.option_labels(fs, node, "es")]
    en = [normalize(x) for x in render.option_labels(fs, node, "en")]
    assert [sorted(set(pair)) for pair in zip(es, en)] == [sorted(forms) for forms in MAIN_MENU]


# --- questions: Sí / No / No sé ------------------------------------------------------------

ANSWER_ROWS = [
    ("si", "yes"),
    ("sí", "yes"),
    ("Sí.", "yes"),
    ("SI", "yes"),
    ("yes", "yes"),
    ("Yes!", "yes"),
    ("y", "yes"),
    ("claro", "yes"),
    ("no", "no"),
    ("No.", "no"),
    ("NO", "no"),
    ("nope", "no"),
    ("no sé", "not_sure"),
    ("No se", "not_sure"),
    ("nose", "not_sure"),
    ("no lo sé", "not_sure"),
    ("not sure", "not_sure"),
    ("Not sure.", "not_sure"),
    ("I don't know", "not_sure"),
    ("tal vez", "not_sure"),
    ("maybe", "not_sure"),
    ("1", "yes"),
    ("2", "no"),
    ("3", "not_sure"),
    ("4", None),
    ("hmm", None),
    ("", None),
    ("si no", None),
    # A word of a label is not an answer: these are not "not sure" (a referral flag).
    ("I have not been paid", None),
    ("of course not", "no"),
    ("not at all", "no"),
    ("no, not really", "no"),
    ("I do not understand", None),
    ("sure", "yes"),
    ("Sure!", "yes"),
    ("yeah sure", "yes"),
    ("por supuesto", "yes"),
]


@pytest.mark.parametrize("text, expected", ANSWER_ROWS, ids=ids(ANSWER_ROWS))
@pytest.mark.parametrize("lang", ["es", "en"])
def test_answer_a_question(fs, text, expected, lang):
    # The options a question shows (1. Sí / 2. No / 3. No sé), in the session's
    # language and in English, as the runner offers them.
    labels = [
        sorted({normalize(render.say(fs, lang, f"answer_{a}")), normalize(render.say(fs, "en", f"answer_{a}"))})
        for a in ANSWERS
    ]
    assert answer(fs.system, normalize(text), labels) == expected


SAID_TWICE = [
    ("sí sí", "yes"),
    ("Si, si, si", "yes"),
    ("no no", "no"),
    ("No, no.", "no"),
    ("no sé, no sé", "not_sure"),
    ("yes yes", "yes"),
    ("q va, nunca", "no"),  # the one answer in two ways, a comma between
    ("nel. para nada", "no"),
    ("si no", None),  # two answers, not one said twice
    ("no si", None),
]


@pytest.mark.parametrize("text, expected", SAID_TWICE, ids=ids(SAID_TWICE))
def test_an_answer_said_twice_is_the_answer(fs, text, expected):
    labels = [[normalize(render.say(fs, "es", f"answer_{a}")), normalize(render.say(fs, "en", f"answer_{a}"))]
              for a in ANSWERS]
    found, why = read_answer(fs, text, normalize(text), labels)
    assert found == expected
    if expected and normalize(text) not in {normalize(w) for w in fs.system.answers[expected]}:
        assert "said again" in why.how or "said two ways" in why.how


IN_A_HURRY = [
    # A keyword said twice, or more.
    ("SALIR SALIR", "quick_exit", "said again"),
    ("exit, exit, exit!", "quick_exit", "said again"),
    ("borra, borra ya", "quick_exit", "said again"),  # a whole-message phrase, with an around word between
    ("HELP NOW HELP NOW", "danger", "said again"),  # the two words again, not "help"
    ("help help now", "danger", "said again"),
    # A keyword some of whose words are around words, with more around it: not the shorter keyword inside it.
    ("ayuda urgente por favor", "danger", "around it: por, favor"),
    ("hola ayuda urgente", "danger", "around it: hola"),
    ("please help now", "danger", "around it: please"),
    ("ayuda ya por favor", "danger", "around it"),
    ("ayuda por favor", "help", "around it"),
    ("ayuda ya la tengo", None, ""),  # "I have it already": no keyword
    ("salir salir de aqui", None, ""),  # a sentence, not a keyword said twice
    ("menu exit", None, ""),  # two keywords: neither
    # An erase or a stop with a warning that someone is near.
    ("BÓRRALO RÁPIDO AHÍ VIENE", "quick_exit", "someone near"),
    ("erase everything hes coming", "quick_exit", "someone near"),
    ("salir ya viene mi patron", "quick_exit", "someone near"),
    ("stop texting me, he is here", "opt_out", "someone near"),
    ("erase it, hes right behind me", "quick_exit", "someone near"),  # the warning with its subject
    ("delete everything my boss just walked in", "quick_exit", "someone near"),
    ("borra todo, el esta detras de mi", "quick_exit", "someone near"),
    ("borra todo q ya llego mi patron", "quick_exit", "someone near: ya llego mi patron"),  # "q": "que", around it
    ("no borres nada, ahí viene", None, ""),  # a warning, and no erase in it
    # An erase keyword alone in the first or last clause, with the reason beside it; never SALIR ("to leave").
    ("exit, my husband", "quick_exit", "a clause of its own"),
    ("BORRAR, mi patrón", "quick_exit", "a clause of its own"),
    ("mi hermana viene. delete", "quick_exit", "a clause of its own"),
    ("salir, no puedo", None, ""),
    ("delete, what does it do?", None, ""),  # a question
    # An erase beside a call for help: the screen must be clean whatever else they asked for.
    ("EXIT AYUDA YA", "quick_exit", "beside danger"),
    ("borrar ayuda", "quick_exit", "beside help"),
    ("ayuda salir", None, ""),  # "help me get out"? never SALIR
    ("quiero salir, ya viene el patron", None, ""),  # "salir" in a sentence is not SALIR
    ("ahí viene mi patrón", None, ""),  # the warning alone: the runner's one line, not a keyword
]


@pytest.mark.parametrize("text, intent, how", IN_A_HURRY, ids=ids(IN_A_HURRY))
def test_a_keyword_in_a_hurry(fs, text, intent, how):
    found, _, why = read_keyword(fs, normalize(text), text)
    assert found == intent
    if intent:
        assert how in why.how


WITH_A_REASON = [
    # An erase or a stop phrase as the whole first or last clause, the reason beside it.
    ("borra todo, mi patron me revisa el cel", "quick_exit", "a clause of its own"),
    ("no me escriban mas, la patrona lee mis mensajes", "opt_out", "a clause of its own"),
    ("my husband reads everything. dont text me again", "opt_out", "a clause of its own"),
    ("borra todo 🙏 mi cuñado agarra el cel", "quick_exit", "a clause of its own"),  # an emoji ends a clause
    # No comma: a clause opener ("my", "porque") ends the request; a warning phrase does too, words after it or not.
    ("pls no more msgs my husband pays the phone bill", "opt_out", "a clause of its own"),
    ("borra todo porque mi suegra agarra el cel", "quick_exit", "a clause of its own"),
    ("wipe this whole convo he checks my phone at night", "quick_exit", "someone near: he checks my phone at night"),
    ("ya no me escriban el sabado", None, ""),  # "el" opens no clause: "on Saturday" may be part of the request
    ("he told me to erase everything he checks my phone", None, ""),  # his words, not a request
    # A stop never silences danger in the same message; an erase still clears the screen.
    ("remove me, im in danger", None, ""),
    ("ya no me escriban, me van a matar", None, ""),
    ("ya no me escriban, no, me van a matar", None, ""),  # the "no" ends with its clause, as the runner reads it
    ("stop texting me my boss is here and he has a gun", None, ""),  # a warning, then danger: no comma, still danger
    ("no me escriban mas mi esposo revisa el cel y me va a matar", None, ""),
    # A keyword said with a phrase of the same meaning.
    ("ALTO ya no me escriban", "opt_out", "with the keyword alto"),
    ("stop dont text me anymore", "opt_out", "with the keyword stop"),
    ("borra todo SALIR", "quick_exit", "with the keyword salir"),
    ("stop hitting me", None, ""),  # the rest is no stop: someone being hit
    ("alto, no puedo salir de aqui", None, ""),
    ("me dijo: borra todo, y lo borre", None, ""),  # a clause in the middle is a story
]


@pytest.mark.parametrize("text, intent, how", WITH_A_REASON, ids=ids(WITH_A_REASON))
def test_an_erase_or_a_stop_said_with_more(fs, text, intent, how):
    found, _, why = read_keyword(fs, normalize(text), text)
    assert found == intent
    if intent:
        assert how in why.how


# --- the language of a first message ----------------------------------------------------

LANGUAGE = [
    ("hola", "es"),
    ("Hola!", "es"),
    ("HOLA", "es"),
    ("ola", "es"),
    ("ayuda", "es"),
    ("Ayúdame por favor", "es"),
    ("buenas", "es"),
    ("Buenas tardes", "es"),
    ("buenos días", "es"),
    ("necesito información", "es"),
    ("¿Dónde estoy?", "es"),
    ("hi", "en"),
    ("Hello", "en"),
    ("help", "en"),
    ("I need help please", "en"),
    ("1", "en"),
    ("", "en"),
    ("😀", "en"),
    ("ok", "en"),
]


@pytest.mark.parametrize("text, lang", LANGUAGE, ids=ids(LANGUAGE))
def test_detect_language_of_a_first_message(fs, text, lang):
    assert detect_language(fs.system, normalize(text)) == lang
