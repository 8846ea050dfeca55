"""What a /metrics scrape and a live-list page cost, at 1,000 and at 100,000 sessions.

    python bench/scrape.py [--small 1000] [--large 100000] [--rounds 7] [--repeat 15]

Starts two Redis servers (the embedded one's binary), builds the app on
each, and stores ``--small`` sessions in one and ``--large`` in the other,
through the store's own open_turn and commit (so the live index is written
exactly as texts write it), each a copy of a real mid-screening session with
its own contact, number and conversation. Then, in ``--rounds`` rounds, the
order alternating from round to round (the machine drifts from one minute to
the next; a pair of runs seconds apart sees the same machine), it times the
median of ``--repeat`` of each of these, in process (Flask's test client, no
HTTP), on each app:

* a scrape of ``GET /metrics`` (the active-sessions gauge and the hand-offs
  waiting, read from Redis);
* a live-list page, ``GET /ops/`` as a signed-in operator (the page of the
  most recent sessions and the hand-off queue, read fresh for every page);
* for comparison only, one ``SCAN`` of every session key: what both did
  before the live index, on every scrape and every console snapshot.

Each round gives a ratio large/small per measure; the verdict is on their
median. 1.0 means the cost does not grow with the number of sessions.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import redis  # noqa: E402

from bot import create_app  # noqa: E402
from bot.channels.twilio import IncomingMessage  # noqa: E402
from bot.config import TestConfig  # noqa: E402
from bot.store.embedded import ensure_server  # noqa: E402

TURNS = ["hola", "1", "1", "1", "no", "si"]  # greeting, menu, into the screening
PASSWORD = "a long enough password for the bench"


def median_ms(call, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def fill(app, upto: int, start: int, fields: dict) -> None:
    """Sessions ``start`` .. ``upto`` - 1, copies of ``fields``, through the store's open_turn and commit."""
    store = app.extensions["store"]
    for n in range(start, upto):
        cid = f"{n:020x}"
        opened = store.open_turn(cid, None, wait=1)
        session = {**fields, "cid": cid, "addr": f"+1555{n:07d}", "conv": f"{n:012x}"}
        store.commit(opened, action="save", fields=session, replies=[])


def signed_in(app):
    client = app.test_client()
    app.extensions["ops"].accounts.add("bench", "viewer", PASSWORD)
    page = client.get("/ops/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    resp = client.post("/ops/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302, resp.status_code
    return client


def measure(app, client, r, repeat: int) -> dict[str, float]:
    metrics = app.test_client()

    def scrape():
        assert metrics.get("/metrics").status_code == 200

    def page():
        assert client.get("/ops/").status_code == 200

    def scan():
        for _ in r.scan_iter(match="hl:{*}:session", count=500):
            pass

    return {"scrape": median_ms(scrape, repeat), "page": median_ms(page, repeat),
            "scan": median_ms(scan, max(3, repeat // 10))}


def build(folder: str, sessions: int, fields: dict | None):
    """A server, the app on it with ``sessions`` sessions, a signed-in console client."""
    server = ensure_server(os.path.join(folder, "redis"))
    app = create_app(TestConfig(server.url, os.path.join(folder, "app")))
    app.extensions["ops"].live_sessions.max_age = 0  # every page and scrape reads Redis afresh
    helpline = app.extensions["helpline"]
    for i, body in enumerate(TURNS):  # one real conversation, the copies' model
        helpline.handle(IncomingMessage("+15550000000", "sms", body, 0, f"SM{i:032d}"))
    fields = fields or helpline.store.load(helpline.cid("+15550000000"))
    fill(app, sessions, 1, fields)
    assert app.extensions["store"].live_index.count() == sessions
    return server, app, signed_in(app), redis.Redis.from_url(server.url), fields


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="helpline-scrape-")
    servers = []
    try:
        started = time.monotonic()
        small = build(os.path.join(tmp, "small"), args.small, None)
        servers.append(small[0])
        large = build(os.path.join(tmp, "large"), args.large, small[4])
        servers.append(large[0])
        print(f"(stored {args.small + args.large:,} sessions in {time.monotonic() - started:.0f} s)")
        sizes = {args.small: small, args.large: large}
        rounds: list[dict[int, dict[str, float]]] = []
        for i in range(args.rounds):
            order = [args.small, args.large] if i % 2 == 0 else [args.large, args.small]
            rounds.append({n: measure(sizes[n][1], sizes[n][2], sizes[n][3], args.repeat) for n in order})

        print(f"\nmedian ms over {args.rounds} rounds, in process; ratio: the median of the rounds' ratios")
        print(f"{'':34s}{args.small:>10,}{args.large:>10,}   ratio")
        for name, label in (("scrape", "GET /metrics"), ("page", "GET /ops/ (live list and queue)"),
                            ("scan", "for comparison: SCAN of sessions")):
            a = statistics.median(r[args.small][name] for r in rounds)
            b = statistics.median(r[args.large][name] for r in rounds)
            ratio = statistics.median(r[args.large][name] / r[args.small][name] for r in rounds)
            print(f"{label:34s}{a:10.2f}{b:10.2f}   {ratio:5.2f}")
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
