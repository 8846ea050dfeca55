"""``python app.py``: the development server, with the URLs a newcomer needs."""
from __future__ import annotations

from flask import Flask

from . import unset_twilio_settings


def run(app: Flask) -> None:
    port = app.config["PORT"]
    base = f"http://127.0.0.1:{port}"
    print(f"Helpline bot serving on {base}")
    print(f"  Twilio webhook (SMS and WhatsApp): {base}/twilio/messages")
    print(f"  Delivery status callback:          {base}/twilio/status")
    print(f"  Voice webhook (calls):             {base}/twilio/voice")
    print(f"  Call status callback:              {base}/twilio/voice/status")
    print(f"  Health:                            {base}/healthz")
    print(f"  Operators' console:                {base}/ops/  (accounts: flask --app app ops add-user NAME --role responder)")
    print(f"  Simulator:                         {base}/ops/simulator")
    print(f"  Redis:                             {app.config['REDIS_URL_RESOLVED']}")
    if app.config["PUBLIC_URL"]:
        print(f"  Webhook URL to give Twilio:        {app.config['PUBLIC_URL']}/twilio/messages")
        print(f"  Voice URL to give Twilio:          {app.config['PUBLIC_URL']}/twilio/voice "
              f"(status callback {app.config['PUBLIC_URL']}/twilio/voice/status)")
    missing = unset_twilio_settings(app.config)
    if missing:
        # The server has logged why; say what to do about it.
        print(f"  To answer Twilio, set {' and '.join(missing)} (README, Point Twilio at it):")
        if "PUBLIC_URL" in missing:
            print(f"    PUBLIC_URL is the https URL Twilio calls, e.g. your tunnel's to port {port}")
        print("  Meanwhile, try the bot in the terminal: flask --app app chat")
    app.run(host="127.0.0.1", port=port, threaded=True, use_reloader=False)
