"""Operators' accounts, signing in and out, and slowing down password guessing.

* Accounts live in Redis: ``p:ops:user:<name>`` is a hash with ``role``
  (``responder``, ``viewer`` or ``editor``: a responder who may also change
  the conversations, see ``ops_flows.py``), ``hash`` (werkzeug's salted scrypt hash of
  the password) and ``ver`` (bumped when the password changes or the account
  is removed, which signs out every browser signed in with the old one).
  They are made with ``flask --app app ops add-user NAME --role ROLE``.
* Sessions are Flask-Login's, in Flask's signed cookie (``SECRET_KEY``), and
  each sign-in is also a key on the server, ``p:ops:signin:<id>`` (12 hours):
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
    signin: str = ""  # the id of this sign-in (p:ops:signin:<id>)

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

    def signin_key(self, ident: str) -> str:
        return f"{self.prefix}:ops:signin:{ident}"

    def sign_in(self, op: Operator, seconds: int) -> Operator:
        """Record a new sign-in of ``op`` on the server, for ``seconds``; the operator to log in."""
        ident = secrets.token_urlsafe(18)
        self.r.set(self.signin_key(ident), op.name, ex=seconds)
        return replace(op, signin=ident)

    def sign_out(self, op: Operator) -> None:
        if op.signin:
            self.r.delete(self.signin_key(op.signin))

    def load(self, user_id: str) -> Operator | None:
        """The operator of a session cookie's id, if the account and its version
        still stand and the sign-in it names was not signed out (nor expired)."""
        name, ver, ident = ((user_id or "").split(":") + ["", "", ""])[:3]
        if not (name and ident and NAME_RE.match(name)):
            return None
        pipe = self.r.pipeline(transaction=False)
        pipe.hgetall(self.key(name))
        pipe.get(self.signin_key(ident))
        fields, holder = pipe.execute()
        f = {_s(k): _s(v) for k, v in (fields or {}).items()}
        if f.get("role") not in ROLES or f.get("ver", "1") != ver or _s(holder) != name:
            return None
        return Operator(name, f["role"], ver, ident)

    def verify(self, name: str, password: str) -> Operator | None:
        op = self.get(name)
        stored = _s(self.r.hget(self.key(op.name), "hash")) if op else ""
        ok = check_password_hash(stored or _DUMMY_HASH, password or "")
        return op if op is not None and ok and stored else None


_RESERVE = """
-- KEYS: the counts this try goes against. ARGV: now, window, longest, then each count's free tries.
local now, window, longest = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local wait = 0
for _, key in ipairs(KEYS) do
  local untl = tonumber(redis.call('HGET', key, 'until') or '0')
  if untl > now and untl - now > wait then wait = untl - now end
end
if wait > 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  local extra = redis.call('HINCRBY', key, 'n', 1) - tonumber(ARGV[3 + i])
  if extra > 0 then redis.call('HSET', key, 'until', tostring(now + math.min(2 ^ extra, longest))) end
  redis.call('EXPIRE', key, window)
end
return '0'
"""


class Throttle:
    """Slows down repeated failed sign-ins (see the module's docstring).

    Counts are ``p:ops:{fail}:<kind>:<value>`` hashes (``n``, ``until``), all
    under one hash tag so the script that checks and counts a try runs whole
    on one node of a Redis Cluster too.
    """

    WINDOW = 900  # seconds a failure is remembered after the last one
    FREE = {"user": 3, "ip": 10, "device": 5}  # failures before any wait (an office may share one address)
    LONGEST = 300
    DEVICE_DAYS = 90  # a browser that signed in stays known this long after its last sign-in

    def __init__(self, r, prefix: str = "hl", secret: str = "", clock: Callable[[], float] = time.time):
        self.r = r
        self.prefix = prefix
        self.clock = clock
        self._reserve = r.register_script(_RESERVE)
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

    def _key(self, kind: str, value: str) -> str:
        return f"{self.prefix}:ops:{{fail}}:{kind}:{value}"

    def _counts(self, name: str, ip: str, device: str | None) -> list[tuple[str, str]]:
        if device:  # a browser that signed in as this name before: its own count only
            return [("device", self._key("device", device))]
        return [("user", self._key("user", (name or "").strip().lower()[:64])), ("ip", self._key("ip", _place(ip)))]

    def attempt(self, name: str, ip: str, device: str | None = None) -> int:
        """Take one try: 0 if the password may be checked now, else the seconds to wait.

        The try is counted as failed at once (undone by :meth:`succeeded`),
        in the same script that checks the wait.
        """
        counts = self._counts(name, ip, device)
        wait = self._reserve(keys=[key for _, key in counts],
                             args=[f"{self.clock():.3f}", self.WINDOW, self.LONGEST, *(self.FREE[k] for k, _ in counts)])
        return math.ceil(float(_s(wait)))

    def wait(self, name: str, ip: str, device: str | None = None) -> int:
        """Seconds before another try is allowed (0: try now)."""
        now = self.clock()
        pipe = self.r.pipeline(transaction=False)
        for _, key in self._counts(name, ip, device):
            pipe.hget(key, "until")
        untils = [float(_s(u) or 0) for u in pipe.execute()]
        return max(0, math.ceil(max(untils) - now))

    def forget(self, name: str) -> None:
        """Clear the wait on ``name`` for browsers it never signed in from (a new password was set)."""
        self.r.delete(self._key("user", (name or "").strip().lower()[:64]))

    def succeeded(self, name: str, ip: str, device: str | None = None) -> None:
        """The password was right: this name's (or this browser's) failures are forgotten.

        The address's count loses only this try: signing in to one's own
        account must not clear the way for guessing someone else's from the
        same place.
        """
        counts = dict(self._counts(name, ip, device))
        if "device" in counts:
            self.r.delete(counts["device"])
            return
        pipe = self.r.pipeline(transaction=False)
        pipe.delete(counts["user"])
        pipe.hincrby(counts["ip"], "n", -1)
        left = pipe.execute()[1]
        if left <= self.FREE["ip"]:
            self.r.hdel(counts["ip"], "until")


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
