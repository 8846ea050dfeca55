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
    from twilio.rest import Client

    # The library logs each request at INFO, with its parameters (a number,
    # a text): ours logs only problems.
    quiet = logging.getLogger(logger_name)
    quiet.setLevel(logging.WARNING)
    # So does urllib3 at DEBUG, under it: each request line, with a search's
    # ?To=+1… Muted too, so that DEBUG turned on to look into a problem
    # never writes a number.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)
    return Client(account_sid, auth_token, http_client=_forgetful_http((api_base or "").rstrip("/"), timeout, quiet))


def _forgetful_http(base: str, timeout: float, logger: logging.Logger):
    """The library's HTTP client, as its documented extension point (a
    ``twilio.http.HttpClient`` that implements ``request``), which keeps
    nothing of a request once it is answered. The library's own keeps the
    last request and response on the client (a number and a text, until the
    next request), so a quick exit's number stayed in memory after its
    sweep. Requests go to ``base`` when it is given."""
    import requests
    from twilio.http import HttpClient
    from twilio.http.response import Response

    class ForgetfulHttp(HttpClient):
        def __init__(self):
            super().__init__(logger=logger, is_async=False, timeout=timeout)
            self.session = requests.Session()  # kept: its connections, never a request

        def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                    allow_redirects=False):
            if base:
                url = _TWILIO_HOST.sub(base, url, count=1)
            body = "json" if (headers or {}).get("Content-Type") in ("application/json", "application/scim+json") \
                else "data"
            answer = self.session.request(method.upper(), url, params=params, headers=headers, auth=auth,
                                          timeout=timeout or self.timeout, allow_redirects=allow_redirects,
                                          **{body: data})
            return Response(int(answer.status_code), answer.text, answer.headers)

    return ForgetfulHttp()


def forget_request_urls() -> None:
    """Empty the standard library's cache of split URLs (``urllib.parse.urlsplit``
    keeps the last 128 it split, through ``functools.lru_cache``, whose
    ``cache_clear`` is public): a search of Twilio's log by number puts the
    number in its URL (``?To=+1…``), and requests splits it."""
    from urllib.parse import urlsplit

    clear = getattr(urlsplit, "cache_clear", None)  # a plain function before Python 3.11
    if clear is not None:
        clear()


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
