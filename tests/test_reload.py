"""Live reload: a checked flow set is published through Redis and every worker
(here: two apps on one Redis and one FLOWS_DIR) swaps it in; a broken set is
refused and the last good one keeps serving."""
from __future__ import annotations

import html
import logging
from pathlib import Path

import pytest

from bot import create_app
from bot.config import TestConfig
from tests.helpers import inbound, messages, post_signed

pytestmark = pytest.mark.slow  # most tests here take a second or more: an app each, servers, waits

REPO = Path(__file__).resolve().parents[1]
GREETING = "Hola. Esta es una línea de información confidencial."
NEW_GREETING = "Hola. Esta es la línea de ayuda, gratis y confidencial."


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


# --- the last good set outlives a restart ------------------------------------------------------


def restart(project, redis_url):
    """A new server process on the same files and Redis (what a deploy or a crash does)."""
    return create_app(TestConfig(redis_url, str(project / "var"), FLOWS_DIR=str(project / "flows"),
                                 LOCALES_DIR=str(project / "locales"), FLOWS_CHECK_SECONDS=0.0))


def break_main(project) -> int:
    """A typo in a goto of main.yaml; returns its line."""
    path = project / "flows" / "main.yaml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    n = next(i for i, line in enumerate(lines, 1) if "goto: screening" in line)
    lines[n - 1] = lines[n - 1].replace("goto: screening", "goto: screaning")
    path.write_text("".join(lines), encoding="utf-8")
    return n


def test_a_restart_on_broken_files_serves_the_published_snapshot_and_says_so(workers, project, redis_url,
                                                                             redis_client, caplog):
    from tests.fixtures_console import PASSWORD, sign_in

    one, _ = workers
    edit_greeting(project, NEW_GREETING)
    assert publish(one).exit_code == 0  # version 1, with the new greeting
    line = break_main(project)  # then someone breaks a file on disk, and the server restarts

    with caplog.at_level(logging.ERROR, logger="bot.published_flows"):
        app = restart(project, redis_url)

    assert first_reply(app, "+15550000009").startswith(NEW_GREETING)
    [said] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert said.startswith("THE FLOW FILES ON DISK DO NOT PASS THEIR CHECKS. Serving the flows last published"
                           " instead (version 1, published by ")
    assert f"main.yaml:{line}: " in said and "screaning" in said
    health = app.test_client().get("/healthz")
    assert health.status_code == 200
    assert health.json["flows_from"] == ("snapshot of published version 1: "
                                         "the flow files on disk do not pass their checks")
    app.extensions["ops"].accounts.add("vic", "viewer", PASSWORD)
    console = app.test_client()
    assert sign_in(console, "vic").status_code == 302
    page = html.unescape(console.get("/ops/flows").get_data(as_text=True))
    assert 'id="flows-fallback"' in page and "texters get the flows last published (version 1" in " ".join(page.split())

    # Fixed and published: every worker serves the files again, and says nothing more about it.
    (project / "flows" / "main.yaml").write_text(
        (project / "flows" / "main.yaml").read_text(encoding="utf-8").replace("screaning", "screening"),
        encoding="utf-8")
    assert publish(app).exit_code == 0
    assert first_reply(app, "+15550000010").startswith(NEW_GREETING)
    assert "flows_from" not in app.test_client().get("/healthz").json
    assert 'id="flows-fallback"' not in console.get("/ops/flows").get_data(as_text=True)


def test_the_snapshot_is_what_was_checked_and_published(workers, project, redis_client):
    one, _ = workers
    edit_greeting(project, NEW_GREETING)
    assert publish(one).exit_code == 0
    snapshot = one.extensions["flows_version"].snapshot()
    assert snapshot.version == 1 and snapshot.digest == one.extensions["content"]().version
    assert snapshot.files.flows["main.yaml"] == (project / "flows" / "main.yaml").read_bytes()
    assert NEW_GREETING.encode("utf-8") in snapshot.files.catalogs["es"]
    assert set(snapshot.files.catalogs) == {"en", "es"}


def test_with_no_snapshot_a_restart_on_broken_files_still_refuses(project, redis_url, redis_client, caplog):
    """A line that never published has nothing to fall back on; every start says so until it does."""
    with caplog.at_level(logging.WARNING, logger="bot.published_flows"):
        restart(project, redis_url)
    assert any("no flows were ever published here" in r.getMessage() for r in caplog.records)
    line = break_main(project)
    with pytest.raises(SystemExit, match=rf"main\.yaml:{line}: .*screaning"):
        restart(project, redis_url)


def test_a_snapshot_that_no_longer_passes_is_not_served(workers, project, redis_url, redis_client):
    """A newer release may check more: a snapshot is served only if it passes today's checks."""
    from bot.published_flows import Snapshot

    one, _ = workers
    assert publish(one).exit_code == 0
    versions = one.extensions["flows_version"]
    snapshot = versions.snapshot()
    flows = dict(snapshot.files.flows)
    flows["main.yaml"] = flows["main.yaml"].replace(b"goto: screening", b"goto: nowhere")
    redis_client.set("hl:flows:snapshot", Snapshot(
        7, "x", "someone", 0.0, type(snapshot.files)(flows, snapshot.files.catalogs)).pack())
    line = break_main(project)
    with pytest.raises(SystemExit, match=rf"main\.yaml:{line}: .*screaning"):
        restart(project, redis_url)


def test_a_snapshot_naming_a_path_is_never_read(workers, project, redis_client):
    """What comes back from Redis becomes paths only as a flow file's name or a language code."""
    import json
    import zlib

    one, _ = workers
    assert publish(one).exit_code == 0
    versions = one.extensions["flows_version"]
    data = json.loads(zlib.decompress(versions.records.snapshot()))
    for field, name in (("catalogs", "es/../../x"), ("flows", "../main.yaml")):
        bad = {**data, field: {**data[field], name: "x"}}
        redis_client.set("hl:flows:snapshot", zlib.compress(json.dumps(bad).encode()))
        assert versions.snapshot() is None
