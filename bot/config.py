"""Settings, read from the environment (see README "Configuration").

Every setting has a default that works on a newcomer's machine: no Redis URL
means an embedded Redis under ``BOT_DATA_DIR``; no ``SECRET_KEY`` means one is
generated once and kept in ``BOT_DATA_DIR`` so contact ids stay stable.
"""
from __future__ import annotations

import os
import re
import secrets
from urllib.parse import urlsplit

from .store.embedded import private_folder


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"{name}={value!r} is not a whole number (see README, Configuration)") from None


def _float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    try:
        return float(value) if value else default
    except ValueError:
        raise SystemExit(f"{name}={value!r} is not a number (see README, Configuration)") from None


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SystemExit(f"{name}={value!r} is not 1 or 0 (see README, Configuration)")


def _phone_number(name: str, default: str | None) -> str | None:
    """A number Twilio can dial, in E.164 (``+18883737888``), or the default when unset.
    Anything else is refused at start: a caller put through to it would reach nobody."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not re.fullmatch(r"\+[1-9][0-9]{6,14}", value):
        raise SystemExit(f"{name}={value!r} is not a phone number in E.164 form, like +18883737888 "
                         "(see README, Phone calls)")
    return value


def _languages(name: str, default: str) -> tuple[str, ...]:
    """Language codes as flows/system.yaml names them (``es,en``): a code with a region
    (``es-MX``) or a typo is refused at start, where calls would otherwise offer nothing."""
    codes = tuple(code.strip() for code in (os.environ.get(name, "").strip() or default).split(",") if code.strip())
    bad = [code for code in codes if not re.fullmatch(r"[a-z]{2,3}", code)]
    if bad or not codes:
        raise SystemExit(f"{name}={os.environ.get(name, '')!r} is not a list of language codes like es,en, "
                         "as flows/system.yaml names them (see README, Phone calls)")
    return codes


def _public_url() -> str | None:
    """PUBLIC_URL without its trailing slash, or None when unset.

    It is the URL of the app's root as Twilio calls it (``https://example.org``,
    or ``https://example.org/helpline`` behind a proxy that serves the app
    under a path): the webhook's URL is PUBLIC_URL + ``/twilio/messages``.
    """
    value = os.environ.get("PUBLIC_URL", "").strip().rstrip("/")
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise SystemExit(f"PUBLIC_URL={value!r} is not a base URL like https://example.org: the scheme and host "
                         "Twilio calls (see README, Point Twilio at it)")
    if parts.path.endswith("/twilio/messages") or parts.path.endswith("/twilio/status"):
        raise SystemExit(f"PUBLIC_URL={value!r} is a webhook's URL; PUBLIC_URL is the base it starts with: "
                         f"{value.rsplit('/twilio/', 1)[0] or value} (see README, Point Twilio at it)")
    return value


def reachable_from_outside(public_url: str | None) -> bool:
    """Whether ``PUBLIC_URL`` names a host others can reach (not this machine's loopback).

    >>> reachable_from_outside("https://helpline.example.org"), reachable_from_outside("http://localhost:5000")
    (True, False)
    """
    if not public_url:
        return False
    host = (urlsplit(public_url).hostname or "").lower()
    return host not in ("localhost", "127.0.0.1", "::1") and not host.endswith(".localhost")


def _secret_key(data_dir: str) -> str:
    """SECRET_KEY, or one generated once and kept in the data dir (mode 600)."""
    key = os.environ.get("SECRET_KEY", "").strip()
    if key:
        return key
    path = os.path.join(data_dir, "secret_key")
    try:
        with open(path, encoding="ascii") as fh:
            return fh.read().strip()
    except FileNotFoundError:
        pass
    private_folder(data_dir)  # 0700: it also holds the embedded Redis's data
    key = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its key
        with open(path, encoding="ascii") as fh:
            return fh.read().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


class Config:
    """Production settings from the environment."""

    def __init__(self) -> None:
        self.BOT_DATA_DIR = os.path.abspath(os.environ.get("BOT_DATA_DIR", "var"))
        self.REDIS_URL = os.environ.get("REDIS_URL", "").strip() or None
        # REDIS_URL names one node of a Redis Cluster (any node: the client asks
        # it for the others). Off: REDIS_URL is one Redis server.
        self.REDIS_CLUSTER = _bool("REDIS_CLUSTER")
        # redis-py waits 5 s by default; a webhook must answer within Twilio's 15 s.
        self.REDIS_TIMEOUT = _float("REDIS_TIMEOUT", 1.0)
        self.SECRET_KEY = _secret_key(self.BOT_DATA_DIR)
        self.SESSION_TTL = _int("SESSION_TTL", 86400)
        # How long a MessageSid's answer is kept for Twilio's retry (it retries within seconds).
        self.RETRY_WINDOW = _int("RETRY_WINDOW", 3600)
        self.FLOWS_DIR = os.path.abspath(os.environ.get("FLOWS_DIR", "flows"))
        self.LOCALES_DIR = os.path.abspath(os.environ.get("LOCALES_DIR", "locales"))
        # How often each worker looks for a newly published flow set (flows publish).
        self.FLOWS_CHECK_SECONDS = _float("FLOWS_CHECK_SECONDS", 2.0)
        self.PORT = _int("PORT", 5000)
        # The URL Twilio calls, which is the URL it signs. Required: without it
        # the webhook refuses every request, like without TWILIO_AUTH_TOKEN. The
        # request's own Host header is never used instead: a signature Twilio
        # made for another host of the same account would pass.
        self.PUBLIC_URL = _public_url()
        # How many proxies in front of us set X-Forwarded-For/-Proto/-Host/-Port
        # (deploy/nginx.conf sets them: 1). 0, the default, trusts none: without
        # a proxy that overwrites them, anyone could write them.
        self.PROXY_COUNT = _int("PROXY_COUNT", 0)
        self.TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "").strip() or None
        self.TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "").strip() or None
        self.TWILIO_MESSAGING_SERVICE_SID = os.environ.get("TWILIO_MESSAGING_SERVICE_SID", "").strip() or None
        self.TWILIO_FROM_NUMBER = os.environ.get("TWILIO_FROM_NUMBER", "").strip() or None
        # WhatsApp replies by REST: menus and questions as buttons and lists
        # (templates made by `flask whatsapp sync`), the webhook answered at once.
        # Needs TWILIO_ACCOUNT_SID and a sender; off: numbered text in TwiML, as SMS.
        self.WHATSAPP_INTERACTIVE = _bool("WHATSAPP_INTERACTIVE")
        # Longest a webhook waits for another message from the same person.
        self.LOCK_WAIT = _float("LOCK_WAIT", 8.0)
        self.KEY_PREFIX = os.environ.get("KEY_PREFIX", "hl")
        # When set, GET /metrics needs "Authorization: Bearer <token>"; with
        # PUBLIC_URL set (a public deployment) and no token, /metrics is refused.
        self.METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "").strip() or None
        # Seconds after a quick exit before its messages are deleted at Twilio
        # (Twilio refuses while it still processes them; it asks for a minute or more).
        self.TWILIO_DELETE_AFTER = _float("TWILIO_DELETE_AFTER", 120.0)
        # The embedded Redis's AOF is rewritten after erasures, at most once in this many seconds.
        self.AOF_REWRITE_SECONDS = _float("AOF_REWRITE_SECONDS", 60.0)
        self.TESTING = False
        # --- Operators' console (bot/web/console/; README "Operators' console") ---
        # Where operator replies go: Twilio's REST API, or a local stand-in in tests.
        self.TWILIO_API_BASE = os.environ.get("TWILIO_API_BASE", "").strip() or None
        # Staffed hours, e.g. "Mon-Fri 09:00-17:00; Sat 10:00-14:00", in OPS_TIMEZONE
        # (which also sets the console's days for the figures).
        self.HANDOFF_HOURS = os.environ.get("HANDOFF_HOURS", "").strip() or None
        self.OPS_TIMEZONE = os.environ.get("OPS_TIMEZONE", "").strip() or "UTC"
        # Seconds "on duty" lasts after the last responder's console was open.
        self.OPS_DUTY_TTL = _int("OPS_DUTY_TTL", 120)
        # Live-update streams one process keeps open (each holds a thread).
        self.OPS_LIVE_STREAMS = _int("OPS_LIVE_STREAMS", 1)
        # Seconds without a text after which a conversation counts as having left.
        self.OPS_DROPOFF_AFTER = _int("OPS_DROPOFF_AFTER", 3600)
        # Minutes a person may wait for a person before their queue card says "Waiting too long".
        self.OPS_WAIT_LIMIT_MINUTES = _int("OPS_WAIT_LIMIT_MINUTES", 5)
        self.OPS_SECURE_COOKIE = (os.environ.get("OPS_SECURE_COOKIE", "").strip().lower() in ("1", "true", "yes")
                                  or (self.PUBLIC_URL or "").startswith("https://"))
        # How operators' passwords are hashed, as werkzeug names it: scrypt at
        # werkzeug's own cost (N=32768, r=8, p=1; about 0.1 s and 32 MB a hash).
        self.OPS_PASSWORD_HASH = "scrypt"

        # --- Phone calls (bot/web/voice.py; README "Phone calls") ---
        # The voice that reads each language (Amazon Polly voices through Twilio).
        self.VOICE_NAMES = {"es": os.environ.get("VOICE_ES", "").strip() or "Polly.Mia",
                            "en": os.environ.get("VOICE_EN", "").strip() or "Polly.Joanna"}
        # The languages a new caller is offered, in order: digit 1 is the first.
        self.VOICE_LANGUAGES = _languages("VOICE_LANGUAGES", "es,en")
        # Where 0 puts a caller through while someone is on duty (unset: nobody can be called).
        self.VOICE_RESPONDER_NUMBER = _phone_number("VOICE_RESPONDER_NUMBER", None)
        # The national hotline a caller is offered when nobody on the team can answer.
        self.VOICE_HOTLINE_NUMBER = _phone_number("VOICE_HOTLINE_NUMBER", "+18883737888")

    def as_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if k.isupper()}


class TestConfig(Config):
    """Settings for tests: explicit values, nothing read from the developer's data dir."""

    __test__ = False  # not a test class, though its name starts with "Test"

    def __init__(self, redis_url: str, data_dir: str, **overrides) -> None:
        os.environ.setdefault("SECRET_KEY", "test-secret")
        super().__init__()
        self.TESTING = True
        self.REDIS_URL = redis_url
        self.BOT_DATA_DIR = data_dir
        self.SECRET_KEY = "test-secret"
        self.TWILIO_AUTH_TOKEN = "test-auth-token"
        self.PUBLIC_URL = "http://localhost"  # what Flask's test client calls
        self.LOCK_WAIT = 8.0
        # The same scrypt at 1/32 of the cost: the suite hashes some 800
        # passwords, a sixth of its time at the production cost.
        self.OPS_PASSWORD_HASH = "scrypt:1024:8:1"
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.FLOWS_DIR = os.path.join(here, "flows")
        self.LOCALES_DIR = os.path.join(here, "locales")
        for name, value in overrides.items():
            if not hasattr(self, name):
                raise AttributeError(f"unknown setting {name}")
            setattr(self, name, value)
