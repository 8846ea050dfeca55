"""What a phone call costs the app: time and CPU per webhook request of a call.

    python bench/calls.py [--calls 100]

Runs whole calls through the real app (Flask's test client, no network)
on an embedded Redis: the call comes in, the caller picks Spanish, the
numbers menu, a screen of numbers, repeats it, goes back to the main menu,
and hangs up (the status callback erases the call). Every request is signed
as Twilio signs it. Prints the median and 95th percentile wall time per
request, the app's CPU per request, and the same for a text turn (one SMS
through POST /twilio/messages) for comparison.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from twilio.request_validator import RequestValidator  # noqa: E402

TOKEN = "bench-token"
BASE = "http://localhost"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()

    import logging

    logging.disable(logging.WARNING)
    from bot import create_app
    from bot.channels import voice as twiml
    from bot.config import TestConfig

    data = tempfile.mkdtemp()
    app = create_app(TestConfig(None, data, TWILIO_AUTH_TOKEN=TOKEN))
    client = app.test_client()
    validator = RequestValidator(TOKEN)

    def post(url: str, form: dict):
        sig = validator.compute_signature(url, form)
        started, cpu = time.perf_counter(), time.process_time()
        resp = client.post(url[len(BASE):], data=form, headers={"X-Twilio-Signature": sig}, base_url=BASE)
        return resp, time.perf_counter() - started, time.process_time() - cpu

    call_wall, call_cpu, text_wall, text_cpu = [], [], [], []
    for n in range(args.calls):
        form = {"CallSid": f"CA{n:032d}", "From": f"+1555{n:07d}", "To": "+15559990000"}
        url = BASE + "/twilio/voice"
        for key in (None, "1", "4", "1", "9", "#"):
            resp, wall, cpu = post(url, {**form, **({"Digits": key} if key else {})})
            call_wall.append(wall)
            call_cpu.append(cpu)
            url = twiml.heard(resp.data.decode()).action
        _, wall, cpu = post(BASE + "/twilio/voice/status", {**form, "CallStatus": "completed"})
        call_wall.append(wall)
        call_cpu.append(cpu)
        for i, body in enumerate(("hola", "4", "1")):
            _, wall, cpu = post(BASE + "/twilio/messages", {"MessageSid": f"SM{n:016d}{i:016d}", "From": f"+1666{n:07d}",
                                                           "To": "+15559990000", "Body": body, "NumMedia": "0"})
            text_wall.append(wall)
            text_cpu.append(cpu)

    def ms(values: list[float], q: float | None = None) -> str:
        if q is None:
            return f"{statistics.median(values) * 1000:.2f}"
        return f"{sorted(values)[int(len(values) * q) - 1] * 1000:.2f}"

    print(f"{args.calls} calls, {len(call_wall)} call requests, {len(text_wall)} texts")
    print(f"call request: median {ms(call_wall)} ms, p95 {ms(call_wall, 0.95)} ms, CPU median {ms(call_cpu)} ms")
    print(f"text turn:    median {ms(text_wall)} ms, p95 {ms(text_wall, 0.95)} ms, CPU median {ms(text_cpu)} ms")


if __name__ == "__main__":
    main()
