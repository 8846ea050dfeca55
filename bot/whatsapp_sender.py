"""WhatsApp replies through Twilio's REST API, off the request path, in order.

With ``WHATSAPP_INTERACTIVE=1`` a WhatsApp turn answers Twilio's webhook at
once with an empty ``<Response/>`` and its replies go out here: a menu or a
question as buttons or a list (``ContentSid`` + ``ContentVariables``, the
templates ``flask whatsapp sync`` made), everything else as text.

The same guarantees as TwiML replies:

* **Nothing twice.** The turn's replies are put in the person's outbox inside
  the turn, while it holds the person's lock and before it is committed; a
  retried MessageSid is found by the store's seen marks before any of that
  and puts nothing in (:meth:`bot.helpline.Helpline.handle`). A message that
  may have reached Twilio (no answer in time) is never sent again.
* **In order.** One outbox per person, one sender at a time per outbox:
  the replies of a turn go out one after the other, each after Twilio has
  taken the one before, and the next turn's after them.
* **Never silence.** A menu whose template is missing (not synced yet) or
  that Twilio refuses goes out as the numbered text an SMS gets, counted in
  ``helpline_whatsapp_fallbacks``; a Twilio that cannot be reached, or that
  answers it cannot take a message now (429, 503), is tried again every few
  seconds for an hour (the outbox's TTL). A refusal of that message itself
  (any other answer) is not tried again.

A quick exit's line carries the status URL that deletes it at Twilio once
delivered, as its TwiML would (bot/erasure.py).
"""
from __future__ import annotations

import logging
import queue
import threading
import uuid
from typing import Callable

from . import metrics
from .channels import whatsapp
from .channels.twilio_api import never_left, rest_client
from .engine.model import FlowSet
from .engine.session import Session
from .helpline import safe_error
from .store.whatsapp import WhatsAppStore

log = logging.getLogger(__name__)

RETRY_SECONDS = 5.0
# People's outboxes a process sends at once, each on a thread of its own while it is sent. One
# at a time, one slow answer from Twilio held up everyone's replies (and the erasures the same
# background thread does): with Twilio taking 0.5 s a message and ten people writing, the tenth
# waited 9 s, and an eleventh's SALIR line 10 s. Each outbox is still sent in order, by one
# sender at a time (WhatsAppStore.take).
SENDERS = 4
LOOK_AGAIN = 0.25  # seconds, while outboxes are being sent: to start those waiting behind them
# Twilio answered that it did not take the message, for now: too many requests (429), or
# the service unavailable (503). Nothing was sent: it is kept first in line and tried again.
NOT_TAKEN_NOW = frozenset({429, 503})


class Unreachable(Exception):
    """Twilio could not be reached, or could not take the message now: nothing was sent, try again later."""


class WhatsAppSender:
    def __init__(self, store: WhatsAppStore, account_sid: str, auth_token: str, public_url: str,
                 messaging_service_sid: str | None = None, from_number: str | None = None,
                 api_base: str | None = None, client_factory: Callable | None = None):
        self.store = store
        self.public_url = public_url.rstrip("/")
        self.messaging_service_sid = messaging_service_sid
        self.from_number = from_number
        self._factory = client_factory or (lambda: rest_client(account_sid, auth_token, api_base,
                                                               logger_name="bot.whatsapp.twilio"))
        # REST clients not in use, each with its connection to Twilio kept open: one per outbox
        # being sent at a time (a client's HTTP session is not shared between threads).
        self._clients: queue.SimpleQueue = queue.SimpleQueue()
        self._sending: dict[str, _Sending] = {}  # outboxes being sent now (only the background thread reads it)
        self.token = uuid.uuid4().hex

    # --- inside the turn --------------------------------------------------------------

    def enqueue(self, cid: str, address: str, replies: list[str], session: Session, fs: FlowSet,
                erased: bool = False) -> None:
        """Put a turn's replies in the person's outbox. The last one, when it ends
        on the choices of the node the person is now at, goes as buttons or a list."""
        status = f"{self.public_url}/twilio/status" + ("?erased=1" if erased else "")
        items = []
        for i, text in enumerate(replies):
            item = {"to": address, "text": text, "cb": status}
            last = i == len(replies) - 1
            if last and not erased and session.flow and session.state in ("in_flow", "choosing_language"):
                body = whatsapp.split(fs, session.position, session.lang, text)
                if body is not None:
                    item.update(key=whatsapp.template_key(session.position, session.lang), body=body)
            if "key" not in item and not erased:
                call = whatsapp.call_template_key(fs, session.lang, text)  # a hotline screen: tap to call
                if call is not None:
                    item.update(key=call, body=text)
            items.append(item)
        # A quick exit's line replaces whatever still waits: nothing said before it
        # (a screening question, a menu) may reach the phone after it.
        self.store.enqueue(cid, items, replace=erased)

    def unqueue(self, cid: str, count: int) -> None:
        """Take back a turn's replies whose turn was not saved: the webhook answers
        with the fail-safe instead, and the person must not get both. Best effort:
        never raises (the store may be what failed)."""
        try:
            self.store.drop_last(cid, count)
        except Exception:  # noqa: BLE001 - the caller is already failing; the fail-safe still goes
            log.warning("could not take back the replies of a turn that was not saved")

    # --- off the request path (bot/background.py) -----------------------------------------

    def __call__(self) -> float | None:
        """Start sending the outboxes that wait, up to SENDERS at once, and collect
        those sent; seconds until it should look again, or None. It returns at
        once: an outbox that fills while another is sent starts without waiting
        for Twilio's slowest answer. A thread lasts as long as its outbox takes:
        a process with nothing to send keeps none."""
        waits = []
        for cid, sending in list(self._sending.items()):
            if not sending.thread.is_alive():
                del self._sending[cid]
                if sending.wait is not None:
                    waits.append(sending.wait)
        for cid in self.store.ready():
            if len(self._sending) >= SENDERS:
                break
            if cid not in self._sending:
                self._sending[cid] = _Sending(self._send_outbox, cid)
        if self._sending:
            waits.append(LOOK_AGAIN)
        return min(waits) if waits else None

    def _send_outbox(self, cid: str) -> float | None:
        if not self.store.take(cid, self.token):
            return 1.0  # another process is sending it; look again soon
        try:
            client = self._clients.get_nowait()
        except queue.Empty:
            client = self._factory()  # no connection yet: made by its first message
        try:
            return self._drain(cid, client)
        finally:
            self._clients.put(client)
            self.store.let_go(cid)

    def _drain(self, cid: str, client) -> float | None:
        while True:
            first = self.store.first(cid)
            if first is None:
                break
            raw, item = first
            try:
                self._send(client, item)
            except Unreachable:
                return RETRY_SECONDS  # kept first in line: the order holds
            self.store.sent(cid, raw)
            self.store.renew(cid)
        # Off the ready set, then a last look: a turn that added to the outbox
        # meanwhile has put it back, or is found here (see WhatsAppStore.enqueue).
        self.store.done_with(cid)
        if self.store.pending(cid):
            self.store.mark_ready(cid)
            return 0.0
        return None

    def _send(self, client, item: dict) -> None:
        if item.get("key"):
            sid = self.store.content_sid(item["key"])
            if sid is None:
                metrics.FALLBACKS["no_template"].inc()
            else:
                try:
                    self._create(client, item, content_sid=sid,
                                 content_variables=whatsapp.content_variables(item["body"]))
                    return
                except _Refused:
                    metrics.FALLBACKS["refused"].inc()
                except _MaybeSent:
                    return  # it may be on its way: a numbered copy would make it twice
        try:
            self._create(client, item, body=item["text"])
        except (_Refused, _MaybeSent):
            return  # counted; nothing more can be done for this one

    def _create(self, client, item: dict, **content) -> None:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        options = {"to": item["to"], "status_callback": item["cb"], **content}
        if self.messaging_service_sid:
            options["messaging_service_sid"] = self.messaging_service_sid
        else:
            sender = self.from_number or ""
            options["from_"] = sender if sender.startswith("whatsapp:") else "whatsapp:" + sender
        try:
            client.messages.create(**options)
        except TwilioRestException as exc:
            # Twilio's text can quote the number: only its code goes to the log.
            if exc.status in NOT_TAKEN_NOW:
                log.warning("Twilio could not take a WhatsApp reply now (HTTP %s, error %s): tried again shortly",
                            exc.status, exc.code)
                metrics.SEND_FAILURES["not_taken_now"].inc()
                raise Unreachable() from None
            log.warning("Twilio refused a WhatsApp reply: HTTP %s, error %s", exc.status, exc.code)
            metrics.SEND_FAILURES["refused"].inc()
            raise _Refused() from None
        except (TwilioException, OSError) as exc:
            if never_left(exc):
                metrics.SEND_FAILURES["unreachable"].inc()
                raise Unreachable() from None
            log.warning("a WhatsApp reply may have been sent: %s", type(exc).__name__)
            metrics.SEND_FAILURES["maybe_sent"].inc()
            raise _MaybeSent() from None
        metrics.SENT["whatsapp", "rest"].inc()


class _Sending:
    """One person's outbox being sent, on a thread of its own."""

    def __init__(self, send: Callable[[str], "float | None"], cid: str):
        self.wait: float | None = None  # what sending it said: when to look again
        self.thread = threading.Thread(target=self._run, args=(send, cid), name="whatsapp-send", daemon=True)
        self.thread.start()

    def _run(self, send: Callable[[str], "float | None"], cid: str) -> None:
        try:
            self.wait = send(cid)
        except Exception as exc:  # noqa: BLE001 - Redis out of reach: the outbox waits, tried again
            log.warning("a WhatsApp outbox was not sent, trying again in %gs: %s", RETRY_SECONDS, safe_error(exc))
            self.wait = RETRY_SECONDS


class _Refused(Exception):
    pass


class _MaybeSent(Exception):
    pass
