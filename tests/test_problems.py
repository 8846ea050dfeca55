"""One problem model, one translation state.

A problem is a code, a place and the data it is about; its words are made
from them in one place (``bot.engine.problems.MESSAGES``). Whoever words a
problem differently (the console) does it from the code and the data, so
rewording a message changes what staff read and breaks nothing.

Where each text stands in each language is worked out once
(``bot.engine.translations.translation_state``): `flows check`, `translations
check` and the console's translations page all read it, so they agree.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from bot import i18n
from bot.cli import catalog_problems
from bot.published_flows import load
from bot.engine import problems
from bot.engine.model import Where
from bot.engine.problems import Problem
from tests.helpers import replace_language_question
from bot.engine.translations import (EMPTY, FOUND, FUZZY, HIDDEN, MISSING, NO_CATALOG, OUTDATED, PLACEHOLDERS, TRANSLATED,
                                     UNREADABLE, language_name, translation_state)
from bot.flow_editing import Paths
from bot.web.console.flows import console_message, translation_status

REPO = Path(__file__).resolve().parents[1]

CATALOG = '''\
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"

msgid "Hello"
msgstr "Hola"

#, python-brace-format
msgid "Call {number}"
msgstr "Llame al {número}"

#, fuzzy
#| msgid "Pick one"
msgid "Pick one:"
msgstr "Elija uno"

#, fuzzy
msgid "Thanks"
msgstr "Gracias"

msgid "Bye"
msgstr ""
'''


def _line(text: str, written: str) -> int:
    return text.splitlines().index(written) + 1


@pytest.fixture
def catalogs(tmp_path):
    """Spanish: one text of each state; French: no catalog; German: a catalog that cannot be read."""
    for lang, text in (("es", CATALOG), ("de", 'msgid "Hello"\nmsgstr "Hallo\n')):
        folder = tmp_path / lang / "LC_MESSAGES"
        folder.mkdir(parents=True)
        (folder / "messages.po").write_text(text, encoding="utf-8")
    return i18n.load_catalogs(str(tmp_path))


TEXTS = {msgid: [Where("flows/main.yaml", n)] for n, msgid in
         enumerate(["Hello", "Call {number}", "Pick one:", "Thanks", "Bye", "Not in the catalog yet"], 1)}


def test_translation_state_says_where_each_text_stands(catalogs):
    state = translation_state(TEXTS, catalogs, ["en", "es", "fr", "de"])

    assert list(state) == ["es", "fr", "de"]  # English is the source: nothing to translate
    es = state["es"]
    assert (es.name, es.catalog) == ("Spanish", FOUND)
    assert {msgid: t.state for msgid, t in es.texts.items()} == {
        "Hello": TRANSLATED,
        "Call {number}": PLACEHOLDERS,
        "Pick one:": OUTDATED,  # translated before the English changed: the old English is kept
        "Thanks": FUZZY,  # marked for a check, with no earlier English
        "Bye": EMPTY,
        "Not in the catalog yet": MISSING,
    }
    po = catalogs["es"]["Hello"].where.path
    assert es.texts["Pick one:"].previous == "Pick one" and es.texts["Pick one:"].msgstr == "Elija uno"
    assert es.texts["Pick one:"].translation.where == Where(po, _line(CATALOG, 'msgid "Pick one:"'))
    assert es.texts["Thanks"].previous == "" and es.texts["Thanks"].fuzzy
    assert es.texts["Not in the catalog yet"].translation is None
    assert es.texts["Bye"].places == (Where("flows/main.yaml", 5),)
    assert (es.total, es.done) == (6, 1)
    assert [t.msgid for t in es.todo] == list(TEXTS)[1:]  # in the order the texts were given

    assert state["fr"].catalog == NO_CATALOG and state["fr"].name == "French"
    assert state["de"].catalog == UNREADABLE  # said once, at its line, by the catalog's own problem
    assert [p.code for p in catalogs.problems] == ["catalog-unclosed-quote"]
    for lang in ("fr", "de"):
        assert {t.state for t in state[lang].texts.values()} == {MISSING} and state[lang].done == 0


def test_one_language_list_with_names(tmp_path):
    """system.yaml's languages, in its order, named as Babel names them; a language it
    does not list yet has no name of ours to drift from the console's."""
    assert i18n.languages(str(REPO / "flows"), str(REPO / "locales")) == {"es": "Spanish", "en": "English"}
    assert language_name("ht") == "Haitian Creole" and language_name("zz") == "zz"
    assert problems.language_label("es") == "Spanish (es)" and problems.language_label("zz") == "`zz`"


# --- the three readers agree ------------------------------------------------------------------


@pytest.fixture
def project(project):
    """The real flows and catalogs, with one Spanish text of each state that needs work."""
    root = project
    po = root / "locales" / "es" / "LC_MESSAGES" / "messages.po"
    text = po.read_text(encoding="utf-8")
    for old, new in [
        ('msgid "My rights"\nmsgstr "Mis derechos"', 'msgid "My rights"\nmsgstr ""'),
        ('msgid "What would you like to do?"\n', '#, fuzzy\n#| msgid "What do you want?"\nmsgid "What would you like to do?"\n'),
        ('msgid "call {number}"\nmsgstr "llame al {number}"', 'msgid "call {number}"\nmsgstr "llame al {número}"'),
        # pasted from elsewhere with an invisible control character (ESC): no TwiML could carry it
        ('msgid "Main menu"\nmsgstr "Menú principal"', 'msgid "Main menu"\nmsgstr "Menú\x1b principal"'),
    ]:
        assert old in text
        text = text.replace(old, new)
    po.write_text(text, encoding="utf-8")
    replace_language_question(root / "flows" / "welcome.yaml", '    text: "Which language? Reply 1 or 2."\n')
    return root


@pytest.mark.slow
def test_flows_check_translations_check_and_the_translations_page_agree(project):
    flows, locales = str(project / "flows"), str(project / "locales")
    want = {"My rights": EMPTY, "What would you like to do?": OUTDATED, "call {number}": PLACEHOLDERS,
            "Which language? Reply 1 or 2.": MISSING, "Main menu": HIDDEN}

    state, _ = i18n.project_state(flows, locales)
    assert {t.msgid: t.state for t in state["es"].todo} == want

    _, found = load(flows, locales)
    said = {p.data["msgid"]: p.code for p in found if p.data.get("lang") == "es" and "msgid" in p.data}
    assert said == {"My rights": "missing-translation", "What would you like to do?": "fuzzy-translation",
                    "call {number}": "placeholder-mismatch", "Which language? Reply 1 or 2.": "missing-translation",
                    "Main menu": "hidden-character"}

    said = {p.data["msgid"]: p.code for p in catalog_problems(flows, locales)}
    assert said == {"My rights": "catalog-empty-translation", "What would you like to do?": "catalog-fuzzy-translation",
                    "call {number}": "placeholder-mismatch", "Which language? Reply 1 or 2.": "catalog-missing-text",
                    "Main menu": "hidden-character"}

    page = translation_status(Paths(flows, locales))["es"]
    assert {item["msgid"]: item["state"] for item in page["items"]} == {
        "My rights": "empty", "What would you like to do?": "fuzzy", "call {number}": "placeholders",
        "Which language? Reply 1 or 2.": "missing", "Main menu": "hidden"}
    assert page["done"] == page["total"] - 5 and page["name"] == "Spanish"
    [changed] = [i for i in page["items"] if i["state"] == "fuzzy"]
    assert changed["previous"] == "What do you want?" and changed["places"] == [("main.yaml", 11)]


# --- words made in one place; the console words problems from their data ----------------------


def test_every_code_has_words_and_an_unknown_code_is_refused():
    assert all(code == code.lower() and " " not in code for code in problems.MESSAGES)
    with pytest.raises(ValueError):
        Problem("flows/main.yaml", 1, "the goto is wrong")  # words are not a code


def test_the_words_come_from_the_code_and_the_data(monkeypatch):
    p = Problem("flows/main.yaml", 12, "unknown-goto",
                {"target": "main.nope", "flow": "main", "node": "nope", "missing": "node", "suggestion": "menu"})
    assert str(p) == "flows/main.yaml:12: unknown goto target `main.nope`: flow `main` has no node `nope`; did you mean `menu`?"
    monkeypatch.setitem(problems.MESSAGES, "unknown-goto", "no `{node}` in `{flow}`")
    assert str(Problem(p.path, p.line, p.code, p.data)) == "flows/main.yaml:12: no `nope` in `main`"


# What the console may read of any problem to word it its own way.
SAMPLE = {"lang": "es", "msgid": "What would you like to do? Pick a number.", "state": "empty",
          "catalog_line": Where("locales/es/LC_MESSAGES/messages.po", 40),
          "test": "The way out works", "say": "hi", "piece": "EXIT", "answer": "Hello"}


@pytest.mark.parametrize("code", sorted(problems.MESSAGES))
def test_the_console_words_each_code_from_its_data_never_from_its_text(code, monkeypatch):
    """With every message reworded, the console says what the check now says, or, where
    it words a problem its own way, exactly what it said before: it never reads the words."""
    for in_flow_file in (True, False):
        with monkeypatch.context() as patched:
            patched.setattr(problems, "MESSAGES", {c: f"in other words: {c} ({{lang}})" for c in problems.MESSAGES})
            p = Problem("flows/main.yaml", 3, code, SAMPLE)
            reworded = console_message(p, in_flow_file)
            assert p.message == f"in other words: {code} (es)"
        if in_flow_file and code in ("missing-translation", "fuzzy-translation"):
            assert reworded == console_message(Problem("flows/main.yaml", 3, code, SAMPLE), True)
            assert "in other words" not in reworded and "Spanish (es)" in reworded
        elif code in ("test-answer-lacks", "test-answer-has"):
            assert reworded == f'conversation test "The way out works": in other words: {code} (es)'
        else:
            assert reworded == p.message


def test_the_console_sends_staff_to_the_box_beside_the_text():
    missing = Problem("flows/main.yaml", 11, "missing-translation", SAMPLE)
    assert str(missing).endswith(": translate it at locales/es/LC_MESSAGES/messages.po:40")
    assert console_message(missing, True) == ('missing Spanish (es) translation of "What would you like to do? Pick a numbe…":'
                                              " write it under Translations, on this file's page")
    fuzzy = Problem("flows/main.yaml", 11, "fuzzy-translation", SAMPLE)
    assert console_message(fuzzy, True) == ('missing Spanish (es) translation of "What would you like to do? Pick a numbe…"'
                                            " (the English is new or changed): write it under Translations, on this file's page")
    failed = Problem("flows/tests/safety.yaml", 4, "test-answer-lacks",
                     {"test": "The way out works", "say": "hi", "piece": "EXIT", "answer": "Hello"})
    assert console_message(failed, True) == ('conversation test "The way out works": after "hi" the answer should contain'
                                             ' "EXIT", but it was:\n    | Hello')
