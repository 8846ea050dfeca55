"""Changing the conversations from the console: who may, the live check, publish, audit, rollback,
and the pages beside them (map with counts, translations, reviews).

Everything runs on a copy of flows/ and locales/ in a temporary folder
(FLOWS_DIR, LOCALES_DIR): the repository's own files are never written (a
test checks that too).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import os
import re
import stat
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.files import write_atomic
from bot.flow_editing import AUDIT_KEPT, DRAFT_TTL
from tests.helpers import REPO
from tests.editing import (NEW_MENU, NEW_MENU_ES, OLD_MENU, OLD_MENU_ES, check, digest_tree, main_yaml, post,
                           publish_new_menu)
from tests.fixtures_console import PASSWORD, sign_in, text

pytestmark = pytest.mark.slow  # most tests here take a second or more: an app each, servers, waits

REPO_STATE = {}


@pytest.fixture(scope="module", autouse=True)
def repository_untouched():
    """The repository's flows/ and locales/ are the same after these tests as before."""
    before = (digest_tree(REPO / "flows"), digest_tree(REPO / "locales"))
    yield
    assert (digest_tree(REPO / "flows"), digest_tree(REPO / "locales")) == before


@pytest.fixture
def make_app(redis_client, redis_url, tmp_path, project):
    from bot import create_app
    from bot.config import TestConfig

    def make():
        app = create_app(TestConfig(redis_url, str(tmp_path / "var"), FLOWS_DIR=str(project / "flows"),
                                    LOCALES_DIR=str(project / "locales"), FLOWS_CHECK_SECONDS=0.0))
        accounts = app.extensions["ops"].accounts
        accounts.add("ed", "editor", PASSWORD)
        accounts.add("eve", "editor", PASSWORD)
        accounts.add("rita", "responder", PASSWORD)
        accounts.add("vic", "viewer", PASSWORD)
        return app

    return make


@pytest.fixture
def app(make_app):
    return make_app()


def client_of(app, name: str):
    client = app.test_client()
    assert sign_in(client, name).status_code == 302
    return client


@pytest.fixture
def ed(app):
    return client_of(app, "ed")


def spanish(project: Path):
    with open(project / "locales" / "es" / "LC_MESSAGES" / "messages.po", "rb") as fh:
        return read_po(fh, locale="es")


# --- roles --------------------------------------------------------------------------------


def test_add_user_makes_an_editor(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["ops", "add-user", "erin", "--role", "editor"], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "Added erin (editor)" in result.output
    assert "erin\teditor" in runner.invoke(args=["ops", "users"]).output
    erin = app.extensions["ops"].accounts.get("erin")
    assert erin.can_edit and erin.can_respond  # an editor answers people too


@pytest.mark.parametrize("who", ["vic", "rita"])
def test_viewers_and_responders_read_everything(app, who):
    client = client_of(app, who)
    for path in ["/ops/flows", "/ops/flows/file/main.yaml", "/ops/flows/file/tests/safety.yaml",
                 "/ops/flows/map/main", "/ops/flows/history", "/ops/translations", "/ops/reviews"]:
        assert client.get(path).status_code == 200, path
    page = client.get("/ops/flows/file/main.yaml").text
    assert OLD_MENU in page and "readonly" in page
    assert "Publish to everyone" not in page and "changing it needs an editor account" in page


@pytest.mark.parametrize("who", ["vic", "rita"])
def test_viewers_and_responders_cannot_edit_publish_or_roll_back(app, project, who):
    before = digest_tree(project)
    editor = client_of(app, "ed")
    assert publish_new_menu(editor, project).status_code == 302
    published = digest_tree(project)
    assert published != before
    rid = app.extensions["flows_admin"].history()[0].id

    client = client_of(app, who)
    body = main_yaml(project).replace(NEW_MENU, "Hello?")
    response = check(client, "main.yaml", body)
    assert response.status_code == 403 and response.json == {"error": "Only editors can do this."}
    for path in ["/ops/flows/file/main.yaml/save", "/ops/flows/publish", "/ops/flows/discard",
                 f"/ops/flows/history/{rid}/rollback"]:
        response = post(client, path, {"text": body})
        assert response.status_code == 403, path
        assert "Only editors can do this" in response.text
    assert client.get(f"/ops/flows/history/{rid}/rollback").status_code == 403
    assert not app.extensions["store"].r.exists(f"hl:ops:draft:{who}")
    assert digest_tree(project) == published
    assert app.extensions["flows_version"].get() == 1


def test_every_change_needs_the_csrf_token(app, ed, project):
    before = digest_tree(project)
    body = main_yaml(project).replace(OLD_MENU, NEW_MENU)
    response = check(ed, "main.yaml", body, csrf=False)
    assert response.status_code == 400
    assert not app.extensions["store"].r.exists("hl:ops:draft:ed")
    assert check(ed, "main.yaml", body, {NEW_MENU: {"es": NEW_MENU_ES}}).json["ok"]
    for path in ["/ops/flows/publish", "/ops/flows/discard", "/ops/flows/file/main.yaml/save"]:
        assert ed.post(path, data={"text": body}).status_code == 400, path
    assert digest_tree(project) == before
    assert app.extensions["flows_version"].get() == 0


# --- the live check ----------------------------------------------------------------------------


def test_a_valid_draft_has_no_errors_and_is_kept_for_the_editor(app, ed, project, redis_client):
    body = main_yaml(project).replace('label: "My rights"', 'label: "Your rights"')
    response = check(ed, "main.yaml", body, {"Your rights": {"es": "Sus derechos"}})
    state = response.json
    assert response.status_code == 200
    assert state["ok"] and state["errors"] == 0
    assert all(p["severity"] == "warning" for p in state["problems"])
    assert state["draft"] == {"empty": False, "files": ["main.yaml"], "translations": 1}
    draft = json.loads(redis_client.get("hl:ops:draft:ed"))
    assert draft["files"]["main.yaml"] == body
    assert draft["tr"] == {"es": {"Your rights": "Sus derechos"}}
    assert 0 < redis_client.ttl("hl:ops:draft:ed") <= DRAFT_TTL
    # Only a draft: the files are as they were, and the other editor sees the file unchanged.
    assert "Your rights" not in main_yaml(project)
    assert 'label: "My rights"' in html.unescape(client_of(app, "eve").get("/ops/flows/file/main.yaml").text)
    assert 'label: "Your rights"' in html.unescape(ed.get("/ops/flows/file/main.yaml").text)


def test_problems_come_with_path_and_line(ed, project):
    lines = main_yaml(project).splitlines(keepends=True)
    n = next(i for i, line in enumerate(lines, 1) if "goto: safety" in line)
    lines[n - 1] = lines[n - 1].replace("goto: safety", "goto: safty")
    state = check(ed, "main.yaml", "".join(lines)).json
    assert not state["ok"] and state["errors"] >= 1
    [problem] = [p for p in state["problems"] if p["severity"] == "error"]
    assert problem["path"] == "flows/main.yaml" and problem["line"] == n and problem["here"]
    assert problem["text"].startswith(f"flows/main.yaml:{n}: ") and "safty" in problem["text"]
    assert "did you mean `safety`?" in problem["text"]
    assert problem["href"] == f"/ops/flows/file/main.yaml#line={n}"

    # Not YAML at all: still a line.
    state = check(ed, "main.yaml", main_yaml(project).replace("kind: menu", "kind: [menu")).json
    assert not state["ok"]
    assert any(p["path"] == "flows/main.yaml" and p["line"] > 1 for p in state["problems"])


def test_a_changed_english_text_needs_its_spanish_which_can_be_typed_beside_it(ed, project):
    body = main_yaml(project).replace(OLD_MENU, NEW_MENU)
    line = next(i for i, x in enumerate(body.splitlines(), 1) if NEW_MENU in x)
    state = check(ed, "main.yaml", body).json
    assert not state["ok"]
    [problem] = [p for p in state["problems"] if p["severity"] == "error"]
    assert problem["text"] == (f'flows/main.yaml:{line}: missing Spanish (es) translation of "{NEW_MENU}" '
                               "(the English is new or changed): write it under Translations, on this file's page")
    [row] = [r for r in state["texts"] if r["msgid"] == NEW_MENU]
    assert row["needs"] and row["lines"] == [line]
    [es] = row["langs"]
    assert es["lang"] == "es" and es["state"] in ("missing", "fuzzy") and es["value"] == ""
    # To start from: what the text was, and its translation.
    assert es["hint"] == {"kind": "before", "en": OLD_MENU, "tr": OLD_MENU_ES}
    # The other texts of the file are there too, with their translations.
    [rights] = [r for r in state["texts"] if r["msgid"] == "My rights"]
    assert rights["langs"][0] == {"lang": "es", "name": "Spanish", "state": "ok", "value": "Mis derechos", "hint": None}

    state = check(ed, "main.yaml", body, {NEW_MENU: {"es": NEW_MENU_ES}}).json
    assert state["ok"], state["problems"]
    [row] = [r for r in state["texts"] if r["msgid"] == NEW_MENU]
    assert not row["needs"] and row["langs"][0]["state"] == "changed" and row["langs"][0]["value"] == NEW_MENU_ES


def test_the_editor_words_a_translation_problem_from_its_data_not_its_text(app, ed, project, monkeypatch):
    """The check's words send staff to the catalog line; the editor sends them to the box
    beside the text, reading the problem's code and fields. Rewording the check's message
    changes what `flows check` prints, and nothing in the editor."""
    from bot.engine import problems

    monkeypatch.setitem(problems.MESSAGES, "fuzzy-translation", "{language}: look again at \"{text}\"")
    body = main_yaml(project).replace(OLD_MENU, NEW_MENU)
    line = next(i for i, x in enumerate(body.splitlines(), 1) if NEW_MENU in x)
    state = check(ed, "main.yaml", body).json
    [problem] = [p for p in state["problems"] if p["severity"] == "error"]
    assert problem["text"] == (f'flows/main.yaml:{line}: missing Spanish (es) translation of "{NEW_MENU}" '
                               "(the English is new or changed): write it under Translations, on this file's page")
    [checked] = app.extensions["flows_admin"].check("ed").errors
    assert checked.code == "fuzzy-translation" and checked.message == f'Spanish (es): look again at "{NEW_MENU}"'


def test_a_translation_alone_can_be_changed(ed, project):
    state = check(ed, "main.yaml", main_yaml(project), {"My rights": {"es": "Sus derechos"}}).json
    assert state["ok"] and state["draft"] == {"empty": False, "files": [], "translations": 1}
    assert post(ed, "/ops/flows/publish").status_code == 302
    assert spanish(project).get("My rights").string == "Sus derechos"
    # Typing the translation the catalog already has is no change at all.
    state = check(ed, "main.yaml", main_yaml(project), {"My rights": {"es": "Sus derechos"}}).json
    assert state["draft"]["empty"]


def test_the_spanish_is_checked_too(ed, project):
    """One accent makes a text UCS-2: the Spanish of the menu then no longer fits in 3 SMS."""
    state = check(ed, "main.yaml", main_yaml(project), {"My rights": {"es": "Mis derechos aquí"}}).json
    assert not state["ok"]
    assert any("too long for SMS in Spanish" in p["message"] for p in state["problems"])


def test_a_failing_conversation_test_is_an_error(ed, project):
    body = (project / "flows" / "welcome.yaml").read_text(encoding="utf-8")
    old = next(r for r in check(ed, "welcome.yaml", body).json["texts"] if "Text EXIT" in r["msgid"])
    new = old["msgid"].replace("Text EXIT at any time to end this chat and erase it.", "Thanks for writing.")
    body = body.replace("Text EXIT at any time to end this chat and erase it.", "Thanks for writing.")
    state = check(ed, "welcome.yaml", body, {new: {"es": old["langs"][0]["value"]}}).json
    assert not state["ok"]
    assert any(p["path"] == "flows/tests/safety.yaml" and "conversation test" in p["message"]
               and "Text EXIT at any time" in p["message"] for p in state["problems"]), state["problems"]


def test_the_page_works_without_the_script(ed, project):
    body = main_yaml(project).replace(OLD_MENU, NEW_MENU)
    response = post(ed, "/ops/flows/file/main.yaml/save", {"text": body}, follow_redirects=True)
    assert "problem(s) to fix before it can be published" in response.text
    assert "missing Spanish (es) translation" in response.text
    page = response.text
    index = re.search(r'name="msgid\.(\d+)" value="' + re.escape(NEW_MENU) + '"', page).group(1)
    response = post(ed, "/ops/flows/file/main.yaml/save",
                    {"text": body, f"msgid.{index}": NEW_MENU, f"tr.es.{index}": NEW_MENU_ES}, follow_redirects=True)
    assert "Draft saved. No problems" in response.text


# --- publishing -----------------------------------------------------------------------------------


def test_publish_writes_the_files_bumps_the_version_and_keeps_an_audit_record(app, ed, project, redis_client):
    response = publish_new_menu(ed, project)
    assert response.status_code == 302 and response.headers["Location"] == "/ops/flows/history"

    assert NEW_MENU in main_yaml(project) and OLD_MENU not in main_yaml(project)
    entry = spanish(project).get(NEW_MENU)
    assert entry.string == NEW_MENU_ES and not entry.fuzzy
    assert spanish(project).get(OLD_MENU) is None
    assert NEW_MENU in (project / "locales" / "messages.pot").read_text(encoding="utf-8")
    leftovers = [p.name for p in project.rglob(".*.tmp")]
    assert not leftovers

    assert app.extensions["flows_version"].get() == 1
    assert redis_client.hget("hl:flows:published", "by") == "ed"
    snapshot = app.extensions["flows_version"].snapshot()  # what a restart falls back on
    assert snapshot.version == 1 and snapshot.by == "ed"
    assert snapshot.files.flows["main.yaml"].decode("utf-8") == main_yaml(project)
    assert NEW_MENU_ES.encode("utf-8") in snapshot.files.catalogs["es"]
    [record] = [json.loads(x) for x in redis_client.lrange("hl:ops:flows:audit", 0, -1)]
    assert record["who"] == "ed" and record["action"] == "publish" and record["version"] == 1
    assert abs(record["at"] - dt.datetime.now().timestamp()) < 60
    assert record["note"] == "clearer question"
    assert "flows/main.yaml" in record["files"] and "locales/es/LC_MESSAGES/messages.po" in record["files"]
    assert f'-    text: "{OLD_MENU}"\n+    text: "{NEW_MENU}"\n' in record["diff"]
    assert f'+msgstr "{NEW_MENU_ES}"' in record["diff"]
    assert "POT-Creation-Date" not in record["diff"]  # header dates and line-number comments are not shown
    assert not redis_client.exists("hl:ops:draft:ed")  # published: the draft is done

    # Served at once, by the webhook, in Spanish.
    replies = text(app.test_client(), "hola")
    assert any(NEW_MENU_ES in r for r in replies), replies

    page = ed.get("/ops/flows/history").text
    assert "#1 · Published version 1" in page and "clearer question" in page and NEW_MENU_ES in page
    assert 'class="d-add"' in page and 'class="d-del"' in page


def test_a_draft_with_errors_is_never_published(app, ed, project, redis_client):
    before = digest_tree(project)
    body = main_yaml(project).replace(OLD_MENU, NEW_MENU)  # no Spanish
    assert not check(ed, "main.yaml", body).json["ok"]
    response = post(ed, "/ops/flows/publish", {"back": "main.yaml"}, follow_redirects=True)
    assert "Not published: your draft has 1 problem(s)" in response.text
    assert digest_tree(project) == before
    assert app.extensions["flows_version"].get() == 0
    assert not redis_client.exists("hl:ops:flows:audit")
    assert redis_client.exists("hl:ops:draft:ed")  # kept, to fix


def test_an_empty_draft_has_nothing_to_publish(ed):
    response = post(ed, "/ops/flows/publish", follow_redirects=True)
    assert "Your draft has no changes to publish." in response.text


def test_a_change_published_meanwhile_is_never_overwritten(app, ed, project):
    eve = client_of(app, "eve")
    theirs = main_yaml(project).replace('label: "My rights"', 'label: "Your rights"')
    assert not check(eve, "main.yaml", theirs, {"Your rights": {"es": "Sus derechos"}}).json["errors"]
    assert publish_new_menu(ed, project).status_code == 302
    response = post(eve, "/ops/flows/publish", follow_redirects=True)
    assert "main.yaml was changed by ed after you started editing it" in response.text
    assert NEW_MENU in main_yaml(project) and "Your rights" not in main_yaml(project)


def test_discarding_a_draft(app, ed, project, redis_client):
    check(ed, "main.yaml", main_yaml(project).replace(OLD_MENU, NEW_MENU))
    assert redis_client.exists("hl:ops:draft:ed")
    response = post(ed, "/ops/flows/discard", {"name": "main.yaml"}, follow_redirects=True)
    assert "Your draft of main.yaml was discarded" in response.text
    assert OLD_MENU in response.text and not redis_client.exists("hl:ops:draft:ed")


def test_the_audit_keeps_a_bounded_number_of_changes(app, ed, project, redis_client):
    admin = app.extensions["flows_admin"]
    assert admin.kept == AUDIT_KEPT
    admin.kept = 2
    previous = "My rights"
    for word, es in [("Your rights", "Sus derechos"), ("Rights", "Derechos"), ("My rights", "Mis derechos")]:
        body = main_yaml(project).replace(f'label: "{previous}"', f'label: "{word}"')
        state = check(ed, "main.yaml", body, {word: {"es": es}}).json
        assert state["ok"], state["problems"]
        previous = word
        assert post(ed, "/ops/flows/publish").status_code == 302
    assert [r.id for r in admin.history()] == [3, 2]
    assert redis_client.llen("hl:ops:flows:audit") == 2


# --- rollback ---------------------------------------------------------------------------------------


def test_rollback_restores_the_files_publishes_and_is_audited(app, ed, project, redis_client):
    original = {p: p.read_bytes() for p in project.rglob("*") if p.is_file()}
    assert publish_new_menu(ed, project).status_code == 302

    page = html.unescape(ed.get("/ops/flows/history/1/rollback").text)
    assert "What will change" in page and f'-    text: "{NEW_MENU}"' in page
    response = post(ed, "/ops/flows/history/1/rollback", {"note": "people were confused"}, follow_redirects=True)
    assert "Rolled back: version 2 is live, as before change #1" in response.text

    now = {p: p.read_bytes() for p in project.rglob("*") if p.is_file()}
    assert now == original  # byte for byte
    assert app.extensions["flows_version"].get() == 2
    record = app.extensions["flows_admin"].history()[0]
    assert (record.action, record.who, record.undoes, record.version) == ("rollback", "ed", 1, 2)
    assert record.note == "people were confused"
    assert f'+    text: "{OLD_MENU}"' in record.diff
    replies = text(app.test_client(), "hola")
    assert any(OLD_MENU_ES in r for r in replies), replies

    # A rollback can itself be undone.
    assert post(ed, "/ops/flows/history/2/rollback").status_code == 302
    assert NEW_MENU in main_yaml(project)
    assert app.extensions["flows_version"].get() == 3


def test_rolling_back_to_before_an_older_change_undoes_the_later_ones_too(app, ed, project):
    original = main_yaml(project)
    assert publish_new_menu(ed, project).status_code == 302
    body = main_yaml(project).replace('label: "My rights"', 'label: "Your rights"')
    assert check(ed, "main.yaml", body, {"Your rights": {"es": "Sus derechos"}}).json["ok"]
    assert post(ed, "/ops/flows/publish").status_code == 302
    assert post(ed, "/ops/flows/history/1/rollback").status_code == 302
    assert main_yaml(project) == original


def test_a_responder_sees_the_history_without_rollback_buttons(app, ed, project):
    assert publish_new_menu(ed, project).status_code == 302
    page = client_of(app, "rita").get("/ops/flows/history").text
    assert "Published version 1" in page and "Roll back" not in page
    assert "Roll back to before this change" in ed.get("/ops/flows/history").text


# --- the simulator on a draft -------------------------------------------------------------------------


def test_an_editor_tries_the_draft_in_the_simulator(app, ed, project):
    body = main_yaml(project).replace(OLD_MENU, NEW_MENU)
    check(ed, "main.yaml", body)  # with a problem: cannot be tried yet
    page = post(ed, "/ops/simulator/start", {"version": "draft", "lang": "es"}, follow_redirects=True).text
    assert "has problems to fix first" in page and NEW_MENU_ES not in page

    assert check(ed, "main.yaml", body, {NEW_MENU: {"es": NEW_MENU_ES}}).json["ok"]
    page = post(ed, "/ops/simulator/start", {"version": "draft", "lang": "es"}, follow_redirects=True).text
    assert "Your draft: not published" in page and NEW_MENU_ES in page
    # The live conversations are unchanged, for everyone.
    page = post(ed, "/ops/simulator/start", {"version": "live", "lang": "es"}, follow_redirects=True).text
    assert OLD_MENU_ES in page and "Your draft: not published" not in page
    assert any(OLD_MENU_ES in r for r in text(app.test_client(), "hola"))


# --- the map, translations, reviews ----------------------------------------------------------------------


def test_the_map_shows_how_often_each_step_was_shown(app, ed):
    client = app.test_client()
    for n in range(3):
        text(client, "hola", sender=f"+1555000310{n}")
    text(client, "1", sender="+15550003100")  # on to the screening
    page = ed.get("/ops/flows/map/main?days=7").text
    assert "main__menu" in page and "3 visits" in page
    assert re.search(r"<code>menu</code></a></td><td>menu</td>\s*<td[^>]*>[^<]*</td><td class=\"num\">3</td>", page)
    assert "classDef v3" in page and "class main__menu v3" in page
    assert 'src="/ops/vendor/mermaid/mermaid.min.js"' in page
    screening = ed.get("/ops/flows/map/screening").text
    assert "screening__intro" in screening and "1 visit" in screening and "1 visits" not in screening
    assert ed.get("/ops/flows/map/nope").status_code == 404


def test_mermaid_is_served_from_the_repository_with_its_licence(ed):
    script = ed.get("/ops/vendor/mermaid/mermaid.min.js")
    assert script.status_code == 200 and len(script.data) > 1_000_000
    script.close()
    folder = REPO / "bot" / "static" / "vendor" / "mermaid"
    assert "MIT License" in (folder / "LICENSE").read_text()
    digest = hashlib.sha256((folder / "mermaid.min.js").read_bytes()).hexdigest()
    assert digest in (folder / "README.md").read_text()


def test_translations_page_lists_untranslated_and_fuzzy_texts(app, project):
    po = project / "locales" / "es" / "LC_MESSAGES" / "messages.po"
    body = po.read_text(encoding="utf-8")
    body = body.replace(f'msgstr "{OLD_MENU_ES}"', 'msgstr ""')
    body = body.replace('\nmsgid "My rights"\n', '\n#, fuzzy\n#| msgid "Rights"\nmsgid "My rights"\n')
    po.write_text(body, encoding="utf-8")  # changed on disk, after the server loaded the flows
    page = client_of(app, "vic").get("/ops/translations").text
    assert "2 to do" in page and "1 not translated; 1 with changed English" in page
    assert OLD_MENU in page and "Not translated" in page
    assert "My rights" in page and "English changed" in page and "Before: <span class=\"pre\">Rights</span>" in page
    line = next(i for i, x in enumerate(main_yaml(project).splitlines(), 1) if OLD_MENU in x)
    assert f'href="/ops/flows/file/main.yaml#line={line}"><code>main.yaml:{line}</code>' in page


def test_translations_page_when_all_is_translated(ed):
    page = ed.get("/ops/translations").text
    assert "Spanish" in page and "all done" in page and "Nothing to translate." in page


def test_reviews_page_lists_what_is_due(app, ed):
    page = ed.get("/ops/reviews").text
    assert "humantraffickinghotline.org" in page and "hotline us_trafficking" in page
    later = ed.get("/ops/reviews?as_of=2099-01-01").text
    assert re.search(r'<span class="big-number bad">(\d+)</span> due for review', later)
    due = int(re.search(r'<span class="big-number bad">(\d+)</span> due for review', later).group(1))
    fs = app.extensions["content"]()
    assert due == len(fs.hotlines) + sum(1 for f in fs.flows.values() for n in f.nodes if n.source)
    assert 'href="/ops/flows/file/hotlines.yaml#line=' in later
    assert ed.get("/ops/reviews?as_of=nonsense").status_code == 200


def test_reviews_page_marks_the_lines_kept_unverified(app, ed):
    """A `verified: false` line stays in hotlines.yaml for review; the page says
    it is never shown to texters (`flows check` refuses a flow that shows it)."""
    fs = app.extensions["content"]()
    unverified = [h.id for h in fs.hotlines.values() if not h.verified]
    assert unverified
    page = ed.get("/ops/reviews").text
    assert page.count("Not verified: never shown to texters") == len(unverified)


# --- files ------------------------------------------------------------------------------------------


def test_write_atomic_keeps_the_mode_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "x.yaml"
    target.write_text("old\n")
    os.chmod(target, 0o640)
    write_atomic(str(target), "new\n")
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["x.yaml"]


def test_only_flow_files_can_be_opened(ed):
    assert ed.get("/ops/flows/file/schema.json").status_code == 404
    assert ed.get("/ops/flows/file/../app.py").status_code == 404
    assert ed.get("/ops/flows/file/nothere.yaml").status_code == 404
    assert check(ed, "../../app.yaml", "x").status_code == 404


def test_i_checked_it_today_puts_the_review_date_in_the_draft(app, ed, project):
    today = app.extensions["ops"].figures.today().isoformat()
    hotlines = project / "flows" / "hotlines.yaml"
    body = hotlines.read_text()
    at = body.index("  - id: emergency")
    hotlines.write_text(body[:at] + body[at:].replace("reviewed: 2026-11-22", "reviewed: 2025-01-31", 1))
    page = ed.get("/ops/reviews?as_of=2099-01-01").text
    assert "I checked it today" in page
    response = post(ed, "/ops/reviews/checked", {"name": "hotlines.yaml", "kind": "hotline", "ident": "emergency"})
    assert response.status_code == 302
    line = int(response.headers["Location"].rsplit("=", 1)[1])
    draft = app.extensions["flows_admin"].drafts.get("ed")
    assert draft.files["hotlines.yaml"].splitlines()[line - 1] == f"    reviewed: {today}"
    assert "reviewed: 2025-01-31" in hotlines.read_text()  # a draft, until published
    assert client_of(app, "vic").get("/ops/reviews?as_of=2099-01-01").text.count("I checked it today") == 0
    assert post(client_of(app, "vic"), "/ops/reviews/checked",
                {"name": "hotlines.yaml", "kind": "hotline", "ident": "emergency"}).status_code == 403
    response = post(ed, "/ops/reviews/checked", {"name": "hotlines.yaml", "kind": "hotline", "ident": "nobody"},
                    follow_redirects=True)
    assert "Not marked: there is no hotline `nobody` in hotlines.yaml" in response.text


def test_the_figures_link_each_flow_to_its_map(app, ed):
    text(app.test_client(), "hola")
    page = ed.get("/ops/figures?days=7").text
    assert re.search(r'href="/ops/flows/map/main\?from=[\d-]+&amp;to=[\d-]+">map</a>', page), page


# --- a draft is untrusted input ------------------------------------------------------------------


def test_a_language_code_in_a_draft_never_becomes_a_path_out_of_the_scratch_folder(app, ed, project, tmp_path):
    """The attack: a draft system.yaml whose language code climbs out of the check's scratch
    folder (`<tmp>/helpline-draft-*/locales/`) made the editor's autosave check write a catalog
    there: into the live locales/es (rewritten without a publish or an audit record; the next
    start refused it) or anywhere else. The code is refused at its line; nothing is written."""
    import tempfile

    scratch_parent = tempfile.gettempdir()  # where the check makes its scratch folder
    live_es = os.path.relpath(project / "locales" / "es", scratch_parent)
    elsewhere = tmp_path / "somewhere"
    codes = [f"es.x/../../../{live_es}", f"es.x/../../../{os.path.relpath(elsewhere, scratch_parent)}"]
    system = (project / "flows" / "system.yaml").read_text(encoding="utf-8")
    attack = system.replace("  es: Español\n", "  es: Español\n" + "".join(f'  "{c}": Evil\n' for c in codes))
    first = attack.splitlines().index(f'  "{codes[0]}": Evil') + 1
    before = digest_tree(project)

    response = check(ed, "system.yaml", attack)

    assert response.status_code == 200
    assert digest_tree(project) == before, "the live flows or catalogs were written"
    assert not elsewhere.exists()
    state = response.json
    assert not state["ok"]
    texts = [p["text"] for p in state["problems"]]
    assert f"flows/system.yaml:{first}: `{codes[0]}` is not a language code: write the code of the language," \
           " like `es`, `fr` or `pt_BR` (two or three lower-case letters, then optionally _ and a country in" \
           " capitals)" in texts
    assert any(t.startswith(f"flows/system.yaml:{first + 1}: `{codes[1]}` is not a language code") for t in texts)
    # And a publish of it is refused the same way.
    assert post(ed, "/ops/flows/publish").status_code == 302
    assert digest_tree(project) == before and not elsewhere.exists()


BROKEN = REPO / "tests" / "broken_flows"


@pytest.mark.parametrize("case, name, line, says", [
    ("yaml_alias_bomb", "bomb.yaml", 2, "`&a` is a YAML anchor, and flow files do not use anchors or aliases"),
    ("yaml_deep_nesting", "deep.yaml", 2, "this is nested more than 20 levels deep"),
])
def test_an_alias_bomb_or_deep_nesting_in_a_draft_is_a_problem_at_its_line(ed, project, case, name, line, says):
    """A few hundred bytes of aliases (tens of millions of values once expanded), or 5,000 nested
    lists (past Python's recursion): refused before anything is expanded, as a problem of the file."""
    bomb = (BROKEN / case / "flows" / name).read_text(encoding="utf-8")
    response = check(ed, "main.yaml", bomb)
    assert response.status_code == 200
    [problem] = [p for p in response.json["problems"] if p["path"] == "flows/main.yaml"]
    assert problem["line"] == line and problem["message"].startswith(says) and problem["here"]


def test_a_draft_file_too_big_is_refused_with_its_line_and_never_stored(app, ed, project, redis_client):
    from bot.engine.yamlsource import MAX_BYTES

    body = main_yaml(project)
    big = body + ("# " + "x" * 98 + "\n") * (MAX_BYTES // 100)
    line = len(body.splitlines()) + (MAX_BYTES - len(body.encode("utf-8"))) // 101 + 1
    response = check(ed, "main.yaml", big)
    assert response.status_code == 413
    assert response.json["error"] == (
        f"flows/main.yaml:{line}: this file is over {MAX_BYTES // 1024} KB, the most a flow file may be (it goes past that on this"
        " line): split it into smaller flows, or remove what was pasted here. Not saved: your draft keeps what it"
        " had before.")
    assert redis_client.get("hl:ops:draft:ed") is None
    # Without the script: the same words, and the page again.
    response = post(ed, "/ops/flows/file/main.yaml/save", {"text": big})
    assert response.status_code == 302
    assert "Not saved" in html.unescape(ed.get(response.headers["Location"]).text)
    assert redis_client.get("hl:ops:draft:ed") is None

    # A 5 MB draft (the form's own limit stops it before the server would read it): not stored either.
    from bot.flow_editing import TooLarge

    admin = app.extensions["flows_admin"]
    with pytest.raises(TooLarge):
        admin.save("ed", "main.yaml", body + "#" * (5 * 1024 * 1024), {})
    assert redis_client.get("hl:ops:draft:ed") is None


def test_a_draft_may_hold_only_so_much_in_all(app, ed, project, redis_client):
    """Each file under the limit, but together more than a draft may hold: the change that
    would pass it is refused, and the draft keeps what it had."""
    from bot.flow_editing import MAX_DRAFT_BYTES, TooLarge

    admin = app.extensions["flows_admin"]
    names = [n for n in admin.paths.editable() if not n.startswith("tests/")]
    filler = "# " + "x" * 98 + "\n"
    saved = 0
    with pytest.raises(TooLarge, match=rf"a draft may hold at most {MAX_DRAFT_BYTES // 1024} KB"):
        for name in names:
            admin.save("ed", name, admin.paths.read(name) + filler * 500, {})  # each file under its limit
            saved += 1
    assert 0 < saved < len(names)
    kept = json.loads(redis_client.get("hl:ops:draft:ed"))
    assert sorted(kept["files"]) == sorted(names[:saved])
    assert len(redis_client.get("hl:ops:draft:ed").encode("utf-8")) <= MAX_DRAFT_BYTES
