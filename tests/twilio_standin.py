"""A local stand-in of Twilio's Messages and Content APIs, for the WhatsApp tests; holds no tests.

The app is pointed at it with ``TWILIO_API_BASE`` (every Twilio REST call,
api.twilio.com and content.twilio.com alike, keeps its path), as the
console's tests point theirs (tests/fixtures_console.py). It records:

* ``POST /2010-04-01/Accounts/<sid>/Messages.json``: every message asked for
  (``messages``), in order, answered as Twilio does (201 and a sid). With
  ``refuse_content`` set, a message with a ContentSid is refused as Twilio
  refuses an unknown or unapproved one (400, error 21656), text still passes.
* ``/v1/Content``: create (POST), list (GET), update (PUT ``/v1/Content/<sid>``)
  and delete (DELETE), kept in ``templates`` (sid -> definition), every call
  in ``content_calls`` as (method, path).
"""
from __future__ import annotations

import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

ACCOUNT_SID = "AC" + "1" * 32


class TwilioStandIn:
    def __init__(self):
        self.messages: list[dict] = []
        self.templates: dict[str, dict] = {}
        self.content_calls: list[tuple[str, str]] = []
        self.refuse_content = False
        self.lock = threading.Lock()
        message_sids = itertools.count(1)
        content_sids = itertools.count(1)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: dict | None = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length", "0")))

            def _definition(self) -> dict:
                raw = self._body()
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    return json.loads(raw)
                return {k: v[0] for k, v in parse_qs(raw.decode()).items()}

            def _content(self, sid: str) -> dict:
                return {"sid": sid, "account_sid": ACCOUNT_SID, **outer.templates[sid]}

            def do_POST(self):  # noqa: N802 - http.server's name
                if self.path.startswith("/v1/Content"):
                    definition = self._definition()
                    with outer.lock:
                        outer.content_calls.append(("POST", self.path))
                        sid = f"HX{next(content_sids):032x}"
                        outer.templates[sid] = definition
                    self._answer(201, self._content(sid))
                    return
                form = {k: v[0] for k, v in parse_qs(self._body().decode()).items()}
                with outer.lock:
                    outer.messages.append(form)
                if outer.refuse_content and "ContentSid" in form:
                    self._answer(400, {"code": 21656, "message": "The ContentVariables Parameter is invalid.",
                                       "status": 400})
                    return
                self._answer(201, {"sid": f"SM{next(message_sids):032x}", "status": "queued",
                                   "account_sid": ACCOUNT_SID})

            def do_PUT(self):  # noqa: N802
                sid = self.path.rsplit("/", 1)[-1]
                definition = self._definition()
                with outer.lock:
                    outer.content_calls.append(("PUT", self.path))
                    if sid not in outer.templates:
                        self._answer(404, {"code": 20404, "message": "not found", "status": 404})
                        return
                    outer.templates[sid] = definition
                self._answer(200, self._content(sid))

            def do_DELETE(self):  # noqa: N802
                sid = self.path.rsplit("/", 1)[-1]
                with outer.lock:
                    outer.content_calls.append(("DELETE", self.path))
                    found = outer.templates.pop(sid, None)
                self._answer(204) if found is not None else self._answer(404, {"code": 20404, "status": 404,
                                                                               "message": "not found"})

            def do_GET(self):  # noqa: N802
                with outer.lock:
                    outer.content_calls.append(("GET", self.path.split("?")[0]))
                    contents = [self._content(sid) for sid in outer.templates]
                url = f"{outer.url}/v1/Content"
                self._answer(200, {"contents": contents, "meta": {
                    "page": 0, "page_size": 50, "first_page_url": url, "previous_page_url": None,
                    "url": url, "next_page_url": None, "key": "contents"}})

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> "TwilioStandIn":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def by_name(self) -> dict[str, dict]:
        """The templates kept, by friendly name."""
        with self.lock:
            return {d["friendly_name"]: {"sid": sid, **d} for sid, d in self.templates.items()}

    def writes(self) -> list[tuple[str, str]]:
        """Content API calls that change something (not the listing)."""
        return [c for c in self.content_calls if c[0] != "GET"]
