"""Instructions per text, project against the baseline: a repeatable measure.

    python bench/instructions.py [--texts 300] [--warm 9000]

bench/run.py measures what matters (requests per second under gunicorn), but
on a shared machine its figures move by 10-20 % from one run to the next.
This counts instructions instead, with valgrind's callgrind, which gives the
same count for the same work whatever else the machine is doing: the app
(each WSGI app called in-process, without gunicorn, which both share) and the
Redis server, for the same kind of signed webhook texts as bench/run.py
(2,000 senders walking the same conversation, warmed up first so that
sessions are mid-conversation, as in bench/run.py's later rounds).

Each app runs in its own process under callgrind against its own Redis
server (the embedded one's binary, AOF on), also under callgrind; only the
measured texts are counted (``callgrind_control -i on/off``). Slow: about a
minute per app. Needs valgrind (Debian package ``valgrind``).
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [ROOT, HERE]

from run import TOKEN, webhook_forms  # noqa: E402  the same texts and token as bench/run.py


def child(which: str, texts: int, warm: int, redis_pid: int) -> None:
    """Runs under callgrind: warm up, then count ``texts`` texts (this process and Redis)."""
    from twilio.request_validator import RequestValidator

    if which == "project":
        from app import app
    else:
        from baseline import app
    url = "http://127.0.0.1:5000/twilio/messages"
    validator = RequestValidator(TOKEN)
    failsafe = 0

    def signed(form: dict) -> tuple[bytes, str]:
        return urllib.parse.urlencode(form).encode(), validator.compute_signature(url, form)

    def post(body: bytes, signature: str) -> None:
        nonlocal failsafe
        environ = {
            "REQUEST_METHOD": "POST", "PATH_INFO": "/twilio/messages", "QUERY_STRING": "", "SCRIPT_NAME": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "5000", "HTTP_HOST": "127.0.0.1:5000",
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
            "CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": str(len(body)),
            "HTTP_X_TWILIO_SIGNATURE": signature, "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
        }
        status = []
        for chunk in app(environ, lambda s, h, e=None: status.append(s)):
            failsafe += b"cannot answer right now" in chunk
        if not status[0].startswith("200"):
            raise SystemExit(f"{which}: HTTP {status[0]}")

    for form in webhook_forms(warm, 2000, "warm"):
        post(*signed(form))
    measured = [signed(form) for form in webhook_forms(texts, 2000, "count")]  # signed before counting starts
    for pid in (os.getpid(), redis_pid):
        subprocess.run(["callgrind_control", "-i", "on", str(pid)], check=True, capture_output=True)
    for body, signature in measured:
        post(body, signature)
    for pid in (os.getpid(), redis_pid):
        subprocess.run(["callgrind_control", "-i", "off", str(pid)], check=True, capture_output=True)
    if failsafe:
        raise SystemExit(f"{which}: {failsafe} fail-safe replies; the figures would mean nothing")


def total_instructions(out_file: str) -> int:
    text = subprocess.run(["callgrind_annotate", out_file], capture_output=True, text=True, check=True).stdout
    line = next(l for l in text.splitlines() if "PROGRAM TOTALS" in l)
    return int(line.split()[0].replace(",", ""))


def measure(which: str, args, tmp: str) -> tuple[float, float]:
    from bot.store.embedded import redis_server_binary

    folder = os.path.join(tmp, which)
    os.makedirs(folder)
    sock = os.path.join(folder, "redis.sock")
    redis_out, app_out = os.path.join(folder, "redis.cg"), os.path.join(folder, "app.cg")
    redis_proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={redis_out}",
         redis_server_binary(), "--port", "0", "--unixsocket", sock, "--dir", folder,
         "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import redis

        client = redis.Redis(unix_socket_path=sock, socket_timeout=60)
        deadline = time.time() + 120
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                if time.time() > deadline or redis_proc.poll() is not None:
                    raise SystemExit("redis-server under valgrind did not start")
                time.sleep(0.3)
        env = {**os.environ, "REDIS_URL": f"unix://{sock}", "TWILIO_AUTH_TOKEN": TOKEN, "SECRET_KEY": "bench-secret",
               "BOT_DATA_DIR": os.path.join(folder, "data"),
               "PUBLIC_URL": "http://127.0.0.1:5000",  # what child() signs for
               "PROMETHEUS_MULTIPROC_DIR": os.path.join(folder, "prometheus")}
        os.makedirs(env["PROMETHEUS_MULTIPROC_DIR"])
        subprocess.run(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={app_out}",
             sys.executable, os.path.abspath(__file__), "--child", which, "--texts", str(args.texts),
             "--warm", str(args.warm), "--redis-pid", str(redis_proc.pid)],
            cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            client.shutdown(nosave=True)
        except redis.RedisError:
            pass  # the connection closes as it shuts down
        redis_proc.wait(timeout=120)
    finally:
        if redis_proc.poll() is None:
            redis_proc.kill()
    return total_instructions(app_out) / args.texts, total_instructions(redis_out) / args.texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=300, help="texts counted per app")
    parser.add_argument("--warm", type=int, default=9000, help="texts before counting (not counted)")
    parser.add_argument("--child", choices=("project", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--redis-pid", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.texts, args.warm, args.redis_pid)
        return
    for tool in ("valgrind", "callgrind_control", "callgrind_annotate"):
        if not shutil.which(tool):
            raise SystemExit("valgrind is not installed: apt-get install valgrind")
    tmp = tempfile.mkdtemp(prefix="helpline-instructions-")
    try:
        figures = {which: measure(which, args, tmp) for which in ("project", "baseline")}
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"the counted run failed:\n{(exc.stderr or b'').decode()[-2000:]}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    (pa, pr), (ba, br) = figures["project"], figures["baseline"]
    print(f"instructions per text ({args.texts} texts after {args.warm} warm-up texts, 2000 senders)")
    print(f"  {'':10s} {'app':>12s} {'Redis':>12s} {'both':>12s}")
    for name, (a, r) in figures.items():
        print(f"  {name:10s} {a:12,.0f} {r:12,.0f} {a + r:12,.0f}")
    print(f"  {'ratio':10s} {pa / ba:12.2f} {pr / br:12.2f} {(pa + pr) / (ba + br):12.2f}")


if __name__ == "__main__":
    main()
