"""Shared pytest fixtures: Redis.

Tests talk to a real Redis, never a mock: the store's locks, TTLs, dedupe
keys and streams are exactly what must work in production.

* ``REDIS_URL`` set: that server is used. CI points it at the machine's
  shared Redis, database 15 (``redis://127.0.0.1:6379/15``). Because every
  test starts with FLUSHDB, database 0 is refused: it is where a developer's
  or a deployment's real data lives.
* ``REDIS_URL`` unset (a newcomer's machine): ONE embedded redis-server is
  started for the whole run in a pytest temp dir, and stopped at the end.

Other fixtures live in ``tests/fixtures_*.py`` modules, registered here with
``pytest_plugins = ["tests.fixtures_web", ...]``; keep this file to what
every test may need.
"""

from __future__ import annotations

import os

import pytest
import redis

from bot.embedded_redis import ensure_server


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory):
    """URL of the Redis server the tests use (see the module docstring)."""
    url = os.environ.get("REDIS_URL")
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
def redis_client(redis_url: str):
    """A client (str responses) on an empty database, closed after the test."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.flushdb()
    try:
        yield client
    finally:
        client.close()


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


def pytest_addoption(parser):
    parser.addoption(
        "--update-transcripts",
        action="store_true",
        help="rewrite the bot's replies in tests/transcripts/*.yaml from the current flows (review the diff)",
    )
