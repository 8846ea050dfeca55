"""Live reload: a checked flow set is published through Redis and every worker
(here: two apps on one Redis and one FLOWS_DIR) swaps it in; a broken set is
refused and the last good one keeps serving."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot import create_app
from bot.config import TestConfig
from tests.helpers import inbound, messages, post_signed

REPO = Path(__file__).resolve().parents[1]
GREETING = "Hola. Esta es una línea de información gratuita y confidencial."
NEW_GREETING = "Hola. Esta es la línea de ayuda, gratis y confidencial."


@pytest.fixture
def project(tmp_path):
    shutil.copytree(REPO / "flows", tmp_path / "flows")
    shutil.copytree(REPO / "locales", tmp_path / "locales")
    return tmp_path


@pytest.fixture
def workers(project, redis_url, redis_client):
    def make():
        return create_app(TestConfig(redis_url, str(project / "var"), FLOWS_DIR=str(project / "flows"),
                                     LOCALES_DIR=str(project / "locales"), FLOWS_CHECK_SECONDS=0.0))
    return make(), make()


def first_reply(app, sender):
    return messages(post_signed(app.test_client(), "/twilio/messages", inbound("hola", sender=sender)).data)[0]


def edit_greeting(project, new: str) -> None:
    """A staff edit of the Spanish greeting, in the catalog."""
    path = project / "locales" / "es" / "LC_MESSAGES" / "messages.po"
    text = path.read_text(encoding="utf-8")
    assert GREETING in text
    path.write_text(text.replace(GREETING, new), encoding="utf-8")


def publish(app):
    return app.test_cli_runner().invoke(args=["flows", "publish"])


def test_a_published_change_reaches_every_worker(workers, project):
    one, two = workers
    assert first_reply(one, "+15550000001").startswith(GREETING)
    edit_greeting(project, NEW_GREETING)
    # Edited on disk but not published: nobody serves it yet.
    assert first_reply(two, "+15550000002").startswith(GREETING)

    result = publish(one)
    assert result.exit_code == 0, result.output
    assert "Published flows version 1" in result.output
    assert first_reply(one, "+15550000003").startswith(NEW_GREETING)
    assert first_reply(two, "+15550000004").startswith(NEW_GREETING)


def test_a_broken_set_is_refused_and_the_last_good_one_keeps_serving(workers, project, redis_client):
    one, two = workers
    (project / "flows" / "main.yaml").write_text(
        (project / "flows" / "main.yaml").read_text(encoding="utf-8").replace("goto: screening", "goto: screaning"),
        encoding="utf-8")
    result = publish(one)
    assert result.exit_code == 1
    assert "main.yaml:" in result.output and "screaning" in result.output and "Refused" in result.output
    assert redis_client.get("hl:flows:version") is None  # nothing was published
    assert first_reply(two, "+15550000005").startswith(GREETING)

    # Even if the version is raised by hand, a worker never swaps in a set that fails its checks.
    redis_client.incr("hl:flows:version")
    assert first_reply(one, "+15550000006").startswith(GREETING)
    assert first_reply(two, "+15550000007").startswith(GREETING)


def test_a_session_whose_node_was_removed_recovers_after_a_publish(workers, project):
    one, two = workers
    sender = "+15550000008"
    post_signed(one.test_client(), "/twilio/messages", inbound("hi", sender=sender))
    post_signed(one.test_client(), "/twilio/messages", inbound("5", sender=sender))  # safety
    post_signed(one.test_client(), "/twilio/messages", inbound("1", sender=sender))  # its tips -> "What next?"
    path = project / "flows" / "safety.yaml"
    text = path.read_text(encoding="utf-8")
    # Remove the `more` menu the person is at; its message nodes now lead to the main menu.
    text = text.replace("    next: more\n", "    next: main.menu\n")
    text = text[: text.index("  - id: more")]
    path.write_text(text, encoding="utf-8")
    assert publish(two).exit_code == 0
    reply = messages(post_signed(two.test_client(), "/twilio/messages", inbound("1", sender=sender)).data)
    assert reply[0] == "Sorry, this part of the chat has changed. Here is the main menu."
    assert reply[1].startswith("What would you like to do?")
