"""Translations: the flow YAML extractor, and `flask --app app translations update|check`.

The governance this protects: flow text is written in English and is the
msgid; when the English changes, `translations update` keeps the old Spanish
but marks it fuzzy, and `translations check` (and `flows check`) refuse it
until someone has reviewed it.

Everything that writes runs on a copy of the project in a temp folder; the
real locales/ is never touched (a test checks that too).
"""
from __future__ import annotations

import hashlib
import io
import shutil
from pathlib import Path

import pytest
import yaml
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from bot.i18n import extract_flows, iter_flow_texts
from tests.helpers import replace_language_question

REPO = Path(__file__).resolve().parent.parent
BASE = REPO / "tests" / "broken_flows" / "_base"
PO_ES = Path("locales/es/LC_MESSAGES/messages.po")


# --- the extractor ----------------------------------------------------------------

SAMPLE_FLOW = '''\
flow: sample
title: "Not shown to texters"
start: ask
nodes:
  - id: ask
    kind: menu
    note: "A note for staff"
    text: "Pick one:"
    options:
      - label: "First"
        goto: done
      - label: yes
        goto: done
  - id: person
    kind: handoff
    text: >-
      Folded text
      on two lines.
    unavailable: |-
      Nobody is here.
      Call 1-888-373-7888.
    next: ask
  - id: done
    kind: end
    text: ""
'''


def test_extractor_yields_texts_labels_and_unavailable_with_their_lines():
    assert list(iter_flow_texts(SAMPLE_FLOW, "flows/sample.yaml")) == [
        (8, "Pick one:"),
        (10, "First"),
        (16, "Folded text on two lines."),
        (19, "Nobody is here.\nCall 1-888-373-7888."),
    ]
    # Left out: title, note, ids and gotos (not shown to texters), the label
    # YAML read as true (flows check asks for quotes), and the empty text.


def test_extractor_reads_system_texts_and_hotline_names_and_notes():
    system = (BASE / "flows" / "system.yaml").read_text(encoding="utf-8")
    found = list(iter_flow_texts(system, "flows/system.yaml"))
    assert found[:2] == [(11, "Sorry, I did not understand. Reply with a number:"),
                         (12, "I can only read text. Reply with a number:")]
    assert found[-1] == (25, "OK. Text EXIT to erase this chat.")
    assert len(found) == 15  # every text under `texts:`, nothing from answer_words or language_hints
    hotlines = (BASE / "flows" / "hotlines.yaml").read_text(encoding="utf-8")
    assert list(iter_flow_texts(hotlines, "flows/hotlines.yaml")) == [
        (3, "Human Trafficking Hotline"), (7, "24/7, free, confidential."), (13, "Emergency")]


def test_extractor_takes_nothing_from_keywords():
    keywords = (REPO / "flows" / "keywords.yaml").read_text(encoding="utf-8")
    assert "MENU" in keywords
    assert list(iter_flow_texts(keywords, "flows/keywords.yaml")) == []


@pytest.mark.parametrize("text", ["", "- a list\n", "nodes: {a: 1}\n", "texts: [a, b]\n", "flow: x\nnodes:\n  - hello\n"])
def test_extractor_survives_odd_files(text):
    """`flows check` reports these; the extractor must just not crash."""
    for name in ("flows/odd.yaml", "flows/system.yaml", "flows/hotlines.yaml"):
        assert list(iter_flow_texts(text, name)) == []


def test_extractor_skips_files_that_are_not_yaml_or_not_utf8():
    class Named(io.BytesIO):
        name = "flows/broken.yaml"

    assert list(extract_flows(Named(b"text: Hello: world\n"), [], [], {})) == []
    assert list(extract_flows(Named("text: \"Gracias\"\n".encode("latin-1") + b"\xe1"), [], [], {})) == []


def _written_texts(path: Path) -> list[tuple[int, str]]:
    """What a texter reads (or a caller hears) in one flow file, found by walking PyYAML's own nodes:
    an oracle independent of bot.engine.yamlsource."""
    root = yaml.compose(path.read_text(encoding="utf-8"))
    found = []

    def get(node, key):
        for k, v in node.value:
            if k.value == key:
                return v
        return None

    def add(node):
        if node is not None and isinstance(node, yaml.ScalarNode) and node.tag.endswith(":str") and node.value:
            found.append((node.start_mark.line + 1, yaml.safe_load(yaml.serialize(node))))

    if path.name == "system.yaml":
        for _, value in get(root, "texts").value:
            add(value)
    elif path.name == "hotlines.yaml":
        for entry in get(root, "hotlines").value:
            add(get(entry, "name"))
            add(get(entry, "note"))
    elif path.name not in ("keywords.yaml", "understanding.yaml"):
        for node in get(root, "nodes").value:
            add(get(node, "text"))
            add(get(node, "unavailable"))
            add(get(node, "still_waiting"))  # a hand-off's: to someone nobody has answered for too long
            add(get(node, "voice"))  # what a phone caller hears instead of `text`
            for option in getattr(get(node, "options"), "value", []):
                add(get(option, "label"))
                add(get(option, "short"))  # the WhatsApp label, when the long one does not fit
                add(get(option, "voice"))  # the label a caller hears, when the written one does not fit a call
    return found


def test_babel_cfg_extracts_every_text_of_the_real_flows_at_its_line():
    """Through Babel itself, with locales/babel.cfg, as `translations update` does."""
    with open(REPO / "locales" / "babel.cfg", encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    extracted: dict[str, list[tuple[int, str]]] = {}
    for filename, lineno, message, _, _ in extract_from_dir(str(REPO), method_map, options_map):
        extracted.setdefault(filename, []).append((lineno, message))
    flow_files = sorted(p for p in (REPO / "flows").glob("*.yaml"))
    assert len(flow_files) >= 5
    for path in flow_files:
        rel = f"flows/{path.name}"
        assert sorted(extracted.get(rel, [])) == sorted(_written_texts(path)), rel
    assert "flows/keywords.yaml" not in extracted
    # Nothing but the flows, and the console's canned replies (tests/test_canned_replies.py).
    assert set(extracted) <= {f"flows/{p.name}" for p in flow_files} | {"flows/console/replies.yaml"}


# --- the commands, on a copy of the project ------------------------------------------


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def real_locales_digest():
    before = _digest(REPO / "locales")
    yield before
    assert _digest(REPO / "locales") == before, "a test wrote to the real locales/"


@pytest.fixture
def project(request, tmp_path, redis_url, monkeypatch, real_locales_digest):
    """A copy of flows/ and locales/ in a temp folder, an app on it, cwd there.

    The flows folder is ``flows``, or the name a test gives with
    ``@pytest.mark.parametrize("project", ["content"], indirect=True)``."""
    flows = tmp_path / getattr(request, "param", "flows")
    shutil.copytree(REPO / "flows", flows)
    shutil.copytree(REPO / "locales", tmp_path / "locales")
    from bot import create_app
    from bot.config import TestConfig

    app = create_app(TestConfig(redis_url, str(tmp_path / "var"),
                                FLOWS_DIR=str(flows), LOCALES_DIR=str(tmp_path / "locales")))
    monkeypatch.chdir(tmp_path)
    runner = app.test_cli_runner()
    return tmp_path, lambda *args: runner.invoke(args=list(args))


def _entry_line(po: Path, msgid: str) -> int:
    """The line of ``msgid "…"`` for a one-line msgid."""
    lines = po.read_text(encoding="utf-8").splitlines()
    return lines.index(f'msgid "{msgid}"') + 1


def _errors(output: str) -> list[str]:
    """The error lines of `flows check` (the real flows may carry warnings)."""
    return [line for line in output.splitlines() if ": warning: " not in line]


def _translations(po: Path) -> dict[str, tuple[str, bool]]:
    with open(po, "rb") as fh:
        return {m.id: (m.string, m.fuzzy) for m in read_po(fh) if m.id}


def test_check_passes_on_the_real_catalogs(project):
    _, run = project
    result = run("translations", "check")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "Translations OK" in result.stderr


def test_update_on_an_up_to_date_project_changes_no_translation(project):
    root, run = project
    before = _translations(root / PO_ES)
    result = run("translations", "update")
    assert result.exit_code == 0, result.output
    assert _translations(root / PO_ES) == before
    assert run("translations", "check").exit_code == 0


@pytest.mark.parametrize("project", ["content"], indirect=True)
def test_update_finds_the_texts_of_a_flows_folder_named_otherwise(project):
    """FLOWS_DIR=content: babel.cfg's `flows/` patterns mean the flows folder,
    whatever its name. They once found nothing there, and the update emptied
    every catalog."""
    root, run = project
    before = _translations(root / PO_ES)
    result = run("translations", "update")
    assert result.exit_code == 0, result.output
    assert _translations(root / PO_ES) == before
    assert "#: content/main.yaml:" in (root / "locales" / "messages.pot").read_text(encoding="utf-8")
    assert run("translations", "check").exit_code == 0


def test_update_that_finds_no_text_leaves_the_catalogs_as_they_are(project):
    root, run = project
    cfg = root / "locales" / "babel.cfg"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("flows/", "nowhere/"), encoding="utf-8")
    before = {p: p.read_bytes() for p in (root / "locales").rglob("*.po*")}
    result = run("translations", "update")
    assert result.exit_code == 1
    assert "no text to translate found" in result.output and "left as they are" in result.output
    assert {p: p.read_bytes() for p in (root / "locales").rglob("*.po*")} == before


@pytest.mark.slow
def test_changed_english_becomes_fuzzy_and_fails_both_checks(project):
    root, run = project
    # A longer English, so the messages also show how a long text is shortened.
    old, new = "What would you like to do?", "What would you like to do? Pick a number."
    main = root / "flows" / "main.yaml"
    main.write_text(main.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")

    result = run("translations", "update")
    assert result.exit_code == 0, result.output
    po = root / PO_ES
    # The old Spanish is kept, for the reviewer, but marked fuzzy.
    assert _translations(po)[new] == ("¿Qué desea hacer?", True)
    assert old not in _translations(po)
    line = _entry_line(po, new)
    text = po.read_text(encoding="utf-8").splitlines()
    assert text[line - 3].startswith("#, fuzzy")  # the `#,` line above, then `#| msgid` (the old English)
    assert text[line - 2] == f'#| msgid "{old}"'

    result = run("translations", "check")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f'{PO_ES}:{line}: the Spanish (es) translation of "What would you like to do? Pick a numbe…" is marked fuzzy'
        " (the English changed; the old English is on the `#|` line above): check it, then remove `fuzzy` from the `#,` line",
    ]
    result = run("flows", "check")
    assert result.exit_code == 1
    assert _errors(result.stdout) == [
        f'flows/main.yaml:11: the Spanish (es) translation of "What would you like to do? Pick a numbe…" is marked fuzzy'
        f" (the English changed): check it at {PO_ES}:{line}, then remove `fuzzy` from the `#,` line above it",
    ]

    # Reviewed: the mark removed, both checks pass again.
    po.write_text(po.read_text(encoding="utf-8").replace("#, fuzzy, python-format\n", "#, python-format\n")
                  .replace("#, fuzzy\n", ""), encoding="utf-8")
    assert run("translations", "check").exit_code == 0
    assert run("flows", "check").exit_code == 0


@pytest.mark.slow
def test_new_english_is_missing_then_untranslated(project):
    root, run = project
    welcome = root / "flows" / "welcome.yaml"
    new = "Which language? Reply 1 or 2."  # nothing like the old: no fuzzy guess
    replace_language_question(welcome, f'    text: "{new}"\n')
    result = run("translations", "check")
    assert result.exit_code == 1
    line = welcome.read_text(encoding="utf-8").splitlines().index(f'    text: "{new}"') + 1
    assert result.stdout.splitlines() == [
        f'{PO_ES}:1: "{new}" (flows/welcome.yaml:{line}) is not in the Spanish (es) catalog:'
        " run `flask --app app translations update`, then translate it"]

    assert run("translations", "update").exit_code == 0
    po = root / PO_ES
    assert _translations(po)[new] == ("", False)
    result = run("translations", "check")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f'{PO_ES}:{_entry_line(po, new)}: "{new}" has no Spanish (es) translation:'
        " write it between the quotes of the `msgstr` below it"]


def test_placeholder_mismatch_fails(project):
    root, run = project
    po = root / PO_ES
    po.write_text(po.read_text(encoding="utf-8").replace('msgstr "llame al {number}"', 'msgstr "llame al {número}"'),
                  encoding="utf-8")
    result = run("translations", "check")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f'{PO_ES}:{_entry_line(po, "call {number}")}: the Spanish (es) translation of "call {{number}}" must contain'
        " {number} as in the English, written the same way; it has {número}"]


def test_a_catalog_that_cannot_be_read_is_one_problem_at_its_line(project):
    root, run = project
    po = root / PO_ES
    text = po.read_text(encoding="utf-8")
    po.write_text(text.replace('msgstr "llame al {number}"', 'msgstr "llame al {number}'), encoding="utf-8")
    result = run("translations", "check")
    assert result.exit_code == 1
    line = text.splitlines().index('msgstr "llame al {number}"') + 1
    assert result.stdout.splitlines() == [f'{PO_ES}:{line}: the text on this line has no closing quote: end it with "']


# --- a language code is never a way out of locales/ ------------------------------------------------


def test_a_catalog_path_is_only_ever_inside_the_locales_folder(tmp_path):
    """The second lock (system.yaml's codes are checked first): whatever reaches po_path,
    a path that is not a language code's, or that resolves outside, is refused."""
    from bot.i18n import available_languages, po_path

    locales = tmp_path / "locales"
    (locales / "es" / "LC_MESSAGES").mkdir(parents=True)
    assert po_path(str(locales), "es") == str(locales / "es" / "LC_MESSAGES" / "messages.po")
    assert po_path(str(locales), "pt_BR").endswith("pt_BR/LC_MESSAGES/messages.po")
    for code in ("es.x/../../../elsewhere", "../es", "es/..", "/etc", "", "ES", "es\n", "es_mx"):
        with pytest.raises(ValueError):
            po_path(str(locales), code)
    # A folder that is a symlink out of locales/ is not a way out either.
    outside = tmp_path / "outside"
    (outside / "LC_MESSAGES").mkdir(parents=True)
    (outside / "LC_MESSAGES" / "messages.po").write_text('msgid ""\nmsgstr ""\n', encoding="utf-8")
    (locales / "fr").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError):
        po_path(str(locales), "fr")
    assert available_languages(str(locales)) == []


def test_translations_update_writes_no_catalog_for_a_code_that_is_a_path(project):
    root, run = project
    system = root / "flows" / "system.yaml"
    system.write_text(system.read_text(encoding="utf-8").replace(
        "  es: Español\n", '  es: Español\n  "es.x/../../elsewhere": Evil\n'), encoding="utf-8")
    run("translations", "update")
    assert not (root / "elsewhere").exists()
    assert not (root / "locales" / "es.x").exists()
