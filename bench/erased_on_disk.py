"""Bytes of an erased conversation left on disk, minute after minute.

    python bench/erased_on_disk.py [--minutes 2] [--every 15] [--root .]

Runs the service as the Procfile does (gunicorn with gunicorn.conf.py, which
starts the embedded Redis under a fresh ``BOT_DATA_DIR``), and over HTTP,
with signed requests, three people text it: a greeting, a request for a
person (someone is on duty), and two sentences each that appear nowhere
else. One of them then texts SALIR, a second one 10 s later (while the
rewrite after the first SALIR holds the minute), and the third stays. Every
``--every`` seconds for ``--minutes``, every file in the data folder is read
and searched for each of them (their number's digits, their two sentences
and their conversation's random id, which the events stream's entries of
their turns carry); the one who stays is the control that the search sees what is
there. Prints the bytes found: for those who left it should reach 0 within
``AOF_REWRITE_SECONDS`` (60) of their SALIR.

``--root`` runs another checkout of the project (say, the code before this
change, extracted with ``git archive``) with the same requests.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import redis  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from bot.helpline import contact_id  # noqa: E402

TOKEN = "bench-token"
LEAVES = ("+15558675309", ["mi patrón guarda mi pasaporte Qz7", "me deben tres meses de pago Qz7"])
LEAVES_LATER = ("+15552718281", ["they took my phone Vx2", "I sleep at the farm Vx2"])
STAYS = ("+15553141592", ["trabajo sin descanso Wk4", "no me dejan salir Wk4"])
LATER = 10.0  # seconds between the first SALIR and the second: inside the minute the first rewrite holds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def text(port: int, sender: str, body: str, n: list[int]) -> None:
    n[0] += 1
    form = {"MessageSid": f"SM{n[0]:032d}", "AccountSid": "AC" + "0" * 32, "From": sender,
            "To": "+15559990000", "Body": body, "NumMedia": "0"}
    url = f"http://127.0.0.1:{port}/twilio/messages"
    request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(),
                                     headers={"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(url, form)})
    with urllib.request.urlopen(request, timeout=15) as resp:
        assert resp.status == 200


CONVERSATIONS: dict[str, str] = {}  # number -> its conversation's id, read from its session


def found(folder: str, person: tuple[str, list[str]]) -> int:
    """Bytes of the person's number (its digits), sentences and conversation id in any file under ``folder``."""
    needles = [person[0].lstrip("+").encode()] + [s.encode() for s in person[1]]
    needles.append(CONVERSATIONS[person[0]].encode())
    total = 0
    for dirpath, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(dirpath, name)
            if not os.path.isfile(path) or name.endswith(".sock"):
                continue
            with open(path, "rb") as fh:
                data = fh.read()
            total += sum(data.count(needle) * len(needle) for needle in needles)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--every", type=float, default=15.0)
    parser.add_argument("--root", default=ROOT, help="the project checkout to run")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="helpline-disk-")
    data = os.path.join(tmp, "var")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")}
    # PUBLIC_URL: the URL the texts are signed for (the webhook checks signatures against it).
    env.update(TWILIO_AUTH_TOKEN=TOKEN, BOT_DATA_DIR=data, PORT=str(port), SECRET_KEY="bench-secret",
               PUBLIC_URL=f"http://127.0.0.1:{port}")
    log = open(os.path.join(tmp, "gunicorn.log"), "w")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:app"], cwd=args.root,
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise SystemExit(f"gunicorn did not start; see {log.name}")
                time.sleep(0.3)
        r = redis.Redis(unix_socket_path=os.path.join(data, "redis.sock"))
        r.set("hl:duty", "1", ex=3600)
        n = [0]
        for number, sentences in (LEAVES, LEAVES_LATER, STAYS):
            for body in ("hola", "PERSONA", *sentences):
                text(port, number, body, n)
            session = json.loads(r.get(f"hl:{{{contact_id(env['SECRET_KEY'], number)}}}:session"))
            CONVERSATIONS[number] = session["conv"]
        time.sleep(1.5)  # the AOF is written to disk every second
        print(f"{args.root}: bytes on disk before any SALIR: {found(data, LEAVES)}, {found(data, LEAVES_LATER)} "
              f"and {found(data, STAYS)}")
        text(port, LEAVES[0], "SALIR", n)
        started = time.monotonic()
        later = False
        print(f" after the first SALIR   of who left   of who left {LATER:g} s later   of who stays (control)")
        while True:
            elapsed = time.monotonic() - started
            if not later and elapsed >= LATER:
                text(port, LEAVES_LATER[0], "SALIR", n)
                later = True
            print(f"  {elapsed:6.1f} s  {found(data, LEAVES):16d} B  {found(data, LEAVES_LATER):24d} B"
                  f"  {found(data, STAYS):20d} B", flush=True)
            if elapsed >= args.minutes * 60:
                break
            wait = args.every - (time.monotonic() - started - elapsed)
            if not later and elapsed + wait > LATER:
                wait = LATER - elapsed
            time.sleep(max(0.0, wait))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
