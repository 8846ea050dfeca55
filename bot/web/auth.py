"""Operators' accounts, signing in, and slowing down password guessing.

* Accounts live in Redis: ``p:ops:user:<name>`` is a hash with ``role``
  (``responder``, ``viewer`` or ``editor``: a responder who may also change
  the conversations, see ``ops_flows.py``), ``hash`` (werkzeug's salted scrypt hash of
  the password) and ``ver`` (bumped when the password changes or the account
  is removed, which signs out every browser signed in with the old one).
  They are made with ``flask --app app ops add-user NAME --role ROLE``.
* Sessions are Flask-Login's, in Flask's signed cookie (``SECRET_KEY``).
* Failed sign-ins are counted per username and per client address, for
  ``WINDOW`` seconds after the last failure. After a few free tries each
  further failure makes the next try wait longer (2 s, 4 s, 8 s ... up to
  5 minutes); a try during the wait is refused without looking at the
  password. The same counting and the same message apply whether or not the
  username exists, and an unknown name still costs a password hash, so the
  answer never tells whether an account exists.
"""
from __future__ import annotations

import ipaddress
import math
import re
import time
from dataclasses import dataclass
from functools import wraps
from typing import Callable

from flask import abort
from flask_login import LoginManager, UserMixin, current_user
from werkzeug.security import check_password_hash, generate_password_hash

ROLES = ("responder", "viewer", "editor")
EDITOR_ONLY = "Only editors can do this."
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
MIN_PASSWORD = 10

login_manager = LoginManager()
login_manager.login_view = "ops.login"
login_manager.login_message = "Please sign in to open the console."
login_manager.login_message_category = "info"

# Compared against when the username does not exist, so that a wrong name
# takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password of anyone")


class AccountError(ValueError):
    """A name, role or password that cannot be used; the message says why."""


@dataclass(frozen=True)
class Operator(UserMixin):
    name: str
    role: str
    ver: str = "1"

    def get_id(self) -> str:
        # The version signs out old sessions when the password changes.
        return f"{self.name}:{self.ver}"

    @property
    def can_respond(self) -> bool:
        return self.role in ("responder", "editor")

    @property
    def can_edit(self) -> bool:
        """Editors change the conversations and translations, publish and roll back."""
        return self.role == "editor"


class Accounts:
    def __init__(self, r, prefix: str = "hl"):
        self.r = r
        self.prefix = prefix

    def key(self, name: str) -> str:
        return f"{self.prefix}:ops:user:{name}"

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
        key = self.key(name)
        new = not self.r.exists(key)
        pipe = self.r.pipeline(transaction=False)
        pipe.hset(key, mapping={"role": role, "hash": generate_password_hash(password)})
        pipe.hincrby(key, "ver", 1)
        pipe.execute()
        return new

    def remove(self, name: str) -> bool:
        return bool(self.r.delete(self.key(self.check_name(name))))

    def names(self) -> list[tuple[str, str]]:
        found = []
        for key in self.r.scan_iter(match=self.key("*"), count=200):
            key = key.decode() if isinstance(key, bytes) else key
            name = key.rsplit(":", 1)[1]
            role = self.r.hget(key, "role")
            found.append((name, role.decode() if isinstance(role, bytes) else (role or "")))
        return sorted(found)

    def get(self, name: str) -> Operator | None:
        try:
            name = self.check_name(name)
        except AccountError:
            return None
        fields = self.r.hgetall(self.key(name))
        if not fields:
            return None
        f = {_s(k): _s(v) for k, v in fields.items()}
        if f.get("role") not in ROLES:
            return None
        return Operator(name, f["role"], f.get("ver", "1"))

    def load(self, user_id: str) -> Operator | None:
        """The operator of a session cookie's id, if the account and its version still stand."""
        name, _, ver = (user_id or "").rpartition(":")
        op = self.get(name) if name else None
        return op if op is not None and op.ver == ver else None

    def verify(self, name: str, password: str) -> Operator | None:
        op = self.get(name)
        stored = _s(self.r.hget(self.key(op.name), "hash")) if op else ""
        ok = check_password_hash(stored or _DUMMY_HASH, password or "")
        return op if op is not None and ok and stored else None


class Throttle:
    """Slows down repeated failed sign-ins, per username and per client address."""

    WINDOW = 900  # seconds a failure is remembered after the last one
    FREE = {"user": 3, "ip": 10}  # failures before any wait (an office may share one address)
    LONGEST = 300

    def __init__(self, r, prefix: str = "hl", clock: Callable[[], float] = time.time):
        self.r = r
        self.prefix = prefix
        self.clock = clock

    def _key(self, kind: str, value: str) -> str:
        return f"{self.prefix}:ops:fail:{kind}:{value}"

    def _keys(self, name: str, ip: str) -> list[tuple[str, str]]:
        return [("user", self._key("user", (name or "").strip().lower()[:64])), ("ip", self._key("ip", _place(ip)))]

    def wait(self, name: str, ip: str) -> int:
        """Seconds before another try is allowed (0: try now)."""
        now = self.clock()
        pipe = self.r.pipeline(transaction=False)
        for _, key in self._keys(name, ip):
            pipe.hget(key, "until")
        untils = [float(_s(u) or 0) for u in pipe.execute()]
        return max(0, math.ceil(max(untils) - now))

    def failed(self, name: str, ip: str) -> None:
        now = self.clock()
        for kind, key in self._keys(name, ip):
            n = self.r.hincrby(key, "n", 1)
            extra = n - self.FREE[kind]
            if extra > 0:
                self.r.hset(key, "until", f"{now + min(2 ** extra, self.LONGEST):.3f}")
            self.r.expire(key, self.WINDOW)

    def succeeded(self, name: str) -> None:
        # The address's count is kept: signing in to one's own account must not
        # clear the way for guessing someone else's from the same place.
        self.r.delete(self._keys(name, "")[0][1])


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


def _s(value) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
