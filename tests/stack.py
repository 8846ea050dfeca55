"""The production stack as real processes: gunicorn as ``deploy/Procfile``
runs it, Debian's nginx with ``deploy/nginx.conf`` in front of it.

Used by ``tests/test_proxy.py`` and ``bench/attacks.py``. Everything runs as
the current user on free loopback ports, in a folder of its own; the only
changes made to the shipped files are the ports (each substitution must
match exactly once, so a changed file fails loudly rather than silently
testing something else). nginx gets a minimal main configuration that
includes the site file the way Debian's ``/etc/nginx/nginx.conf`` does.
"""
from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from tests.helpers import AUTH_TOKEN, REPO, inbound, messages, sign
from tests.servers import free_port, wait_until

NGINX = "/usr/sbin/nginx"
SECRET = "test-secret"


def _substitute(text: str, old: str, new: str) -> str:
    if text.count(old) != 1:
        raise AssertionError(f"expected {old!r} exactly once in the shipped file")
    return text.replace(old, new)


def procfile_web(path: Path, port: int) -> tuple[dict[str, str], list[str]]:
    """The ``web:`` line of a Procfile: its leading VAR=value settings, and its
    command (gunicorn from this Python), with ``--bind 127.0.0.1:8000`` moved to ``port``."""
    line = next(line for line in path.read_text().splitlines() if line.startswith("web:"))
    words = shlex.split(line.split(":", 1)[1])
    env = {}
    while "=" in words[0]:
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    assert words[0] == "gunicorn" and words[-1] == "app:app", words
    bind = words.index("--bind")
    assert words[bind + 1] == "127.0.0.1:8000", words
    words[bind + 1] = f"127.0.0.1:{port}"
    return env, [sys.executable, "-m", "gunicorn", *words[1:]]


class Gunicorn:
    """``deploy/Procfile``'s web process on a loopback port (``repo``: which checkout runs)."""

    def __init__(self, folder: Path, redis_url: str, public_url: str, repo: Path = REPO, **env: str):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.repo = Path(repo)
        settings, self.command = procfile_web(REPO / "deploy" / "Procfile", self.port)
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("REDIS_CLUSTER", "FLOWS_DIR", "LOCALES_DIR", "GUNICORN_ACCESS_LOG", "PORT")}
        self.env.update(settings)
        self.env.update(REDIS_URL=redis_url, TWILIO_AUTH_TOKEN=AUTH_TOKEN, SECRET_KEY=SECRET, PUBLIC_URL=public_url,
                        BOT_DATA_DIR=str(self.folder / "var"), PYTHONUNBUFFERED="1", **env)
        self.log = self.folder / "gunicorn.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Gunicorn":
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(self.command, cwd=self.repo, env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

        def healthy():
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                return requests.get(self.base + "/healthz", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_until(healthy, 30, what="gunicorn to answer /healthz")
        return self

    def pids(self) -> list[int]:
        """The master and its workers."""
        found = [self.proc.pid]
        for proc in Path("/proc").iterdir():
            try:
                parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) if proc.name.isdigit() else 0
                if parent == self.proc.pid:
                    found.append(int(proc.name))
            except (OSError, ValueError):
                continue
        return found

    def cpu_seconds(self) -> float:
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / ticks
        return total

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=25)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def site_config(listen: int, upstream: int) -> str:
    """deploy/nginx.conf, listening on 127.0.0.1:``listen`` and proxying to ``upstream``."""
    text = (REPO / "deploy" / "nginx.conf").read_text()
    text = _substitute(text, "    listen 80;\n", f"    listen 127.0.0.1:{listen};\n")
    text = _substitute(text, "    listen [::]:80;\n", "")
    return _substitute(text, "server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};")


class Nginx:
    """Debian's nginx, not as a daemon, with deploy/nginx.conf in front of a port."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()  # known before the start: it is the app's PUBLIC_URL
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, upstream: int) -> "Nginx":
        f = self.folder
        (f / "helpline.conf").write_text(site_config(self.port, upstream))
        kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        temp = "".join(f"    {kind}_temp_path {f / kind};\n" for kind in kinds)
        # As root, nginx would run its workers as `nobody`, who cannot write here.
        user = "user root;\n" if os.geteuid() == 0 else ""
        (f / "nginx.conf").write_text(
            f"{user}worker_processes 1;\npid {f / 'nginx.pid'};\nerror_log {f / 'error.log'};\n"
            "events { worker_connections 1024; }\n"
            f"http {{\n{temp}    include {f / 'helpline.conf'};\n}}\n")
        args = [NGINX, "-p", str(f), "-c", str(f / "nginx.conf"), "-e", str(f / "error.log"), "-g", "daemon off;"]
        check = subprocess.run([*args, "-t"], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t refused the configuration:\n{check.stderr}")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.proc.returncode}:\n{(f / 'error.log').read_text()}")
            try:
                return requests.get(self.base + "/healthz", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_until(up, 15, what="nginx to answer /healthz")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: its workers go too
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def text(base: str, public_url: str, body: str, sender: str,
         timeout: float = 15.0) -> tuple[float, int | None, list[str]]:
    """One signed text to ``base`` as Twilio sends it (new connection, 15 s
    timeout, signed for ``public_url``): (seconds, status or None, replies)."""
    form = inbound(body, sender=sender)
    start = time.monotonic()
    try:
        resp = requests.post(base + "/twilio/messages", data=form, timeout=timeout,
                             headers={"X-Twilio-Signature": sign(public_url + "/twilio/messages", form)})
    except requests.RequestException:
        return time.monotonic() - start, None, []
    elapsed = time.monotonic() - start
    return elapsed, resp.status_code, (messages(resp.content) if resp.status_code == 200 else [])


class SlowBodies:
    """``count`` connections that each announce a small signed-looking form
    and then send it one byte every ``interval`` seconds (a slow-body attack;
    nothing in it is valid, but the server cannot know until it has it all).
    ``headers=True``: the headers themselves come a byte at a time (slowloris)."""

    def __init__(self, port: int, count: int = 40, interval: float = 2.0, path: str = "/twilio/messages",
                 headers: bool = False):
        self.port, self.count, self.interval, self.path = port, count, interval, path
        self.headers = headers
        self.socks: list[socket.socket] = []
        self.closed = 0  # connections the server dropped
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drip, daemon=True)

    def __enter__(self) -> "SlowBodies":
        head = (f"POST {self.path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 4000\r\n"
                "X-Twilio-Signature: bm90IGEgc2lnbmF0dXJl\r\n\r\n").encode()
        if self.headers:
            head = head.split(b"\r\n", 1)[0] + b"\r\n"  # the request line; then a header byte at a time
        for _ in range(self.count):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sock.sendall(head)
            self.socks.append(sock)
        self._thread.start()
        return self

    def _drip(self) -> None:
        while not self._stop.wait(self.interval):
            for sock in list(self.socks):
                try:
                    sock.sendall(b"X" if self.headers else b"x")
                except OSError:
                    self.socks.remove(sock)
                    self.closed += 1

    @property
    def open(self) -> int:
        return len(self.socks)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 1)
        for sock in self.socks:
            sock.close()
