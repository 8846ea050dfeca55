"""Canned replies (flows/console/replies.yaml, bot/canned_replies.py): what the
hand-off page offers, in the person's language with the directory's numbers,
and what `flask --app app flows check` says about a broken file, at its line."""
from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from bot import canned_replies
from bot.engine.segments import count_segments
from bot.i18n import extracted_texts
from tests.helpers import real_flows

REPO = Path(__file__).resolve().parent.parent


def write(flows_dir: Path, body: str) -> str:
    path = flows_dir / "console" / "replies.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return str(path)


def said(problems) -> list[str]:
    return [f"{Path(p.path).name}:{p.line}: {p.message}" for p in problems]


# --- the real file -----------------------------------------------------------------------


def test_the_real_replies_pass_the_check():
    assert said(canned_replies.check(str(REPO / "flows"), real_flows())) == []


def test_a_spanish_texter_gets_the_spanish_with_the_directorys_numbers():
    fs = real_flows()
    replies = {r["id"]: r for r in canned_replies.for_console(str(REPO / "flows"), fs, "es")}
    assert replies["safe_to_talk"]["text"].startswith("¿Puede hablar ahora sin peligro?")
    assert "SALIR" in replies["goodbye"]["text"]
    hotline = replies["hotline"]["text"]
    assert hotline.startswith("Ayuda gratis, 24/7.\nGuárdelo con otro nombre:\n")  # neutral lines first
    # Every number of the directory's line, as hotlines.yaml has it, and its Spanish note.
    for contact in fs.hotlines["us_trafficking"].contacts:
        assert contact.number in hotline
    assert fs.translate("es", fs.hotlines["us_trafficking"].note.msgid) in hotline
    assert "{" not in hotline
    assert [r["key"] for r in replies.values()][:3] == ["1", "2", "3"]


def test_an_english_texter_gets_the_english():
    replies = canned_replies.for_console(str(REPO / "flows"), real_flows(), "en")
    assert replies[0]["text"].startswith("Are you safe to talk right now?")
    assert any("1-888-373-7888" in r["text"] for r in replies)


def test_every_real_reply_fits_three_segments_in_every_language():
    fs = real_flows()
    for lang in fs.system.languages:
        for reply in canned_replies.for_console(str(REPO / "flows"), fs, lang):
            assert count_segments(reply["text"]).segments <= 3, (lang, reply["id"])


def test_translations_update_extracts_the_replies():
    texts = extracted_texts(str(REPO / "flows"), str(REPO / "locales" / "babel.cfg"))
    replies, _ = canned_replies.read(str(REPO / "flows"))
    for reply in replies:
        places = texts[reply.text.msgid]
        assert any(w.path.endswith("replies.yaml") and w.line == reply.text.where.line for w in places)


# --- what the check says ------------------------------------------------------------------


def test_no_file_no_replies_and_no_problem(tmp_path):
    assert canned_replies.read(str(tmp_path)) == ([], [])
    assert canned_replies.check(str(tmp_path), real_flows()) == []


def test_an_unknown_placeholder_is_named_with_the_ids_there_are(tmp_path):
    write(tmp_path, """\
        replies:
          - id: hotline
            title: Hotline
            text: "Call {us_trafficing}"
        """)
    lines = said(canned_replies.check(str(tmp_path), real_flows()))
    assert lines[0].startswith("replies.yaml:4: reply `hotline` has `{us_trafficing}`, which is not the `id:` of a line"
                               " of hotlines.yaml: write one of ")
    assert "{us_trafficking}" in lines[0] and "{mx_trafficking_from_us}" not in lines[0]  # verified lines only


def test_an_unverified_line_of_the_directory_is_refused(tmp_path):
    write(tmp_path, """\
        replies:
          - id: abroad
            title: Abroad
            text: "{mx_trafficking_from_us}"
        """)
    lines = said(canned_replies.check(str(tmp_path), real_flows()))
    assert any(line.startswith("replies.yaml:4: `{mx_trafficking_from_us}` is not verified") for line in lines)


def test_a_text_without_its_translation_is_reported_at_the_english(tmp_path):
    write(tmp_path, """\
        replies:
          - id: new
            title: New
            text: "A reply nobody has translated yet."
        """)
    assert said(canned_replies.check(str(tmp_path), real_flows())) == [
        ('replies.yaml:4: missing Spanish (es) translation of "A reply nobody has translated yet.": run `flask --app'
         ' app translations update`, then translate it in locales/es/LC_MESSAGES/messages.po')]


def test_a_reply_over_three_segments_is_refused_in_the_language_it_is_too_long_in(tmp_path):
    write(tmp_path, """\
        replies:
          - id: long
            title: Long
            text: "I am still here. Take your time. {us_trafficking} {us_trafficking} {emergency}"
        """)
    # In English (GSM-7) it fits 459 characters; in Spanish the directory's lines have accents: UCS-2, 201.
    lines = [line for line in said(canned_replies.check(str(tmp_path), real_flows())) if "too long" in line]
    assert len(lines) == 1, lines
    assert lines[0].startswith("replies.yaml:4: reply `long` is too long for SMS in Spanish (es) (with the hotline"
                               " filled in):")
    assert lines[0].endswith("the limit is 3 segments = 201 characters, because `í` makes it UCS-2: shorten the Spanish")


def test_a_reply_that_names_trafficking_where_a_locked_phone_shows_it_is_refused(tmp_path):
    write(tmp_path, """\
        replies:
          - id: hotline
            title: Hotline
            text: "Free help:\\n{us_trafficking}"
        """)
    lines = said(canned_replies.check(str(tmp_path), real_flows()))
    assert ("replies.yaml:4: reply `hotline` names trafficking in its first 2 lines in English (en) (with the hotline"
            " filled in; a locked phone shows them): start it with two neutral lines, like \"Free help, 24/7.\"") in lines


def test_a_typed_number_must_be_in_the_directory(tmp_path):
    write(tmp_path, """\
        replies:
          - id: typed
            title: Typed
            text: "Call 1-888-373-7889 now."
        """)
    lines = said(canned_replies.check(str(tmp_path), real_flows()))
    assert any(line.startswith("replies.yaml:4: the number `1-888-373-7889` is not in hotlines.yaml") for line in lines)


@pytest.mark.parametrize("body, line, words", [
    ("replies: []\n", 1, "write `replies:` and under it a list of replies"),
    ("replies:\n  - id: a\n    title: A\n", 2, "this reply needs `text:` with some text"),
    ("replies:\n  - id: A b\n    title: A\n    text: x\n", 2, "`A b` cannot be an id"),
    ("replies:\n  - id: a\n    title: A\n    text: x\n  - id: a\n    title: B\n    text: y\n", 5,
     "the id `a` is also used at line 2"),
    ("replies:\n  - id: a\n    title: A\n    text: x\n    txt: y\n", 5, "`txt:` is not known here"),
    ("replies:\n  - id: a\n    title: A\n    text: [x\n", 4, ""),  # YAML that cannot be read: its line
])
def test_a_broken_file_is_reported_at_its_line(tmp_path, body, line, words):
    (tmp_path / "console").mkdir()
    (tmp_path / "console" / "replies.yaml").write_text(body, encoding="utf-8")
    _, problems = canned_replies.read(str(tmp_path))
    assert problems, "no problem found"
    first = problems[0]
    assert (Path(first.path).name, first.line) == ("replies.yaml", line)
    assert words in first.message


def test_more_replies_than_keys_is_a_warning_and_the_rest_have_no_key(tmp_path):
    items = "".join(f"  - id: r{i}\n    title: R{i}\n    text: \"I am still here. Take your time.\"\n" for i in range(11))
    write(tmp_path, "replies:\n" + items)
    _, problems = canned_replies.read(str(tmp_path))
    assert [p.severity for p in problems] == ["warning"] and problems[0].line == 3 * 9 + 4
    keys = [r["key"] for r in canned_replies.for_console(str(tmp_path), real_flows(), "en")]
    assert keys == ["1", "2", "3", "4", "5", "6", "7", "8", "9", "", ""]


def test_flows_check_prints_the_replies_problems_and_fails(tmp_path, redis_url, monkeypatch):
    from bot import create_app
    from bot.config import TestConfig

    shutil.copytree(REPO / "flows", tmp_path / "flows")
    shutil.copytree(REPO / "locales", tmp_path / "locales")
    write(tmp_path / "flows", """\
        replies:
          - id: hotline
            title: Hotline
            text: "Call {us_trafficing}"
        """)
    app = create_app(TestConfig(redis_url, str(tmp_path / "var"), FLOWS_DIR=str(tmp_path / "flows"),
                                LOCALES_DIR=str(tmp_path / "locales")))
    monkeypatch.chdir(tmp_path)
    result = app.test_cli_runner().invoke(args=["flows", "check"])
    assert result.exit_code == 1, result.output
    assert any(line.startswith("flows/console/replies.yaml:4: reply `hotline` has `{us_trafficing}`")
               for line in result.stdout.splitlines()), result.stdout
    assert "error(s)" in result.stderr
