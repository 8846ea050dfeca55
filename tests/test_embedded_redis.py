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

from bot.embedded_redis import PID_NAME, SOCKET_NAME, ensure_server

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


def test_concurrent_starts_make_exactly_one_server(tmp_path):
    code = "import sys, bot.embedded_redis as e; s = e.ensure_server(sys.argv[1]); print(s.owned, s.url)"
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
