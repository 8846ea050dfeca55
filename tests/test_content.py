"""Content rules, checked over every message the flows can send, in every language.

/work/shared/CONTENT.md and docs/CONTENT.md set rules no single test of a
conversation can cover; here they are checked on everything at once:

* a locked phone shows a message's first line: no first line names
  trafficking or sex (trata, tráfico, sexual...);
* in Spanish, trafficking is "trata de personas": never "tráfico de personas";
* nobody is asked "are you a victim?";
* every end screen names a number from flows/hotlines.yaml, and the national
  hotline is one word (HELP / AYUDA) away from every question;
* the screening covers the questions CONTENT.md lists and routes its answers
  the way docs/CONTENT.md says ("How the screening decides").

"Every message" is what :func:`bot.engine.render.messages` gives for every
node (a question's prompt and both re-prompts, a directory's packed
messages), the system texts, and the static fail-safe reply.
"""
from __future__ import annotations

import re

import pytest

from bot.channels.twilio import FAILSAFE_REPLIES
from bot.engine import events as ev
from bot.engine import model as m
from bot.engine import render
from bot.engine.text import normalize
from tests.helpers import real_flows
from tests.test_engine import HOTLINE, OPT, Chat, fs, help_text, prompt, started  # noqa: F401  (fs: the fixture)

MEXICO_LINE = "800 5533 000"
FS = real_flows()
LANGS = tuple(FS.system.languages)


def every_message():
    """(id, lang, text) for every message a person can be sent."""
    found = []
    for lang in LANGS:
        for flow in FS.flows.values():
            for node in flow.nodes:
                for i, text in enumerate(render.messages(FS, node, lang)):
                    found.append((f"{lang}-{flow.id}.{node.id}-{i}", lang, text))
        for name in FS.system.texts:
            text = render.say(FS, lang, name, number="1-888-373-7888", keyword="START")
            found.append((f"{lang}-system.{name}", lang, text))
    found += [(f"failsafe-{i}", "failsafe", text) for i, text in enumerate(FAILSAFE_REPLIES)]
    return found


MESSAGES = every_message()

# Words a lock-screen preview must not show, compared without case or accents.
SENSITIVE = re.compile(r"\b(traffick\w*|trafic\w*|trata|sex\w*)\b")

def first_line_cases():
    return [pytest.param(text, id=id_) for id_, _, text in MESSAGES]


@pytest.mark.parametrize("text", first_line_cases())
def test_no_first_line_names_trafficking_or_sex(text):
    first = text.split("\n", 1)[0]
    assert not SENSITIVE.search(normalize(first)), first


def test_the_first_line_rule_catches_what_it_must():
    for line in ("Human Trafficking Hotline", "Línea contra la TRATA", "tráfico de migrantes", "Sexual", "sex",
                 "anti-trafficking line", "traficantes"):
        assert SENSITIVE.search(normalize(line)), line
    for line in ("Thank you for telling us.", "Question 11 of 11.", "Pregunta 5 de 11.", "contrata", "trato",
                 "Essex"):
        assert not SENSITIVE.search(normalize(line)), line


def test_spanish_never_says_trafico_de_personas():
    spanish = [text for _, lang, text in MESSAGES if lang in ("es", "failsafe")]
    spanish += [t.msgstr for t in FS.catalogs["es"].values()]
    assert len(spanish) > 100
    for text in spanish:
        assert "trafico de personas" not in normalize(text), text


VICTIM_QUESTIONS = ["are you a victim", "were you a victim", "have you been a victim", "es usted victima",
                    "eres victima", "ha sido victima", "fue usted victima", "fue victima"]


def test_nobody_is_asked_whether_they_are_a_victim():
    for _, _, text in MESSAGES:
        for asked in VICTIM_QUESTIONS:
            assert asked not in normalize(text), text


# --- hotlines ------------------------------------------------------------------------------------

NUMBERS = sorted({c.number for h in FS.hotlines.values() for c in h.contacts})
END_NODES = [f"{f.id}.{n.id}" for f in FS.flows.values() for n in f.nodes if n.kind == m.END]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("node", END_NODES)
def test_every_end_screen_names_a_number_from_the_hotline_list(node, lang):
    text = FS.translate(lang, FS.node(node).text.msgid)
    assert any(number in text for number in NUMBERS), text


def test_there_are_end_screens_for_every_screening_outcome():
    assert len(END_NODES) >= 8


@pytest.mark.parametrize("lang", LANGS)
def test_the_help_text_names_the_national_hotline(lang):
    assert HOTLINE in help_text(FS, lang)
    assert "233733" in help_text(FS, lang)


WAITING = [f"{f.id}.{n.id}" for f in FS.flows.values() for n in f.nodes if n.waits]
HELP_WORD = {"en": "HELP", "es": "AYUDA"}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("position", WAITING)
def test_the_national_hotline_is_one_word_away_from_every_question(fs, position, lang):
    flow, _, node = position.partition(".")
    chat = Chat(fs)
    s = chat.session
    state = "choosing_language" if fs.node(position).kind == m.LANGUAGE else "in_flow"
    s.state, s.lang, s.conv, s.flow, s.node, s.flags = state, lang, "k", flow, node, {"force": "yes"}
    turn = chat.send(HELP_WORD[lang])
    assert turn.replies == [help_text(fs, lang), prompt(fs, position, lang)]
    assert HOTLINE in turn.replies[0]
    assert (chat.session.position, chat.session.flags) == (position, {"force": "yes"})


# --- the screening -----------------------------------------------------------------------------------

# CONTENT.md §2: the questions the screening must cover, as flags (docs/CONTENT.md).
FLAGS = {"force", "pay", "debt", "id_taken", "threats", "confined", "sex", "under_18", "paid_to_cross",
         "free_after", "ransom"}
STRONG = ["force", "debt", "id_taken", "threats", "confined", "sex"]
ANSWER_NUMBER = {a: str(i) for i, a in enumerate(m.ANSWERS, 1)}  # "yes" -> "1" (1. Yes / 2. No / 3. Not sure)


def where_option(place: str | None) -> str:
    """The number of the "Where are you now?" option that records ``place`` (None: somewhere else)."""
    where = FS.node("screening.where")
    found = [i for i, o in enumerate(where.options, 1)
             if (place in o.sets if place else o.label.msgid == "Somewhere else")]
    assert len(found) == 1, place
    return str(found[0])


def screen(fs, lang: str, answers: dict[str, str], place: str | None = "in_us"):
    """Answer the screening: each question by its flag (default "no"); return (outcomes, last replies)."""
    chat = started(fs, lang)
    chat.send(OPT["screening"])
    chat.send(ANSWER_NUMBER["yes"])  # safe to text now
    chat.send(where_option(place))
    turns, asked = [], []
    while chat.session.state == "in_flow" and chat.session.flow == "screening":
        node = fs.node(chat.session.position)
        assert node.kind == m.QUESTION and len(asked) < 20, chat.session.position
        asked.append(node.flag)
        turns.append(chat.send(ANSWER_NUMBER[answers.get(node.flag, "no")]))
    assert set(answers) <= set(asked), "an answer was given for a question never asked"
    outcomes = [e.data["outcome"] for t in turns for e in t.events if e.kind == ev.OUTCOME]
    return outcomes, turns[-1].replies, asked, chat


@pytest.mark.parametrize("lang", LANGS)
def test_the_screening_asks_about_everything_content_md_lists(fs, lang):
    _, _, asked, chat = screen(fs, lang, {"paid_to_cross": "yes"})
    assert sorted(asked) == sorted(FLAGS)  # each once
    assert chat.session.state == "closed"


@pytest.mark.parametrize("lang", LANGS)
def test_free_after_crossing_is_asked_only_of_someone_who_paid_to_cross(fs, lang):
    for paid in ("no", "yes", "not_sure"):
        _, _, asked, _ = screen(fs, lang, {"paid_to_cross": paid})
        assert ("free_after" in asked) == (paid != "no"), paid


ROUTES = [
    # label, answers (others "no"), outcome
    ("nothing", {}, "no_indicators"),
    *[(f"{flag} yes", {flag: "yes"}, "trafficking_referral") for flag in STRONG],
    *[(f"{flag} not sure", {flag: "not_sure"}, "trafficking_referral") for flag in STRONG],
    ("under 18", {"under_18": "yes"}, "child_referral"),
    # Under 18 with any strong indicator: a trafficking referral (no force is
    # needed for a minor, 22 USC 7102), given on the children's path.
    ("under 18, and every indicator", {f: "yes" for f in FLAGS}, "trafficking_referral"),
    ("under 18, made to have sex for money", {"under_18": "yes", "sex": "yes"}, "trafficking_referral"),
    ("under 18, not sure about a debt", {"under_18": "yes", "debt": "not_sure"}, "trafficking_referral"),
    ("not sure of their age, nothing else", {"under_18": "not_sure"}, "child_referral"),
    ("not sure of their age, threatened", {"under_18": "not_sure", "threats": "yes"}, "trafficking_referral"),
    ("pay only", {"pay": "yes"}, "labour_rights"),
    ("not sure about pay, nothing else", {"pay": "not_sure"}, "labour_rights"),
    ("pay and papers taken", {"pay": "yes", "id_taken": "yes"}, "trafficking_referral"),
    ("ransom only", {"ransom": "yes"}, "ransom"),
    ("ransom, paid to cross and free after", {"ransom": "yes", "paid_to_cross": "yes", "free_after": "yes"}, "ransom"),
    ("ransom and made to work", {"ransom": "yes", "force": "yes"}, "trafficking_referral"),
    ("pay and ransom", {"pay": "yes", "ransom": "yes"}, "labour_rights"),
    ("paid to cross and free after", {"paid_to_cross": "yes", "free_after": "yes"}, "smuggling_only"),
    ("paid to cross, free after, a debt to work off", {"paid_to_cross": "yes", "free_after": "yes", "debt": "yes"},
     "trafficking_referral"),
    ("paid to cross, not free after", {"paid_to_cross": "yes"}, "trafficking_referral"),
    ("paid to cross, not sure if free after", {"paid_to_cross": "yes", "free_after": "not_sure"},
     "trafficking_referral"),
    ("not sure if they paid to cross", {"paid_to_cross": "not_sure", "free_after": "yes"}, "trafficking_referral"),
]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("answers, outcome", [pytest.param(a, o, id=label) for label, a, o in ROUTES])
def test_the_screening_routes_as_docs_content_md_says(fs, lang, answers, outcome):
    outcomes, replies, _, chat = screen(fs, lang, answers)
    assert outcomes == [outcome]
    assert chat.session.state == "closed"
    assert any(number in replies[-1] for number in NUMBERS), replies
    if outcome == "trafficking_referral":
        assert HOTLINE in replies[-1]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("indicator", [{"force": "yes"}, {"debt": "not_sure"}, {"paid_to_cross": "yes"}],
                         ids=["forced", "not sure about a debt", "paid to cross, not free after"])
def test_in_mexico_the_referral_gives_the_mexican_line(fs, lang, indicator):
    outcomes, replies, _, _ = screen(fs, lang, indicator, place="in_mexico")
    assert outcomes == ["trafficking_referral"]
    assert MEXICO_LINE in replies[-1]
    assert HOTLINE in replies[-1]  # someone in Mexico may be about to cross, or have family in the US


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("place", ["in_us", None], ids=["in the US", "somewhere else"])
def test_outside_mexico_the_referral_gives_the_national_hotline(fs, lang, place):
    outcomes, replies, _, _ = screen(fs, lang, {"threats": "yes"}, place=place)
    assert outcomes == ["trafficking_referral"]
    assert HOTLINE in replies[-1] and "233733" in replies[-1]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("answers, outcome", [
    ({"under_18": "yes"}, "child_referral"),
    ({"under_18": "yes", "sex": "yes"}, "trafficking_referral"),
    ({"pay": "yes"}, "labour_rights"),
    ({"ransom": "yes"}, "ransom"),
    ({"paid_to_cross": "yes", "free_after": "yes"}, "smuggling_only"),
    ({}, "no_indicators"),
], ids=["child", "child exploited", "pay", "ransom", "smuggling", "nothing"])
def test_in_mexico_every_outcome_ends_with_the_mexican_line(fs, lang, answers, outcome):
    outcomes, replies, _, _ = screen(fs, lang, answers, place="in_mexico")
    assert outcomes == [outcome]
    assert MEXICO_LINE in replies[-1]
    assert "1-866-487-9243" not in replies[-1]  # no US wage line for someone in Mexico


@pytest.mark.parametrize("lang", LANGS)
def test_not_sure_it_is_safe_to_text_goes_on_with_how_to_erase(fs, lang):
    chat = started(fs, lang)
    chat.send(OPT["screening"])
    turn = chat.send(ANSWER_NUMBER["not_sure"])
    assert turn.replies[0] == fs.translate(lang, fs.node("screening.careful").text.msgid)
    assert chat.session.position == "screening.where"


@pytest.mark.parametrize("lang", LANGS)
def test_not_safe_to_text_asks_nothing(fs, lang):
    chat = started(fs, lang)
    chat.send(OPT["screening"])
    turn = chat.send(ANSWER_NUMBER["no"])
    assert [e.data["outcome"] for e in turn.events if e.kind == ev.OUTCOME] == ["not_safe_now"]
    assert chat.session.state == "closed" and chat.session.flags == {"safe_now": "no"}
    assert "911" in turn.replies[-1]


def test_every_outcome_is_reached_by_some_route():
    screening = FS.flows["screening"]
    outcomes = {n.outcome for n in screening.nodes if n.outcome} - {"not_safe_now"}
    assert outcomes == {o for _, _, o in ROUTES}


def test_the_routing_table_above_tries_every_flag():
    given = {(flag, answer) for _, answers, _ in ROUTES for flag, answer in answers.items()}
    assert {(f, "yes") for f in FLAGS} <= given
    assert {(f, "not_sure") for f in [*STRONG, "under_18", "pay", "paid_to_cross", "free_after"]} <= given
