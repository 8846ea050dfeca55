"""Bytes per session in Redis, and for 100,000 of them.

    python bench/memory.py [--sessions 100000]

Starts its own Redis (the embedded server, so nothing else is in it), then:

1. runs a real conversation (greeting, main menu, five screening answers)
   through the service for a sample of contacts and reports MEMORY USAGE of
   each key they leave: the session, and the retry answers kept for
   RETRY_WINDOW;
2. writes that same mid-screening session for ``--sessions`` contacts, each
   with its entry in the live index, and reports the growth of
   ``used_memory`` per session: what an idle session costs once its retry
   answers have expired (and its texts' seen marks, a day after the last).

The target is under 1 KB per idle session.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import redis  # noqa: E402

from bot import published_flows  # noqa: E402
from bot.channels.twilio import IncomingMessage  # noqa: E402
from bot.store.embedded import ensure_server  # noqa: E402
from bot.engine.events import compact_json  # noqa: E402
from bot.engine.session import Session  # noqa: E402
from bot.helpline import Helpline  # noqa: E402
from bot.store import SessionStore  # noqa: E402

TURNS = ["hola", "1", "1", "1", "no", "si", "no", "no", "si"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="helpline-mem-")
    server = ensure_server(os.path.join(tmp, "redis"))
    try:
        r = redis.Redis.from_url(server.url)
        fs, _ = published_flows.load(os.path.join(ROOT, "flows"), os.path.join(ROOT, "locales"))
        store = SessionStore(r, session_ttl=86400)
        helpline = Helpline(store, lambda: fs, "bench-secret", on_duty=lambda: False)

        sizes: dict[str, list[int]] = {}
        for n in range(200):
            address = f"+1555{n:07d}"
            for i, text in enumerate(TURNS):
                helpline.handle(IncomingMessage(address, "sms", text, 0, f"SM{n:010d}{i:04d}"))
            cid = helpline.cid(address)
            for key in r.scan_iter(match=f"hl:{{{cid}}}:*"):
                kind = key.decode().rsplit(":", 1)[-1]
                sizes.setdefault(kind, []).append(r.memory_usage(key, samples=0))
        sample = Session.from_fields(store.load(cid))
        print(f"After a {len(TURNS)}-message conversation (median of 200 contacts, MEMORY USAGE):")
        for kind, values in sorted(sizes.items()):
            print(f"  hl:{{cid}}:{kind:10s} {statistics.median(values):6.0f} bytes")
        print(f"  (the answers kept for retries expire after RETRY_WINDOW, {store.retry_window} s)")
        marks = list(r.scan_iter(match=store.keys.seen("*"), count=1000))
        print(f"  a text's seen mark: {statistics.median(r.memory_usage(k, samples=0) for k in marks):.0f} bytes "
              f"for a day ({len(marks)} texts)")

        r.flushall()
        fields = sample.to_fields()
        before = r.info("memory")["used_memory"]
        pipe = r.pipeline(transaction=False)
        for n in range(args.sessions):
            key = store.keys.contact(f"{n:020x}", "session")
            # As the store writes it: one compact JSON value with the session's TTL.
            value = {**fields, "cid": f"{n:020x}", "addr": f"+1555{n:07d}"}
            pipe.set(key, compact_json(value), ex=86400)
            pipe.zadd(store.keys.live(), {f"{n:020x}": 1e9 + n})  # and its entry in the live index
            if n % 5000 == 4999:
                pipe.execute()
        pipe.execute()
        after = r.info("memory")["used_memory"]
        per = (after - before) / args.sessions
        print(f"\n{args.sessions:,} idle mid-screening sessions: used_memory grew {(after - before) / 2**20:.1f} MiB, "
              f"{per:.0f} bytes per session (target < 1024)")
        print("verdict:", "MEETS the target" if per < 1024 else "MISSES the target")
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
