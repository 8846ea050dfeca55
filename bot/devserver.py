"""``python app.py``: the development server, with the URLs a newcomer needs."""
from __future__ import annotations

from flask import Flask


def run(app: Flask) -> None:
    port = app.config["PORT"]
    base = f"http://127.0.0.1:{port}"
    print(f"Helpline bot serving on {base}")
    print(f"  Twilio webhook (SMS and WhatsApp): {base}/twilio/messages")
    print(f"  Delivery status callback:          {base}/twilio/status")
    print(f"  Health:                            {base}/healthz")
    print(f"  Operators' console:                {base}/ops/  (accounts: flask --app app ops add-user NAME --role responder)")
    print(f"  Simulator:                         {base}/ops/simulator")
    print(f"  Redis:                             {app.config['REDIS_URL_RESOLVED']}")
    if not app.config["TWILIO_AUTH_TOKEN"]:
        print("  TWILIO_AUTH_TOKEN is not set: the webhook refuses every request (403).")
        print("  Try the bot in the terminal instead: flask --app app chat")
    app.run(host="127.0.0.1", port=port, threaded=True, use_reloader=False)
