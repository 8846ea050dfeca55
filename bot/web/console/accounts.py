"""Operators' accounts, signing in and out, and slowing down password guessing.

* Accounts live in Redis (:mod:`bot.store.accounts`), a hash each, with ``role``
  (``responder``, ``viewer`` or ``editor``: a responder who may also change
  the conversations, see ``flows.py``), ``hash`` (werkzeug's salted scrypt hash of
  the password) and ``ver`` (bumped when the password changes or the account
  is removed, which signs out every browser signed in with the old one).
  They are made with ``flask --app app ops add-user NAME --role ROLE``.
* Sessions are Flask-Login's, in Flask's signed cookie (``SECRET_KEY``), and
  each sign-in is also a record on the server (12 hours):
  the cookie names it, and signing out deletes it, so a copy of the cookie
  is worth nothing after sign-out.
* Failed sign-ins are counted for ``WINDOW`` seconds after the last one.
  After a few free tries each further try makes the next wait longer (2 s,
  4 s, 8 s ... up to 5 minutes); a try during the wait is refused without
  looking at the password. The count is taken before the password is
  checked, in one Redis script, so tries sent all at once get no more
  checks than tries sent one by one. Whose count: the OWASP "device
  cookie" scheme. A browser that signed in as a name before carries a
  signed cookie saying so, and its tries for that name count only against
  itself; any other browser's count against the name and against its
  address. So someone guessing a name cannot lock its owner out of the
  browsers they use, and guessing from many places still meets the name's
  count. The same counting and the same message apply whether or not the
  username exists, and an unknown name still costs a password hash, so the
  answer never tells whether an account exists.
"""
from __future__ import annotations

import ipaddress
import math
import re
import secrets
import time
from dataclasses import dataclass, replace
from functools import wraps
from typing import Callable

from flask import abort
from flask_login import LoginManager, UserMixin, current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.security import check_password_hash, generate_password_hash

from ...store.accounts import AccountRecords, FailedSignIns

ROLES = ("responder", "viewer", "editor")
EDITOR_ONLY = "Only editors can do this."
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
MIN_PASSWORD = 10

login_manager = LoginManager()
login_manager.login_view = "ops.login"
login_manager.login_message = "Please sign in to open the console."
login_manager.login_message_category = "info"


class AccountError(ValueError):
    """A name, role or password that cannot be used; the message says why."""


@dataclass(frozen=True)
class Operator(UserMixin):
    name: str
    role: str
    ver: str = "1"
    signin: str = ""  # the id of this sign-in, as the server keeps it

    def get_id(self) -> str:
        # The version signs out old sessions when the password changes; the
        # sign-in id, this one when it signs out.
        return f"{self.name}:{self.ver}:{self.signin}"

    @property
    def can_respond(self) -> bool:
        return self.role in ("responder", "editor")

    @property
    def can_edit(self) -> bool:
        """Editors change the conversations and translations, publish and roll back."""
        return self.role == "editor"


class Accounts:
    def __init__(self, records: AccountRecords, hash_method: str = "scrypt"):
        """``hash_method``: werkzeug's name for how passwords are hashed (``OPS_PASSWORD_HASH``)."""
        self.records = records
        self.hash_method = hash_method
        # Compared against when the username does not exist, so that a wrong
        # name takes as long as a wrong password: hashed the same way.
        self._unknown_name_hash = generate_password_hash("not a password of anyone", method=hash_method)

    @staticmethod
    def check_name(name: str) -> str:
        name = (name or "").strip().lower()
        if not NAME_RE.match(name):
            raise AccountError("a username is 1 to 32 lower-case letters, digits, '.', '_' or '-', "
                               "starting with a letter or digit")
        return name

    def add(self, name: str, role: str, password: str) -> bool:
        """Create the account, or change its role and password. True if it is new."""
        name = self.check_name(name)
        if role not in ROLES:
            raise AccountError(f"the role is one of: {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"the password needs at least {MIN_PASSWORD} characters")
        return self.records.put(name, role, generate_password_hash(password, method=self.hash_method))

    def remove(self, name: str) -> bool:
        return self.records.remove(self.check_name(name))

    def names(self) -> list[tuple[str, str]]:
        return self.records.names()

    def get(self, name: str) -> Operator | None:
        try:
            name = self.check_name(name)
        except AccountError:
            return None
        f = self.records.get(name)
        if f.get("role") not in ROLES:
            return None
        return Operator(name, f["role"], f.get("ver", "1"))

    def sign_in(self, op: Operator, seconds: int) -> Operator:
        """Record a new sign-in of ``op`` on the server, for ``seconds``; the operator to log in."""
        ident = secrets.token_urlsafe(18)
        self.records.sign_in(ident, op.name, seconds)
        return replace(op, signin=ident)

    def sign_out(self, op: Operator) -> None:
        if op.signin:
            self.records.sign_out(op.signin)

    def load(self, user_id: str) -> Operator | None:
        """The operator of a session cookie's id, if the account and its version
        still stand and the sign-in it names was not signed out (nor expired)."""
        name, ver, ident = ((user_id or "").split(":") + ["", "", ""])[:3]
        if not (name and ident and NAME_RE.match(name)):
            return None
        f, holder = self.records.with_sign_in(name, ident)
        if f.get("role") not in ROLES or f.get("ver", "1") != ver or holder != name:
            return None
        return Operator(name, f["role"], ver, ident)

    def verify(self, name: str, password: str) -> Operator | None:
        op = self.get(name)
        stored = self.records.password_hash(op.name) if op else ""
        ok = check_password_hash(stored or self._unknown_name_hash, password or "")
        return op if op is not None and ok and stored else None


class Throttle:
    """Slows down repeated failed sign-ins (see the module's docstring).

    Counts are kept by :class:`bot.store.accounts.FailedSignIns`, one per
    (kind, value): ``user``, ``ip`` or ``device``.
    """

    WINDOW = 900  # seconds a failure is remembered after the last one
    FREE = {"user": 3, "ip": 10, "device": 5}  # failures before any wait (an office may share one address)
    LONGEST = 300
    DEVICE_DAYS = 90  # a browser that signed in stays known this long after its last sign-in

    def __init__(self, failures: FailedSignIns, secret: str = "", clock: Callable[[], float] = time.time):
        self.failures = failures
        self.clock = clock
        self._devices = URLSafeTimedSerializer(secret or "unset", salt="ops-device")

    # --- device cookies ---

    @staticmethod
    def device_cookie(name: str) -> str:
        """The cookie that marks a browser as one ``name`` signed in from (one per name)."""
        return f"ops_device_{name}"

    def new_device(self, name: str) -> str:
        """A new device cookie's value for ``name`` (given at each sign-in)."""
        return self._devices.dumps({"n": name, "d": secrets.token_urlsafe(12)})

    def device(self, name: str, cookie: str | None) -> str | None:
        """The device id in ``cookie`` if it is a valid one for ``name``, else None."""
        if not cookie:
            return None
        try:
            data = self._devices.loads(cookie, max_age=self.DEVICE_DAYS * 86400)
        except BadSignature:
            return None
        if not isinstance(data, dict) or data.get("n") != name or not isinstance(data.get("d"), str):
            return None
        return data["d"]

    # --- counting ---

    def _counts(self, name: str, ip: str, device: str | None) -> list[tuple[str, str]]:
        if device:  # a browser that signed in as this name before: its own count only
            return [("device", device)]
        return [("user", (name or "").strip().lower()[:64]), ("ip", _place(ip))]

    def attempt(self, name: str, ip: str, device: str | None = None) -> int:
        """Take one try: 0 if the password may be checked now, else the seconds to wait.

        The try is counted as failed at once (undone by :meth:`succeeded`),
        in the same script that checks the wait.
        """
        counts = self._counts(name, ip, device)
        return math.ceil(self.failures.take(counts, [self.FREE[kind] for kind, _ in counts], self.clock(),
                                            self.WINDOW, self.LONGEST))

    def wait(self, name: str, ip: str, device: str | None = None) -> int:
        """Seconds before another try is allowed (0: try now)."""
        now = self.clock()
        untils = self.failures.untils(self._counts(name, ip, device))
        return max(0, math.ceil(max(untils) - now))

    def forget(self, name: str) -> None:
        """Clear the wait on ``name`` for browsers it never signed in from (a new password was set)."""
        self.failures.forget("user", (name or "").strip().lower()[:64])

    def succeeded(self, name: str, ip: str, device: str | None = None) -> None:
        """The password was right: this name's (or this browser's) failures are forgotten.

        The address's count loses only this try: signing in to one's own
        account must not clear the way for guessing someone else's from the
        same place.
        """
        counts = dict(self._counts(name, ip, device))
        if "device" in counts:
            self.failures.forget("device", counts["device"])
            return
        self.failures.forget("user", counts["user"])
        if self.failures.one_less("ip", counts["ip"]) <= self.FREE["ip"]:
            self.failures.end_wait("ip", counts["ip"])


def _place(ip: str | None) -> str:
    """The throttle's key for a client address, bounded whatever a header said:
    an IPv6 address counts by its /64 (one subscriber's share, rotated at will),
    and anything that is not an address is one shared "?"."""
    try:
        addr = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return "?"
    if addr.version == 6 and addr.ipv4_mapped is None:
        return f"{ipaddress.ip_network((addr, 64), strict=False).network_address}/64"
    return str(getattr(addr, "ipv4_mapped", None) or addr)


def responder_required(view):
    """Viewers may look; only responders act on a conversation or the duty toggle."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated or not current_user.can_respond:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def editor_required(view):
    """Everyone may read the flows; only editors change, publish or roll them back."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated or not current_user.can_edit:
            abort(403, EDITOR_ONLY)
        return view(*args, **kwargs)

    return wrapped
