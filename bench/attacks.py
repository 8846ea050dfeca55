"""What an anonymous sender can do to the running service, with and without the proxy.

    python bench/attacks.py [--code DIR] [--slow 40] [--seconds 20]

Starts the production stack as real processes (``tests/stack.py``): a
redis-server of its own, gunicorn as ``deploy/Procfile`` runs it (2 gthread
workers of 4 threads, on loopback), and Debian's nginx with
``deploy/nginx.conf`` in front. Then, against gunicorn directly ("direct")
and through nginx ("proxy"):

1. **Bad input**: a table of malformed, unsigned, oversized and smuggling
   requests; the status each gets, and how many got a 5xx.
2. **Slow bodies**: ``--slow`` connections each announce a 4,000-byte form
   and send it a byte every 2 s; meanwhile a signed text is sent every
   second for ``--seconds`` seconds, as Twilio sends it (new connection, 15 s
   timeout): how many were answered, and the worst latency. Then the same
   with the headers sent a byte every 2 s (slowloris).
3. **Oversize**: a 300 MB upload and a 4.9 MB form of 500,000 fields, each
   with a signature header, while texts keep coming: the time to the
   refusal, what the server read, spooled to disk (its TMPDIR) and spent in
   CPU, and the texts answered meanwhile.

``--code DIR`` runs another checkout's app (e.g. ``git archive main | tar -x
-C /tmp/main``) with this checkout's deploy/ files: the same attacks against
the code before a change. Figures go to stdout as tables.
"""
from __future__ import annotations

import argparse
import os
import select
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from tests.helpers import inbound, sign  # noqa: E402
from tests.servers import RedisProcess  # noqa: E402
from tests.stack import NGINX, Gunicorn, Nginx, SlowBodies, text  # noqa: E402

TWILIO_TIMEOUT = 15.0
FORM = "application/x-www-form-urlencoded"


# --- raw HTTP -------------------------------------------------------------------------------


def raw(port: int, head: bytes, body=b"", timeout: float = 20.0, half_close: bool = False
        ) -> tuple[int | None, float, int]:
    """Send ``head`` then ``body`` (bytes, or an iterable of chunks) until the
    server answers or closes; (status or None, seconds, body bytes sent).
    ``half_close``: then say no more will come (shutdown for writing)."""
    start = time.monotonic()
    sent = 0
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(head)
        chunks = [body] if isinstance(body, bytes) else body
        for chunk in chunks:
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered (or closed) before taking it all
            try:
                sock.sendall(chunk)
            except OSError:
                break
            sent += len(chunk)
            if time.monotonic() - start > timeout:
                break
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        sock.settimeout(max(0.1, timeout - (time.monotonic() - start)))
        data = b""
        try:
            while b"\r\n" not in data:
                more = sock.recv(4096)
                if not more:
                    break
                data += more
        except OSError:
            pass
    finally:
        sock.close()
    line = data.split(b"\r\n", 1)[0].split()
    status = int(line[1]) if len(line) > 1 and line[1].isdigit() else None
    return status, time.monotonic() - start, sent


def request(method: str, path: str, port: int, headers: dict | None = None, length: int | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# --- 1. bad input -------------------------------------------------------------------------------


def bad_inputs(port: int, public: str) -> list[tuple[str, int | None]]:
    """(kind, status) for each malformed request (None: closed without an answer)."""
    from urllib.parse import urlencode

    url = public + "/twilio/messages"
    fake = {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}
    form = {"Content-Type": FORM}

    def signed(fields: dict, raw_tail: str = "") -> tuple[bytes, dict]:
        body = urlencode(fields)
        if raw_tail:
            body += "&" + raw_tail
        from flask import Request
        from werkzeug.test import EnvironBuilder

        read = Request(EnvironBuilder(method="POST", data=body.encode(), content_type=FORM).get_environ()).form
        return body.encode(), {**form, "X-Twilio-Signature": sign(url, read)}

    def post(headers: dict, body: bytes = b"", path: str = "/twilio/messages") -> int | None:
        return raw(port, request("POST", path, port, headers, len(body)), body)[0]

    rows = []

    def row(kind: str, status: int | None) -> None:
        rows.append((kind, status))

    n = [0]

    def sender() -> str:
        n[0] += 1
        return f"+1555011{n[0]:04d}"

    row("GET on the webhook", raw(port, request("GET", "/twilio/messages", port))[0])
    row("unsigned form", post(form, b"From=%2B15550110000&Body=hola"))
    row("wrong signature", post({**form, **fake}, b"From=%2B15550110000&Body=hola"))
    row("signed, JSON body", post({"Content-Type": "application/json", **fake}, b'{"Body": "hola"}'))
    row("signed, multipart body", post({"Content-Type": "multipart/form-data; boundary=x", **fake},
                                       b'--x\r\nContent-Disposition: form-data; name="Body"\r\n\r\nhola\r\n--x--\r\n'))
    row("signed, text/plain", post({"Content-Type": "text/plain", **fake}, b"hola"))
    row("signed, no content type", post(fake, b"Body=hola"))
    row("signed, chunked body", raw(port, request("POST", "/twilio/messages", port,
                                                  {**form, **fake, "Transfer-Encoding": "chunked"}),
                                    b"9\r\nBody=hola\r\n0\r\n\r\n")[0])
    row("Content-Length and chunked both (smuggling)", raw(port, request(
        "POST", "/twilio/messages", port, {**form, **fake, "Transfer-Encoding": "chunked"}, 9),
        b"9\r\nBody=hola\r\n0\r\n\r\n")[0])
    row("two Content-Lengths (smuggling)", raw(port, request(
        "POST", "/twilio/messages", port, {**form, **fake, "Content-Length": "4"}, 9), b"Body=hola")[0])
    row("Content-Length not a number", raw(port, request("POST", "/twilio/messages", port,
                                                         {**form, **fake, "Content-Length": "-1"}), b"Body=hola")[0])
    row("Content-Length larger than the body, then closed", raw(port, request(
        "POST", "/twilio/messages", port, {**form, **fake}, 500), b"Body=hola", timeout=12, half_close=True)[0])
    row("signed, 65 KB form (over the cap)", post({**form, **fake}, b"Body=" + b"x" * 66_000))
    row("16 KB header", raw(port, request("POST", "/twilio/messages", port, {**form, "X-Pad": "x" * 16_000}, 0))[0])
    row("200 headers", raw(port, request("POST", "/twilio/messages", port,
                                         {**form, **{f"X-H{i}": "x" for i in range(200)}}, 0))[0])
    row("10 KB URL", raw(port, request("GET", "/ops/" + "x" * 10_000, port))[0])
    row("invalid method", raw(port, b"FOO / HTTP/1.1\r\nHost: x\r\n\r\n")[0])
    row("HTTP/1.0 without Host", raw(port, b"GET /healthz HTTP/1.0\r\n\r\n")[0])
    row("not HTTP at all", raw(port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40 + b"\r\n\r\n")[0])
    row("path with ../", raw(port, request("GET", "/ops/static/../../app.py", port))[0])
    row("sign-in without CSRF token", post(form, b"username=a&password=b", path="/ops/login"))
    row("sign-in with a 1 MB form", post(form, b"username=" + b"a" * 1_000_000, path="/ops/login"))
    row("console page, not signed in", raw(port, request("GET", "/ops/", port))[0])
    for kind, fields, tail in [
        ("signed, invalid UTF-8 in the body", {"From": sender(), "MessageSid": "SMbad1"}, "Body=%FF%FE%C3"),
        ("signed, lone surrogate", {"From": sender(), "MessageSid": "SMbad2"}, "Body=%ED%A0%80"),
        ("signed, 10,000 characters", inbound("ayuda " * 1666, sender=sender()), ""),
        ("signed, 1,600 emoji", inbound("🆘" * 1600, sender=sender()), ""),
        ("signed, control characters", inbound("\x00\x07\x1b[2J\x7f", sender=sender()), ""),
        ("signed, no sender", {"Body": "hola", "MessageSid": "SMbad3"}, ""),
        ("signed, NumMedia not a number", inbound("", sender=sender(), NumMedia="lots"), ""),
        ("signed, 500 repeated Body fields", {"From": sender(), "MessageSid": "SMbad4"}, "&".join(["Body=1"] * 500)),
    ]:
        body, headers = signed(fields, tail)
        row(kind, post(headers, body))
    return rows


# --- 2. slow bodies; 3. oversize ----------------------------------------------------------------------


class Texts:
    """A signed text every ``every`` seconds, each in its own thread, as Twilio sends them."""

    def __init__(self, port: int, public: str, every: float = 1.0):
        self.base, self.public, self.every = f"http://127.0.0.1:{port}", public, every
        self.results: list[tuple[float, int | None, list[str]]] = []
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._loop = threading.Thread(target=self._run, daemon=True)

    def _one(self, i: int) -> None:
        self.results.append(text(self.base, self.public, "hola" if i % 5 == 0 else "MENU", sender=f"+1555012{i:04d}"))

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            t = threading.Thread(target=self._one, args=(i,), daemon=True)
            t.start()
            self._threads.append(t)
            i += 1
            self._stop.wait(self.every)

    def __enter__(self) -> "Texts":
        self._loop.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._loop.join()
        for t in self._threads:
            t.join(TWILIO_TIMEOUT + 2)

    def summary(self) -> str:
        answered = [s for s, status, replies in self.results if status == 200 and replies]
        worst = max((s for s, _, _ in self.results), default=0.0)
        timeouts = sum(1 for _, status, _ in self.results if status is None)
        median = statistics.median(answered) if answered else float("nan")
        return (f"{len(answered)}/{len(self.results)} texts answered, median {median:.3f} s, "
                f"worst {worst:.2f} s{f' ({timeouts} gave up at 15 s)' if timeouts else ''}")


def slow_bodies(port: int, public: str, count: int, seconds: float, headers: bool = False) -> str:
    with SlowBodies(port, count=count, interval=2.0, headers=headers) as attack:
        time.sleep(2.5)
        with Texts(port, public) as texts:
            time.sleep(seconds)
        still = attack.open
    return f"{texts.summary()}; {still}/{count} slow connections still open at the end"


def spooled_bytes(gunicorn: Gunicorn, tmp: Path) -> int:
    """Bytes in files gunicorn's processes hold open under ``tmp`` (werkzeug
    spools an upload to an unnamed temporary file there: no name to list)."""
    total = 0
    for pid in gunicorn.pids():
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd).startswith(str(tmp)):
                    total += os.stat(fd).st_size
            except OSError:
                continue
    return total


def oversize(port: int, public: str, gunicorn: Gunicorn, kind: str) -> str:
    """One oversized request with a signature header, while texts keep coming."""
    tmp = Path(gunicorn.env["TMPDIR"])
    fake = {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}
    if kind == "300 MB upload":
        size = 300 * 1024 * 1024
        boundary = "b0undary"
        head = request("POST", "/twilio/messages", port, {"Content-Type": f"multipart/form-data; boundary={boundary}",
                                                          **fake}, size)
        part = (f'--{boundary}\r\nContent-Disposition: form-data; name="f"; filename="x.bin"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n").encode()
        chunk = b"\0" * 65536

        def body():
            yield part
            left = size - len(part)
            while left > 0:
                yield chunk[:left]
                left -= len(chunk)
    else:  # 4.9 MB form of 500,000 fields
        fields = "&".join(f"f{i}=" for i in range(500_000)).encode()
        head = request("POST", "/twilio/messages", port, {"Content-Type": FORM, **fake}, len(fields))

        def body():
            for i in range(0, len(fields), 65536):
                yield fields[i:i + 65536]
    spooled = [0]
    done = threading.Event()

    def watch():
        while not done.wait(0.05):
            spooled[0] = max(spooled[0], spooled_bytes(gunicorn, tmp))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    cpu_before = gunicorn.cpu_seconds()
    with Texts(port, public, every=0.5) as texts:
        status, seconds, sent = raw(port, head, body(), timeout=60)
        time.sleep(1.0)
    done.set()
    watcher.join()
    cpu = gunicorn.cpu_seconds() - cpu_before
    return (f"answer {status} after {seconds:.2f} s; client sent {sent / 1e6:.1f} MB; spooled to disk "
            f"{spooled[0] / 1e6:.1f} MB; gunicorn CPU {cpu:.2f} s; meanwhile {texts.summary()}")


# --- main ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", default=str(ROOT), help="checkout whose app runs (default: this one)")
    parser.add_argument("--slow", type=int, default=40, help="slow-body connections")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="how long texts are sent under the slow-body attack")
    args = parser.parse_args()
    if not os.path.exists(NGINX):
        raise SystemExit(f"{NGINX} is missing: apt-get install nginx")
    folder = Path(tempfile.mkdtemp(prefix="helpline-attacks-"))
    redis_proc = RedisProcess(folder / "redis").start()
    nginx = Nginx(folder / "nginx")
    (folder / "tmp").mkdir()
    gunicorn = Gunicorn(folder / "gunicorn", redis_proc.url, public_url=nginx.base, repo=Path(args.code),
                        TMPDIR=str(folder / "tmp"))
    try:
        gunicorn.start()
        nginx.start(upstream=gunicorn.port)
        public = nginx.base
        print(f"code: {args.code}; gunicorn {gunicorn.base} (2 workers x 4 threads), nginx {nginx.base}; "
              f"{os.cpu_count()} CPUs", flush=True)
        targets = {"direct": gunicorn.port, "proxy": nginx.port}

        tables = {name: dict(bad_inputs(port, public)) for name, port in targets.items()}
        print("\n1. Bad input: status per kind (direct to gunicorn | through nginx)")
        print("| kind | direct | proxy |\n|---|---|---|")
        for kind in tables["direct"]:
            print(f"| {kind} | {tables['direct'][kind] or 'closed'} | {tables['proxy'][kind] or 'closed'} |")
        for name, table in tables.items():
            fivexx = [k for k, s in table.items() if s is not None and s >= 500]
            print(f"{name}: {len(table)} kinds, {len(fivexx)} answered 5xx{': ' + ', '.join(fivexx) if fivexx else ''}")

        print(f"\n2. Slow senders: {args.slow} connections, a byte every 2 s; a signed text every second "
              f"for {args.seconds:g} s", flush=True)
        for headers in (False, True):
            for name, port in targets.items():
                what = "slow headers" if headers else "slow bodies"
                print(f"  {what}, {name}: {slow_bodies(port, public, args.slow, args.seconds, headers)}", flush=True)
                time.sleep(3)  # the threads the attack held are free again before the next

        print("\n3. Oversize, each with a signature header; a signed text every 0.5 s meanwhile", flush=True)
        for kind in ("300 MB upload", "4.9 MB form of 500,000 fields"):
            for name, port in targets.items():
                print(f"  {kind}, {name}: {oversize(port, public, gunicorn, kind)}", flush=True)
    finally:
        nginx.stop()
        gunicorn.stop()
        redis_proc.kill()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
