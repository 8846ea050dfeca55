"""A local stand-in of Twilio's REST API (Messages and Content); holds no tests.

The app is pointed at it with ``TWILIO_API_BASE``: every Twilio REST call,
api.twilio.com and content.twilio.com alike, keeps its path. It answers as
Twilio does and records:

* ``POST /2010-04-01/Accounts/<sid>/Messages.json``: every message asked for,
  in order, in ``requests`` (path, form, Authorization header; ``messages``
  is the forms alone), answered 201 with a sid. ``fail_with`` (HTTP status,
  Twilio error code) refuses every message instead; ``refuse_content``
  refuses a message with a ContentSid as Twilio refuses an unknown or
  unapproved template (400, error 21656), text still passes. ``stall``: a
  slow Twilio, seconds to wait before the status line, then before the rest
  of the answer, e.g. ``(6,)`` (one long silence) or ``(3.5, 3.5)`` (an answer
  that trickles in: no silence long enough for a per-read timeout, 7 s in
  all). A message counts as taken (it is in ``requests``) as soon as the
  request has arrived, as at Twilio.
* ``DELETE .../Messages/<sid>.json`` and ``.../Calls/<sid>.json`` (a quick
  exit or a hang-up deleting Twilio's copies): every sid asked for in
  ``deleted``, and what it was (``Messages``, ``Calls``) in ``deleted_from``; ``refuse`` gives, for some sids, the
  answers to give first ((HTTP status, Twilio error code)) before the 204.
* ``GET .../Messages.json?To=…&From=…`` (a quick exit's sweep of Twilio's
  log): the messages in ``log`` (sid, From, To) that match, as Twilio pages
  them (``page_size`` a page); every query in ``listed``. Each message it
  takes joins ``log``; a test adds what Twilio would hold besides (a person's
  texts, the replies sent as TwiML) with :meth:`TwilioStandIn.logged`.
  ``fail_listing``: that many list requests are refused (503) first.
* ``/v1/Content``: create (POST), list (GET), update (PUT ``/v1/Content/<sid>``)
  and delete (DELETE), kept in ``templates`` (sid -> definition), every call
  in ``content_calls`` as (method, path).
"""
from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

ACCOUNT_SID = "AC" + "1" * 32
CONTENT = "/v1/Content"


class TwilioStandIn:
    def __init__(self, fail_with: tuple[int, int] | None = None, stall: tuple[float, ...] = (), port: int = 0):
        self.requests: list[dict] = []
        self.fail_with = fail_with
        self.stall = stall
        self.refuse_content = False
        self.answered: list[float] = []  # time.monotonic() when each stalled answer was complete
        self.deleted: list[str] = []
        self.deleted_from: dict[str, str] = {}
        self.created: list[str] = []  # the sid of every message it took, in order
        self.refuse: dict[str, list[tuple[int, int]]] = {}
        self.templates: dict[str, dict] = {}
        self.content_calls: list[tuple[str, str]] = []
        self.log: list[dict[str, str]] = []  # what Twilio's message log holds: sid, From, To
        self.listed: list[dict[str, str]] = []
        self.fail_listing = 0
        self.page_size = 2
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

            def _form(self, raw: bytes) -> dict:
                return {k: v[0] for k, v in parse_qs(raw.decode()).items()}

            # --- Messages ---------------------------------------------------------------

            def _message(self) -> None:
                form = self._form(self._body())
                with outer.lock:
                    outer.requests.append({"path": self.path, "form": form,
                                           "auth": self.headers.get("Authorization")})
                # "SMf...": never one of the tests' own inbound sids (tests.helpers.new_sid, all digits).
                queued = {"sid": f"SMf{next(message_sids):031x}", "status": "queued", "to": form.get("To"),
                          "body": form.get("Body"), "account_sid": ACCOUNT_SID}
                with outer.lock:
                    outer.created.append(queued["sid"])
                    outer.log.append({"sid": queued["sid"], "From": form.get("From") or form.get("MessagingServiceSid"),
                                      "To": form.get("To")})
                if outer.stall:
                    self._answer_slowly(queued)
                elif outer.fail_with:
                    status, code = outer.fail_with
                    self._answer(status, {"code": code, "message": f"The 'To' number {form.get('To')} is not valid.",
                                          "status": status, "more_info": f"https://www.twilio.com/docs/errors/{code}"})
                elif outer.refuse_content and "ContentSid" in form:
                    self._answer(400, {"code": 21656, "message": "The ContentVariables Parameter is invalid.",
                                       "status": 400})
                else:
                    self._answer(201, queued)

            def _answer_slowly(self, queued: dict) -> None:
                data = json.dumps(queued).encode()
                # HTTP/1.0, as every other answer here: this server closes the connection
                # after each request. An answer that said HTTP/1.1 let the client keep the
                # connection for its next message, which then met the close and was lost
                # as "may have been sent" whenever this thread was slow to close (under load).
                parts = [b"HTTP/1.0 201 CREATED\r\n",
                         b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(data) + data]
                try:
                    for pause, part in zip(outer.stall, parts):
                        time.sleep(pause)
                        self.wfile.write(part)
                        self.wfile.flush()
                    if len(outer.stall) < len(parts):
                        self.wfile.write(b"".join(parts[len(outer.stall):]))
                except OSError:
                    pass  # the client stopped waiting and closed the connection
                outer.answered.append(time.monotonic())

            def _delete(self) -> None:
                kind, name = self.path.rsplit("/", 2)[-2:]
                sid = name.removesuffix(".json")
                with outer.lock:
                    outer.deleted.append(sid)
                    outer.deleted_from[sid] = kind
                    refusals = outer.refuse.get(sid)
                    refused = refusals.pop(0) if refusals else None
                if refused:
                    status, code = refused
                    self._answer(status, {"code": code, "message": "Cannot delete this resource", "status": status})
                else:
                    self._answer(204)

            # --- Content API ----------------------------------------------------------------

            def _definition(self) -> dict:
                raw = self._body()
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    return json.loads(raw)
                return self._form(raw)

            def _content(self, sid: str) -> dict:
                return {"sid": sid, "account_sid": ACCOUNT_SID, **outer.templates[sid]}

            def do_POST(self):  # noqa: N802 - http.server's name
                if not self.path.startswith(CONTENT):
                    self._message()
                    return
                definition = self._definition()
                with outer.lock:
                    outer.content_calls.append(("POST", self.path))
                    sid = f"HX{next(content_sids):032x}"
                    outer.templates[sid] = definition
                self._answer(201, self._content(sid))

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
                if not self.path.startswith(CONTENT):
                    self._delete()
                    return
                sid = self.path.rsplit("/", 1)[-1]
                with outer.lock:
                    outer.content_calls.append(("DELETE", self.path))
                    found = outer.templates.pop(sid, None)
                if found is None:
                    self._answer(404, {"code": 20404, "status": 404, "message": "not found"})
                else:
                    self._answer(204)

            def _list_messages(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                with outer.lock:
                    if not query.get("PageToken"):  # a new listing, not its next page
                        outer.listed.append({k: query[k] for k in ("To", "From") if k in query})
                    if outer.fail_listing:
                        outer.fail_listing -= 1
                        self._answer(503, {"code": 20503, "message": "Service unavailable", "status": 503})
                        return
                    found = [m for m in outer.log
                             if all(m.get(k) == query[k] for k in ("To", "From") if k in query)]
                start = int(query.get("Page", "0")) * outer.page_size
                page = found[start:start + outer.page_size]
                more = start + outer.page_size < len(found)
                nxt = None
                if more:
                    nxt = url.path + "?" + urlencode({**query, "Page": start // outer.page_size + 1,
                                                       "PageToken": "next"})
                self._answer(200, {"messages": [{"sid": m["sid"], "to": m["To"], "from": m["From"],
                                                 "account_sid": ACCOUNT_SID} for m in page],
                                   "first_page_uri": url.path, "next_page_uri": nxt, "previous_page_uri": None,
                                   "page": start // outer.page_size, "page_size": outer.page_size,
                                   "start": start, "end": start + len(page), "uri": self.path})

            def do_GET(self):  # noqa: N802
                if self.path.split("?")[0].endswith("/Messages.json"):
                    self._list_messages()
                    return
                with outer.lock:
                    outer.content_calls.append(("GET", self.path.split("?")[0]))
                    contents = [self._content(sid) for sid in outer.templates]
                url = f"{outer.url}{CONTENT}"
                self._answer(200, {"contents": contents, "meta": {
                    "page": 0, "page_size": 50, "first_page_url": url, "previous_page_url": None,
                    "url": url, "next_page_url": None, "key": "contents"}})

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def logged(self, sid: str, from_: str, to: str) -> None:
        """A message Twilio's log holds that was not sent through this stand-in."""
        with self.lock:
            self.log.append({"sid": sid, "From": from_, "To": to})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> "TwilioStandIn":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def messages(self) -> list[dict]:
        """The form of every message asked for, in order."""
        with self.lock:
            return [r["form"] for r in self.requests]

    def by_name(self) -> dict[str, dict]:
        """The templates kept, by friendly name."""
        with self.lock:
            return {d["friendly_name"]: {"sid": sid, **d} for sid, d in self.templates.items()}

    def writes(self) -> list[tuple[str, str]]:
        """Content API calls that change something (not the listing)."""
        return [c for c in self.content_calls if c[0] != "GET"]
