"""The twilio library's REST client, pointed at TWILIO_API_BASE when it is set.

Every Twilio REST call (api.twilio.com and content.twilio.com alike) goes to
that base with the same path: how the tests and a local stand-in record them.
"""
from __future__ import annotations

import logging
import re

# Any of Twilio's API hosts (api., content., messaging. ...), regional ones too
# (api.dublin.ie1.twilio.com, built from TWILIO_EDGE / TWILIO_REGION, which the
# library reads from the environment): the stand-in serves them all.
_TWILIO_HOST = re.compile(r"^https://(?:[a-z0-9-]+\.)+twilio\.com")


def rest_client(account_sid: str, auth_token: str, api_base: str | None = None, timeout: float = 10.0,
                logger_name: str = "bot.twilio"):
    """A ``twilio.rest.Client`` whose requests go to ``api_base`` when it is given."""
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    base = (api_base or "").rstrip("/")

    class _Http(TwilioHttpClient):
        def request(self, method, url, *args, **kwargs):
            if base:
                url = _TWILIO_HOST.sub(base, url, count=1)
            return super().request(method, url, *args, **kwargs)

    # The library logs each request at INFO, with its parameters (a number,
    # a text): ours logs only problems.
    quiet = logging.getLogger(logger_name)
    quiet.setLevel(logging.WARNING)
    # So does urllib3 at DEBUG, under it: each request line, with a search's
    # ?To=+1… Muted too, so that DEBUG turned on to look into a problem
    # never writes a number.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)
    return Client(account_sid, auth_token, http_client=_Http(timeout=timeout, logger=quiet))


def never_left(exc: BaseException) -> bool:
    """Whether a failed request surely never reached Twilio (no connection was
    made): only then may it be sent again without risking a double."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = exc.args[0] if exc.args else None
        reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
        return isinstance(reason, (NewConnectionError, ConnectTimeoutError))
    return False
