"""Messages through Twilio's REST API (the ``twilio`` client): an operator's
reply, the hotline numbers when nobody is on duty any more, and deleting an
erased conversation's messages from Twilio's log."""
from __future__ import annotations

import logging
import threading

from .twilio_api import never_left, rest_client

log = logging.getLogger(__name__)


class SendFailed(Exception):
    """A message Twilio did not confirm. ``maybe_sent``: the request may have
    reached Twilio (it timed out, or the connection broke after it was sent),
    so the message may have gone out: never send it again by itself.
    ``refused``: Twilio answered, and refused it (an opted-out number, a bad
    one): sending it again would be refused again."""

    def __init__(self, message: str, maybe_sent: bool = False, refused: bool = False):
        super().__init__(message)
        self.maybe_sent = maybe_sent
        self.refused = refused


class TwilioSender:
    """Send a message with Twilio's REST API (the ``twilio`` client).

    ``api_base`` replaces ``https://api.twilio.com`` in every request: tests
    point it at a local HTTP server that records what would have been sent.
    With ``messaging_service_sid`` set Twilio picks the sender; otherwise
    ``from_number`` (with ``whatsapp:`` added for WhatsApp).

    ``deadline``: the longest :meth:`send` waits for Twilio, in all (the
    client's own timeout is per socket operation, so a slow answer could
    take several). The request runs on a thread of its own so that the wait
    ends on time; the caller holds the person's lock for exactly that long
    (:meth:`Desk._send`). Never retried: a POST that may have reached Twilio
    is a message that may have been sent.
    """

    TWILIO_API = "https://api.twilio.com"

    def __init__(self, account_sid: str | None, auth_token: str | None, messaging_service_sid: str | None = None,
                 from_number: str | None = None, api_base: str | None = None, deadline: float = 5.0):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messaging_service_sid = messaging_service_sid
        self.from_number = from_number
        self.api_base = (api_base or self.TWILIO_API).rstrip("/")
        self.deadline = deadline
        self._client = None
        self._pool = None
        self._lock = threading.Lock()

    def problem(self) -> str | None:
        """Why replies cannot be sent, for the console; None when they can."""
        missing = [name for name, value in (("TWILIO_ACCOUNT_SID", self.account_sid),
                                            ("TWILIO_AUTH_TOKEN", self.auth_token)) if not value]
        if not (self.messaging_service_sid or self.from_number):
            missing.append("TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER")
        if missing:
            return "Replies are not set up: the server needs " + ", ".join(missing) + " (see README)."
        return None

    def client(self):
        with self._lock:
            if self._client is None:
                base = None if self.api_base == self.TWILIO_API else self.api_base
                self._client = rest_client(self.account_sid, self.auth_token, base, timeout=self.deadline,
                                           logger_name="bot.channels.twilio_rest.client")
            return self._client

    def _threads(self):
        with self._lock:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="twilio-send")
            return self._pool

    def send(self, to: str, channel: str, body: str, status_callback: str | None = None) -> str:
        """Send ``body`` to ``to``; returns Twilio's message sid. Raises SendFailed."""
        problem = self.problem()
        if problem:
            raise SendFailed(problem)
        options: dict[str, str] = {"to": to, "body": body}
        if self.messaging_service_sid:
            options["messaging_service_sid"] = self.messaging_service_sid
        else:
            sender = self.from_number
            if channel == "whatsapp" and not sender.startswith("whatsapp:"):
                sender = "whatsapp:" + sender
            options["from_"] = sender
        if status_callback:
            options["status_callback"] = status_callback
        from concurrent.futures import TimeoutError as Late

        from twilio.base.exceptions import TwilioException, TwilioRestException

        client = self.client()
        future = self._threads().submit(client.messages.create, **options)
        try:
            message = future.result(timeout=self.deadline)
        except Late:
            log.warning("Twilio did not answer an outbound message within %.0f s", self.deadline)
            raise SendFailed(MAYBE_SENT, maybe_sent=True) from None
        except TwilioRestException as exc:
            # Twilio's text can quote the number: only its code goes to the log and the console.
            log.warning("Twilio refused an outbound message: HTTP %s, error %s", exc.status, exc.code)
            raise SendFailed(f"Twilio did not accept the message (error {exc.code or exc.status}). "
                              "Nothing was sent.", refused=True) from None
        except (TwilioException, OSError) as exc:
            if never_left(exc):
                log.warning("outbound message not sent: %s", type(exc).__name__)
                raise SendFailed("Could not reach Twilio; nothing was sent. Try again in a moment.") from None
            log.warning("outbound message may have been sent: %s", type(exc).__name__)
            raise SendFailed(MAYBE_SENT, maybe_sent=True) from None
        return message.sid


MAYBE_SENT = "Twilio did not confirm this message in time: it may have been sent."
