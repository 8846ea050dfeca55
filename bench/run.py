"""Throughput and latency of the webhook, against a bare Flask+Redis baseline.

    python bench/run.py [--duration 10] [--rounds 5] [--connections 32]

Starts one Redis server (the embedded one, AOF on, as a default deployment),
the project under gunicorn exactly as the Procfile does, and the baseline
(bench/baseline.py: one GET and one SET per request) under the same gunicorn
flags. Both get the same signed Twilio webhook requests: unique MessageSids,
many senders, each sender walking a realistic conversation. wrk drives them
in rounds, each round one run of each, back to back, in alternating order
(project then baseline, then baseline then project, ...): on a shared machine
the speed drifts from one minute to the next, and a pair of runs seconds
apart sees the same machine, while the alternating order cancels a drift
within a round. Each round gives its ratios; the verdict is on their median
(the medians of each app's own figures are printed too).

Needs wrk (Debian package `wrk`).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from twilio.request_validator import RequestValidator  # noqa: E402

from bot.store.embedded import ensure_server  # noqa: E402

TOKEN = "bench-token"
# What a sender types, turn after turn: first contact, a menu, the screening.
CONVERSATION = ["hola", "1", "1", "1", "no", "si", "no", "si", "no", "no", "no", "no", "no", "no", "no", "menu", "4", "1"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def webhook_forms(count: int, senders: int, round_id: str) -> list[dict]:
    """``count`` webhook forms, each a new MessageSid, from ``senders`` numbers
    picked at random, each number walking CONVERSATION turn after turn."""
    rng = random.Random(round_id)
    turn: dict[str, int] = {}
    out = []
    for n in range(count):
        sender = f"+1555{rng.randrange(senders):07d}"
        step = turn.get(sender, 0)
        turn[sender] = step + 1
        out.append({
            "MessageSid": f"SM{round_id}{n:020d}",
            "AccountSid": "AC" + "0" * 32,
            "From": sender,
            "To": "+15559990000",
            "Body": CONVERSATION[step % len(CONVERSATION)],
            "NumMedia": "0",
        })
    return out


def write_requests(path: str, port: int, count: int, senders: int, round_id: str) -> None:
    """One raw HTTP request per line (CRLF escaped), each signed, each a new MessageSid."""
    validator = RequestValidator(TOKEN)
    url = f"http://127.0.0.1:{port}/twilio/messages"
    with open(path, "w") as fh:
        for form in webhook_forms(count, senders, round_id):
            body = urllib.parse.urlencode(form)
            sig = validator.compute_signature(url, form)
            raw = (
                f"POST /twilio/messages HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Content-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: {sig}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n{body}"
            )
            fh.write(raw.replace("\r\n", "\\n") + "\n")


def start_gunicorn(module: str, port: int, env: dict, log: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "gunicorn", "-c", os.path.join(ROOT, "gunicorn.conf.py"), module]
    env = {**env, "PORT": str(port), "PUBLIC_URL": f"http://127.0.0.1:{port}"}  # the URL the texts are signed for
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc
        except urllib.error.HTTPError:
            return proc  # the baseline has no /healthz: a 404 means it is up
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{module} did not start; see {log}")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time used so far by these processes (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def workers_of(proc: subprocess.Popen) -> list[int]:
    """The gunicorn master's worker processes."""
    try:
        with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as fh:
            return [int(pid) for pid in fh.read().split()]
    except OSError:
        return []


def run_wrk(port: int, requests_file: str, args, app_pids: list[int], redis_pid: int | None) -> dict:
    env = {**os.environ, "REQUESTS_FILE": requests_file, "WRK_THREADS": str(args.threads)}
    app_before, redis_before = cpu_seconds(app_pids), cpu_seconds([redis_pid] if redis_pid else [])
    out = subprocess.run(
        ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{args.duration}s", "--timeout", "15s",
         "-s", os.path.join(HERE, "wrk.lua"), f"http://127.0.0.1:{port}/twilio/messages"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout
    line = next(l for l in out.splitlines() if l.startswith("WRK_JSON "))
    figures = json.loads(line[len("WRK_JSON "):])
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    # CPU per request, in microseconds: where the machine's two cores went.
    figures["app_cpu_us"] = (cpu_seconds(app_pids) - app_before) / figures["requests"] * 1e6
    figures["redis_cpu_us"] = (cpu_seconds([redis_pid] if redis_pid else []) - redis_before) / figures["requests"] * 1e6
    figures["errors"] = sum(figures[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts", "non200"))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=5, help="rounds: one run of each, order alternating")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--senders", type=int, default=2000, help="distinct phone numbers")
    parser.add_argument("--workers", default=os.environ.get("WEB_CONCURRENCY", "2"), help="gunicorn workers (WEB_CONCURRENCY)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")

    tmp = tempfile.mkdtemp(prefix="helpline-bench-")
    server = ensure_server(os.path.join(tmp, "redis"))
    env = {
        **os.environ,
        "REDIS_URL": server.url,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "SECRET_KEY": "bench-secret",
        "BOT_DATA_DIR": os.path.join(tmp, "data"),
        "WEB_CONCURRENCY": str(args.workers),
    }
    procs = {}
    try:
        ports = {"project": free_port(), "baseline": free_port()}
        procs["project"] = start_gunicorn("app:app", ports["project"], env, os.path.join(tmp, "project.log"))
        procs["baseline"] = start_gunicorn("bench.baseline:app", ports["baseline"], env, os.path.join(tmp, "baseline.log"))
        # Enough unique requests for the fastest plausible rate, so no MessageSid repeats.
        count = 6000 * args.duration
        results = {"project": [], "baseline": []}
        print(f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s, {args.rounds} rounds, "
              f"gunicorn workers={args.workers}, {args.senders} senders, {os.cpu_count()} CPUs", flush=True)
        pairs = []  # (throughput ratio, p99 ratio) of each round
        for rnd in range(args.rounds):
            for name in (("project", "baseline") if rnd % 2 == 0 else ("baseline", "project")):
                path = os.path.join(tmp, f"{name}-{rnd}.txt")
                write_requests(path, ports[name], count, args.senders, f"{rnd}{name[0]}")
                fig = run_wrk(ports[name], path, args, workers_of(procs[name]), server.pid)
                results[name].append(fig)
                print(f"  round {rnd + 1} {name:8s} {fig['rps']:8.0f} req/s  p50 {fig['p50_us'] / 1000:6.2f} ms  "
                      f"p99 {fig['p99_us'] / 1000:6.2f} ms  errors {fig['errors']}  fail-safe {fig['failsafe']}  "
                      f"CPU/request: app {fig['app_cpu_us']:4.0f} us, Redis {fig['redis_cpu_us']:3.0f} us", flush=True)
                os.unlink(path)
            p, b = results["project"][-1], results["baseline"][-1]
            pairs.append((p["rps"] / b["rps"], p["p99_us"] / b["p99_us"]))
            print(f"  round {rnd + 1} ratios: throughput {pairs[-1][0]:.2f}, p99 {pairs[-1][1]:.2f}", flush=True)
        summary = {}
        for name, runs in results.items():
            summary[name] = {
                "rps": statistics.median(r["rps"] for r in runs),
                "p50_ms": statistics.median(r["p50_us"] for r in runs) / 1000,
                "p99_ms": statistics.median(r["p99_us"] for r in runs) / 1000,
                "errors": sum(r["errors"] for r in runs),
                "failsafe": sum(r["failsafe"] for r in runs),
                "app_cpu_us": statistics.median(r["app_cpu_us"] for r in runs),
                "redis_cpu_us": statistics.median(r["redis_cpu_us"] for r in runs),
            }
        p, b = summary["project"], summary["baseline"]
        print("\nmedian of rounds      req/s      p50 ms     p99 ms   errors  fail-safe   app CPU us/req  Redis CPU us/req")
        for name in ("project", "baseline"):
            s = summary[name]
            print(f"  {name:10s} {s['rps']:12.0f} {s['p50_ms']:11.2f} {s['p99_ms']:10.2f} {s['errors']:8d} {s['failsafe']:10d}"
                  f" {s['app_cpu_us']:16.0f} {s['redis_cpu_us']:17.0f}")
        thr = statistics.median(t for t, _ in pairs)
        p99 = statistics.median(q for _, q in pairs)
        rounds_thr = ", ".join(f"{t:.2f}" for t, _ in pairs)
        rounds_p99 = ", ".join(f"{q:.2f}" for _, q in pairs)
        print(f"\nthroughput ratio project/baseline: {thr:.2f} (target >= 0.60; rounds {rounds_thr}; "
              f"ratio of the medians {p['rps'] / b['rps']:.2f})")
        print(f"p99 ratio project/baseline:        {p99:.2f} (target <= 2.00; rounds {rounds_p99}; "
              f"ratio of the medians {p['p99_ms'] / b['p99_ms']:.2f})")
        ok = thr >= 0.6 and p99 <= 2.0 and p["errors"] == 0 and p["failsafe"] == 0
        print("verdict:", "MEETS the targets" if ok else "MISSES the targets")
    finally:
        for proc in procs.values():
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs.values():
            proc.wait(timeout=30)
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
