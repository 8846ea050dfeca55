"""Adding a language is one new catalog plus one line in flows/system.yaml.

Shown with a pseudo-locale: the code `eo` (Babel needs a code it knows) and
machine-made "translations" (the English with each word's first letter's case swapped,
placeholders kept), done the way staff would: add the line, run
`translations update`, translate the new catalog, check, and talk to the bot.
"""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po

from bot import create_app
from bot.config import TestConfig
from tests.fixtures_console import PASSWORD, sign_in
from tests.helpers import inbound, messages, post_signed

pytestmark = pytest.mark.slow  # most tests here take a second or more: an app each, servers, waits

REPO = Path(__file__).resolve().parents[1]


def pseudo(text: str) -> str:
    """Swap the case of the first letter of every word outside {placeholders}.

    Only the first letter: a word in capitals is a keyword people are told to
    send (MENU), and `flows check` holds a translation to the keywords its
    English offers; a whole swapped "in danger" would read as DANGER.
    """
    def swap(part: str) -> str:
        return re.sub(r"\b\w", lambda m: m.group(0).swapcase(), part)
    return "".join(part if part.startswith("{") else swap(part) for part in re.split(r"(\{[^}]*\})", text))


def flask(project: Path, redis_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "REDIS_URL": redis_url, "BOT_DATA_DIR": str(project / "var"),
           "FLOWS_DIR": str(project / "flows"), "LOCALES_DIR": str(project / "locales")}
    env.pop("FLASK_APP", None)
    return subprocess.run([str(Path(sys.executable).with_name("flask")), "--app", "app", *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)


def test_a_third_language_is_one_catalog_and_one_line(tmp_path, redis_url, redis_client):
    project = tmp_path
    shutil.copytree(REPO / "flows", project / "flows")
    shutil.copytree(REPO / "locales", project / "locales")

    # 1. One line of configuration.
    system = project / "flows" / "system.yaml"
    text = system.read_text(encoding="utf-8")
    system.write_text(text.replace("  en: English\n", "  en: English\n  eo: Pseudo\n", 1), encoding="utf-8")
    check = flask(project, redis_url, "flows", "check")
    assert check.returncode == 1 and "no catalog for Esperanto (eo)" in check.stdout + check.stderr

    # 2. The new catalog, made by the usual command.
    assert flask(project, redis_url, "translations", "update").returncode == 0
    po = project / "locales" / "eo" / "LC_MESSAGES" / "messages.po"
    assert po.exists()
    assert flask(project, redis_url, "translations", "check").returncode == 1  # nothing translated yet

    # 3. A translator fills it in.
    with open(po, "rb") as fh:
        catalog = read_po(fh, locale="eo")
    for message in catalog:
        if message.id:
            message.string = pseudo(message.id)
    with open(po, "wb") as fh:
        write_po(fh, catalog, width=0)

    # 4. Every check passes: nothing else was needed.
    for command in (("translations", "check"), ("flows", "check")):
        result = flask(project, redis_url, *command)
        assert result.returncode == 0, result.stdout + result.stderr

    # 5. People can use it: its name switches to it, and the language menu offers it.
    app = create_app(TestConfig(redis_url, str(project / "var"), FLOWS_DIR=str(project / "flows"),
                                LOCALES_DIR=str(project / "locales")))
    client = app.test_client()
    sender = "+15550007777"
    post_signed(client, "/twilio/messages", inbound("hi", sender=sender))
    switched = messages(post_signed(client, "/twilio/messages", inbound("Pseudo", sender=sender)).data)
    assert switched == [pseudo("What would you like to do?") + "\n" + "\n".join(
        f"{i}. {pseudo(label)}" for i, label in enumerate([
            "What happened to me?", "Smuggling or trafficking: what's the difference?", "My rights",
            "Numbers to call or text", "Is it safe to talk?", "Talk to a person", "Español / English"], 1))]
    choose = messages(post_signed(client, "/twilio/messages", inbound("7", sender=sender)).data)
    assert "3. Pseudo" in choose[0]

    # 6. A first text written in it is answered in it: the language model is
    #    built from the codes of system.yaml (no hint word was added for it).
    stranger = "+15550008888"
    first = messages(post_signed(client, "/twilio/messages",
                                 inbound("Bonvolu helpi, oni ne pagas al ni salajron", sender=stranger)).data)
    fs = app.extensions["content"]()
    assert first[0] == pseudo(fs.translate("en", fs.node(fs.system.start).text.msgid))
    assert "eo" not in fs.system.language_hints

    # 7. Operators see it by its English name, as the checks above named it,
    #    on the page and in what the page's script is given for live updates.
    app.extensions["ops"].accounts.add("rita", "responder", PASSWORD)
    operator = app.test_client()
    sign_in(operator)
    page = operator.get("/ops/").text
    row = re.search(r'<tr data-conv=[^>]*>(?:(?!</tr>).)*··77(?:(?!</tr>).)*</tr>', page, re.S)
    assert row and "<td>Esperanto</td>" in row.group(0), page
    names = json.loads(html.unescape(re.search(r'<meta name="ops-names" content=\'([^\']*)\'>', page).group(1)))
    assert names["langs"] == {"en": "English", "es": "Spanish", "eo": "Esperanto"}
