"""Same-sender bursts: 10 texts from one number at once, against gunicorn.

    python bench/burst.py [--burst 10] [--rounds 30]

Someone pastes a long message that arrives as ten SMS, or taps a button
repeatedly: the texts come in at the same moment and must be handled one
after another (the per-contact lock), all answered, none lost. Each round
sends ``--burst`` signed texts from a new number at once (one thread each)
and checks that every one got a real reply and that the session counted all
of them: each is a reply the bot does not understand, so after n of them
help was shown n // 3 times and the miss count is n % 3 (a lost update breaks
that). It reports the worst and median latency of a burst, against the
latency of a single text measured in the same run.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

import redis  # noqa: E402
from run import TOKEN, free_port, start_gunicorn  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from bot.store.embedded import ensure_server  # noqa: E402
from bot.helpline import contact_id  # noqa: E402

HOTLINE = "1-888-373-7888"  # in the help text (every third miss), never in a re-prompt


def post(url: str, form: dict) -> tuple[float, int, str]:
    data = urllib.parse.urlencode(form).encode()
    sig = RequestValidator(TOKEN).compute_signature(url, form)
    req = urllib.request.Request(url, data=data, headers={"X-Twilio-Signature": sig})
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=20) as resp:
        body = resp.read().decode()
        return time.perf_counter() - t, resp.status, body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--burst", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="helpline-burst-")
    server = ensure_server(os.path.join(tmp, "redis"))
    port = free_port()
    env = {**os.environ, "REDIS_URL": server.url, "TWILIO_AUTH_TOKEN": TOKEN, "SECRET_KEY": "bench-secret",
           "BOT_DATA_DIR": os.path.join(tmp, "data")}
    proc = start_gunicorn("app:app", port, env, os.path.join(tmp, "gunicorn.log"))
    url = f"http://127.0.0.1:{port}/twilio/messages"
    r = redis.Redis.from_url(server.url, decode_responses=True)
    singles, worst, medians, lost, failed = [], [], [], 0, 0
    try:
        sid = 0
        for rnd in range(args.rounds):
            sender = f"+1555{rnd:07d}"
            sid += 1
            post(url, {"From": sender, "Body": "hola", "MessageSid": f"SMb{sid:030d}"})  # greeting + menu
            sid += 1
            singles.append(post(url, {"From": sender, "Body": "qwerty", "MessageSid": f"SMb{sid:030d}"})[0])
            results, barrier = [], threading.Barrier(args.burst)

            def one(n: int) -> None:
                barrier.wait()
                results.append(post(url, {"From": sender, "Body": f"qwerty {n}", "MessageSid": f"SMb{rnd:06d}x{n:020d}"}))

            threads = [threading.Thread(target=one, args=(n,)) for n in range(args.burst)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            latencies = [lat for lat, _, _ in results]
            worst.append(max(latencies))
            medians.append(statistics.median(latencies))
            failed += sum(1 for _, status, body in results if status != 200 or "cannot answer right now" in body)
            total = args.burst + 1  # the single miss before the burst counts too
            helps = sum(1 for _, _, body in results if HOTLINE in body)
            session = json.loads(r.get(f"hl:{{{contact_id('bench-secret', sender)}}}:session") or "{}")
            single_help = 0  # the single miss was the first: a re-prompt
            if int(session.get("miss", -1)) != total % 3 or helps + single_help != total // 3:
                lost += 1
        print(f"{args.rounds} bursts of {args.burst} texts from one number at once (gunicorn as the Procfile runs it):")
        print(f"  single text:        median {statistics.median(singles) * 1000:7.1f} ms")
        print(f"  burst, each text:   median {statistics.median(medians) * 1000:7.1f} ms")
        print(f"  burst, worst text:  median {statistics.median(worst) * 1000:7.1f} ms, worst of all {max(worst) * 1000:7.1f} ms"
              f"  ({max(worst) / statistics.median(singles):.1f}x a single text; Twilio waits 15,000 ms)")
        print(f"  answered: {args.rounds * args.burst - failed}/{args.rounds * args.burst}, bursts with a lost update: {lost}")
        print("verdict:", "all answered, none lost" if not failed and not lost else "PROBLEMS")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
