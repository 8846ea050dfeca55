"""Reaching Redis: the client, the errors that mean it is out of reach, the
Lua scripts, and the one helper that turns a reply into text.

Nothing outside ``bot/store/`` imports redis: code elsewhere catches
:data:`STORE_DOWN` (or :data:`UNREACHABLE`) from here.
"""
from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.commands.core import Script
from redis.exceptions import RedisClusterException
from redis.retry import Retry

# Any failure of the store: a command that failed, a server out of reach.
STORE_DOWN = (redis.RedisError, RedisClusterException)
# Redis does not answer (down, stalled, a cluster without a majority).
UNREACHABLE = (redis.ConnectionError, redis.TimeoutError, redis.exceptions.ClusterError, RedisClusterException)
# Redis answers, but cannot serve now: out of memory, read-only (a replica),
# still loading its data, its primary down, a cluster asking to try again. Not
# every error Redis answers: WRONGTYPE or a script's own error is a bug, and
# must show as one.
CANNOT_SERVE = UNREACHABLE + (redis.exceptions.OutOfMemoryError, redis.exceptions.ReadOnlyError,
                              redis.exceptions.BusyLoadingError, redis.exceptions.MasterDownError,
                              redis.exceptions.TryAgainError)
ANSWERED_WITH_ERROR = redis.ResponseError  # Redis answered, with an error (a refusal, or a bug)
# The error codes (the first word of Redis's error reply) that say the server cannot serve now,
# whatever the command: OOM (maxmemory reached, nothing to evict), READONLY (a replica), MISCONF
# (its last RDB save failed, and stop-writes-on-bgsave-error holds writes), LOADING, BUSY (a
# script running past busy-reply-threshold, lua-time-limit before Redis 7), MASTERDOWN (a replica
# cut off from its primary), CLUSTERDOWN, TRYAGAIN (a cluster moving slots), NOREPLICAS
# (min-replicas-to-write unmet). redis-py turns some into classes (CANNOT_SERVE) and leaves
# MISCONF, BUSY and NOREPLICAS a plain ResponseError whose text starts with the code; a
# pipeline's error text starts "Command # 1 (...) of pipeline caused error: ", and Redis 6
# wraps a command refused inside a Lua script as "Error running script (...): ...: -OOM ...".
# Every other code is a bug of ours and must show as one, not hide behind a 503: WRONGTYPE,
# NOSCRIPT, ERR (a bad argument, a script's own error), and BUSYKEY / BUSYGROUP (a key or
# group that exists), which only look like BUSY. So not "every ResponseError".
REFUSALS = ("OOM", "READONLY", "MISCONF", "LOADING", "BUSY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "NOREPLICAS")
_REFUSAL_TEXT = re.compile(r"^(?:Error running script .*?: -)?(%s)(?: |$)" % "|".join(REFUSALS), re.S)
_IN_A_PIPELINE = "of pipeline caused error: "


def refusal(exc: BaseException) -> str | None:
    """The code of the refusal ``exc`` carries (one of REFUSALS: ``"OOM"``, ``"MISCONF"``...), or
    None: Redis did not answer, or answered with any other error.

    >>> refusal(redis.ResponseError("MISCONF Redis is configured to save RDB snapshots, but ..."))
    'MISCONF'
    >>> refusal(redis.ResponseError("BUSYKEY Target key name already exists.")) is None
    True
    """
    if not isinstance(exc, (redis.ResponseError, redis.exceptions.BusyLoadingError)):
        return None
    code = getattr(exc, "status_code", None)  # redis-py's class for the code: the code itself
    if code in REFUSALS:
        return code
    found = _REFUSAL_TEXT.match(str(exc).rpartition(_IN_A_PIPELINE)[2])
    return found.group(1) if found else None


def cannot_serve(exc: BaseException) -> bool:
    """Whether ``exc`` says the store cannot serve now (out of reach, or one of REFUSALS), rather than a bug."""
    return isinstance(exc, CANNOT_SERVE) or refusal(exc) is not None


def write_everywhere(client, key_for, ttl_ms: int) -> None:
    """Set a tiny key with a short TTL on every primary: ``key_for(None)`` on one
    Redis; on a cluster ``key_for(n)`` for the first tags ``n`` that reach each
    primary (each holds some people's keys, and may be full or read-only on its
    own). Returns when every one took it, else raises what Redis answered."""
    if not isinstance(client, (RedisCluster, LazyRedisCluster)):
        client.set(key_for(None), b"1", px=ttl_ms)
        return
    primaries, keys, n = {node.name for node in client.get_primaries()}, {}, 0
    while len(keys) < len(primaries) and n < 100 * len(primaries):
        keys.setdefault(client.get_node_from_key(key_for(n)).name, key_for(n))
        n += 1
    for key in keys.values():
        client.set(key, b"1", px=ttl_ms)


class StoreError(RuntimeError):
    """The store could not do its part; the webhook answers with the fail-safe."""


def text(value) -> str:
    """A reply as text: bytes decoded (a byte that is not UTF-8 reads as U+FFFD,
    so damage never makes a value unreadable for good), None as ''.

    >>> text(b"caf\xc3\xa9"), text(None), text("x")
    ('café', '', 'x')
    """
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def lua(name: str) -> str:
    """The Lua script ``name``.lua beside this module."""
    return (Path(__file__).parent / f"{name}.lua").read_text(encoding="utf-8")


def ping(client) -> bool:
    """Whether Redis answers; on a cluster, every primary (each holds some contacts)."""
    try:
        if isinstance(client, (RedisCluster, LazyRedisCluster)):
            return bool(client.ping(target_nodes=RedisCluster.PRIMARIES))
        return bool(client.ping())
    except STORE_DOWN:
        return False


def redis_client(url: str, timeout: float, cluster: bool = False) -> redis.Redis | LazyRedisCluster:
    """A client that fails fast: a webhook must answer within Twilio's 15 s.

    One retry, no backoff: with Redis down, a text gets the fail-safe reply in
    about ``2 * timeout`` rather than after redis-py's default retries.
    No ``health_check_interval``: its PING on every new connection has a
    retry of its own, so against a Redis that accepts connections but does
    not answer, each attempt first waited out two timeouts (4 s to the
    fail-safe, not 2 s). A pooled connection that went stale fails its
    command at once and the one retry reconnects, which is all the health
    check gave us.

    ``cluster``: ``url`` names one node of a Redis Cluster, and the client is
    a ``redis.cluster.RedisCluster`` with the same timeouts and one retry
    (redis-py retries at the cluster level, after refreshing the slot map),
    created on first use (see :class:`LazyRedisCluster`).
    """
    options = dict(socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 1))
    if cluster:
        return LazyRedisCluster(url, **options)
    return redis.Redis.from_url(url, **options)


def check_cluster_url(url: str | None) -> None:
    """Refuse to start on a REDIS_CLUSTER setting that can never work."""
    if not url:
        raise SystemExit("REDIS_CLUSTER=1 needs REDIS_URL naming a node of the cluster, "
                         "e.g. redis://10.0.0.5:6379 (see README, Configuration)")
    try:
        options = redis.connection.parse_url(url)
    except ValueError as exc:
        raise SystemExit(f"REDIS_URL: {exc}") from None
    if "path" in options:
        raise SystemExit("REDIS_CLUSTER=1: a Redis Cluster is reached over TCP (redis:// or rediss://), "
                         "not a unix socket")
    if int(options.get("db", 0)) != 0:
        raise SystemExit("REDIS_CLUSTER=1: a Redis Cluster has only database 0; drop the /<db> from REDIS_URL")


class LazyRedisCluster:
    """A ``redis.cluster.RedisCluster`` that connects on first use.

    RedisCluster asks a node for the cluster's layout as it is created, and
    raises when none answers. The server must start (and answer texts with
    the fail-safe) while Redis is down, as it does with one Redis, whose
    client connects lazily: so the cluster client is created by the first
    command that needs it, and again by the next one if that failed (raised
    as ``redis.ConnectionError``). Any other attribute is the real client's.
    """

    def __init__(self, url: str, **options):
        self.url = url
        self.options = options
        self._client: RedisCluster | None = None
        self._lock = threading.Lock()
        # A Script's SHA needs only the encoder, not a connection.
        self._encoder = redis.connection.Encoder(
            options.get("encoding", "utf-8"), options.get("encoding_errors", "strict"),
            options.get("decode_responses", False))

    @property
    def client(self) -> RedisCluster:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    try:
                        self._client = RedisCluster.from_url(self.url, **self.options)
                    except RedisClusterException as exc:  # not a RedisError
                        raise redis.ConnectionError(f"Redis Cluster: {exc}") from exc
        return self._client

    def get_encoder(self):
        return self._encoder

    def register_script(self, script) -> Script:
        return Script(self, script)

    def close(self) -> None:
        if self._client is not None:  # never connect just to close
            self._client.close()

    def __getattr__(self, name):
        if name.startswith("__"):  # copy, pickle and the like: not the client's
            raise AttributeError(name)
        return getattr(self.client, name)


WAITING_WHILE_UNANSWERED = 1
WAIT_FOR_A_PLACE = 0.1  # seconds
LOOK_AGAIN_EVERY = 0.01  # seconds: whether Redis answered the one waiting


class ThreadConnections:
    """Commands sent on a connection this thread keeps, not one checked out per command.

    Every text makes two round trips (open_turn, commit). Through the
    client, each command checks a connection out of the pool and back (a
    poll for unread data, fork checks, locks) and passes redis-py's
    per-command hooks; here each thread keeps one connection of the same
    pool, with the same timeouts and the same one retry, and sends on it
    with the connection's own public ``send_command``/``read_response``
    (BENCHMARKS.md, "A connection per thread").

    A command that cannot reach Redis or get its reply (refused, dropped,
    timed out) disconnects before the one retry, as the client does, and
    redis-py's connection disconnects itself when anything interrupts a
    read: no reply is ever left unread for the next command. An error reply
    (NOSCRIPT) is read whole and raised. The connection goes back to the
    pool when its thread ends; a forked child draws its own. One Redis only:
    a cluster client routes each command to its node itself.
    """

    def __init__(self, client: redis.Redis):
        self.pool = client.connection_pool
        self._threads = threading.local()
        # Once Redis has not answered, only WAITING_WHILE_UNANSWERED thread(s) of the process wait
        # for it at a time; the others fail at once (the fail-safe reply, or SALIR's line). With
        # Redis stalled, every text held a thread for two timeouts, and texts beyond the threads'
        # pace queued past Twilio's 15 s with no answer at all. Cleared by the first reply.
        self.unanswered = False
        self._waiting = threading.BoundedSemaphore(WAITING_WHILE_UNANSWERED)

    def execute(self, *args):
        """Send one command and return its reply, as ``client.execute_command`` does."""
        if not self.unanswered:
            return self._send(args)
        # A place frees within moments once Redis answers again (the waiters get their replies):
        # only while it still stalls does a text give up, after WAIT_FOR_A_PLACE. Once the one
        # waiting has its reply, the rest stop queueing: a text that took the place after it
        # may hold it for a whole round trip, and Redis is answering.
        deadline = time.monotonic() + WAIT_FOR_A_PLACE
        while not self._waiting.acquire(timeout=LOOK_AGAIN_EVERY):
            if not self.unanswered:
                return self._send(args)
            if time.monotonic() >= deadline:
                raise redis.ConnectionError("Redis did not answer just now, and others are already waiting for it")
        try:
            return self._send(args)
        finally:
            self._waiting.release()

    def _send(self, args):
        def send_and_read():
            conn.send_command(*args)
            return conn.read_response()

        try:
            conn = self._connection()  # a thread's first: made now, and it may be Redis that does not answer
            reply = conn.retry.call_with_retry(send_and_read, lambda error: conn.disconnect())
        except (redis.ConnectionError, redis.TimeoutError):
            self.unanswered = True
            raise
        self.unanswered = False
        return reply

    def _connection(self):
        held = getattr(self._threads, "client", None)
        # A forked child (its thread's locals copied) must not talk on its parent's socket: the
        # replies would cross. A new client draws a new connection (the pool resets in a child).
        if held is None or self._threads.pid != os.getpid():
            # A client holding one connection of the pool, given back when the thread's locals go.
            held = self._threads.client = redis.Redis(connection_pool=self.pool, single_connection_client=True)
            self._threads.pid = os.getpid()
        return held.connection
