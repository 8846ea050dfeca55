"""The embedded Redis server: one real redis-server per data dir, shared by all.

These tests start real servers in temp dirs (each takes well under a second)
and always stop what they started, even when an assertion fails.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from bot.config import Config
from bot.store.embedded import PID_NAME, SOCKET_NAME, ensure_server
from tests.servers import wait_until

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def started():
    """Collects the owned servers a test starts and stops them afterwards."""
    servers = []
    yield servers
    for server in servers:
        server.stop()


def client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=2)


def shutdown(url: str, data_dir: Path) -> None:
    """Stop a server this process did not start (and so cannot stop())."""
    client(url).shutdown()
    deadline = time.monotonic() + 10
    while (data_dir / PID_NAME).exists():  # removed after the AOF is fsynced
        assert time.monotonic() < deadline, "redis-server did not shut down"
        time.sleep(0.02)


def test_starts_a_real_server_in_a_new_dir(tmp_path, started):
    data_dir = tmp_path / "var"
    server = ensure_server(data_dir)
    started.append(server)

    assert server.owned
    assert server.url == f"unix://{data_dir / SOCKET_NAME}"
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / SOCKET_NAME).stat().st_mode) == 0o700
    r = client(server.url)
    assert r.ping()
    assert r.config_get("port") == {"port": "0"}  # no TCP listener
    assert r.config_get("appendonly") == {"appendonly": "yes"}
    assert r.config_get("appendfsync") == {"appendfsync": "everysec"}
    assert r.config_get("save") == {"save": ""}


def test_second_call_attaches_to_the_same_server(tmp_path, started):
    first = ensure_server(tmp_path)
    started.append(first)
    client(first.url).set("k", "v")

    second = ensure_server(tmp_path)

    assert not second.owned
    assert second.url == first.url
    assert client(second.url).get("k") == "v"


def test_stop_of_a_non_owner_does_nothing(tmp_path, started):
    owner = ensure_server(tmp_path)
    started.append(owner)

    ensure_server(tmp_path).stop()

    assert client(owner.url).ping()


def test_stop_in_a_forked_child_does_nothing(tmp_path, started):
    """A gunicorn worker inherits the master's handle and atexit handlers."""
    owner = ensure_server(tmp_path)
    started.append(owner)

    pid = os.fork()
    if pid == 0:  # child: must never take the shared server down
        code = 1
        try:
            owner.stop()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert client(owner.url).ping()


def test_data_survives_stop_and_start(tmp_path, started):
    server = ensure_server(tmp_path)
    client(server.url).set("session", "kept")
    server.stop()
    with pytest.raises(redis.ConnectionError):
        client(server.url).ping()

    again = ensure_server(tmp_path)
    started.append(again)

    assert again.owned
    assert client(again.url).get("session") == "kept"


def test_a_crashed_server_is_replaced_and_its_data_kept(tmp_path, started):
    server = ensure_server(tmp_path)
    client(server.url).set("session", "kept")
    os.kill(server.pid, signal.SIGKILL)  # leaves its socket and pid file behind
    server.stop()  # waits until the process is gone; SHUTDOWN finds nobody
    assert (tmp_path / SOCKET_NAME).exists() and (tmp_path / PID_NAME).exists()

    again = ensure_server(tmp_path)
    started.append(again)

    assert again.owned
    assert client(again.url).get("session") == "kept"


def test_a_stale_socket_file_does_not_prevent_start(tmp_path, started):
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(tmp_path / SOCKET_NAME))  # bound, never listening, then closed
    stale.close()
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / PID_NAME).write_text(f"{dead.pid}\n")

    server = ensure_server(tmp_path)
    started.append(server)

    assert server.owned
    assert client(server.url).ping()


def test_a_long_data_dir_path_gets_a_short_private_socket(tmp_path, started):
    data_dir = tmp_path / ("long " * 12) / ("path" * 10)
    assert len(os.fsencode(data_dir / SOCKET_NAME)) > 107

    server = ensure_server(data_dir)
    started.append(server)

    assert server.owned and data_dir.is_dir()
    assert len(os.fsencode(server.socket_path)) <= 107
    assert server.socket_path.parent != data_dir
    assert stat.S_IMODE(server.socket_path.parent.stat().st_mode) == 0o700
    assert client(server.url).ping()
    assert ensure_server(data_dir).url == server.url
    assert ensure_server(str(data_dir) + "/.").url == server.url  # same dir, same socket


@pytest.mark.slow
def test_concurrent_starts_make_exactly_one_server(tmp_path):
    code = "import sys, bot.store.embedded as e; s = e.ensure_server(sys.argv[1]); print(s.owned, s.url)"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    results = [p.communicate(timeout=30)[0].split() for p in procs]
    try:
        assert all(p.returncode == 0 for p in procs)
        assert sorted(owned for owned, _ in results) == ["False", "False", "False", "True"]
        assert len({url for _, url in results}) == 1
    finally:
        shutdown(results[0][1], tmp_path)


def test_a_server_that_cannot_start_names_its_log_file(tmp_path):
    (tmp_path / "appendonly.aof").write_text("not an append only file\n")

    started_at = time.monotonic()
    with pytest.raises(RuntimeError, match="redis.log") as raised:
        ensure_server(tmp_path)

    assert time.monotonic() - started_at < 5  # noticed the exit, did not wait out the timeout
    assert "Bad file format" in str(raised.value)


def test_the_redis_client_fixture_gives_an_empty_real_database(redis_client):
    assert redis_client.ping()
    assert redis_client.dbsize() == 0
    redis_client.set("probe", "1")
    assert redis_client.get("probe") == "1"


def modes(folder: Path) -> dict[str, str]:
    """Mode of the folder and of every file in it (sockets aside)."""
    seen = {".": oct(stat.S_IMODE(folder.stat().st_mode))}
    for path in folder.rglob("*"):
        if not path.is_socket():
            seen[str(path.relative_to(folder))] = oct(stat.S_IMODE(path.stat().st_mode))
    return seen


# --- private and plain: what the server leaves on disk ---------------------------------------


@pytest.mark.parametrize("first", ["the app's secret key", "a folder made with the default umask",
                                   "an older version's files"])
def test_the_data_folder_is_private_whoever_makes_it_first(first, started, tmp_path, monkeypatch):
    data = tmp_path / "var"
    if first == "the app's secret key":
        monkeypatch.delenv("SECRET_KEY", raising=False)
        monkeypatch.setenv("BOT_DATA_DIR", str(data))
        Config()
        assert modes(data) == {".": "0o700", "secret_key": "0o600"}
    elif first == "a folder made with the default umask":  # gunicorn's metrics folder inside it, say
        os.makedirs(data / "prometheus", mode=0o755)
        data.chmod(0o755)
    else:
        data.mkdir(mode=0o755)
        (data / "appendonly.aof").write_bytes(b"*1\r\n$4\r\nPING\r\n")
        (data / "appendonly.aof").chmod(0o644)
        (data / "redis.log").write_text("")
        (data / "redis.log").chmod(0o644)

    server = ensure_server(data)
    started.append(server)
    r = client(server.url)
    r.set("x", "y")
    r.bgrewriteaof()
    wait_until(lambda: r.info("persistence")["aof_rewrite_in_progress"] == 0
               and not r.info("persistence")["aof_rewrite_scheduled"])

    found = modes(data)
    assert found.pop(".") == "0o700"
    assert found, "the folder holds the server's files"
    assert {name: mode for name, mode in found.items() if mode not in ("0o600", "0o700")} == {}
    assert {name for name, mode in found.items() if mode == "0o700"} <= {"prometheus"}


def test_the_append_only_file_is_plain_commands(started, tmp_path):
    """No RDB preamble in a rewrite: compressed binary would hide from a grep, and from an audit."""
    server = ensure_server(tmp_path / "var")
    started.append(server)
    r = client(server.url)
    assert r.config_get("aof-use-rdb-preamble") == {"aof-use-rdb-preamble": "no"}
    assert r.config_get("save") == {"save": ""}


def test_a_data_folder_of_another_user_is_refused(tmp_path):
    data = tmp_path / "var"
    data.mkdir(mode=0o700)
    if os.getuid() != 0:
        pytest.skip("only root can give a folder away to test this")
    os.chown(data, 65534, -1)  # nobody
    with pytest.raises(RuntimeError, match="belongs to another user"):
        ensure_server(data)
