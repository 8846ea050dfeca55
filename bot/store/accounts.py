"""Operators' accounts, their sign-ins, and the counts of failed sign-ins
(see :mod:`bot.web.console.accounts` for what they mean)::

    p:ops:user:<name>            hash: role, hash (the password's), ver (bumped to sign out everywhere)
    p:ops:signin:<id>            one sign-in (its operator's name), until it ends or is signed out
    p:ops:{fail}:<kind>:<value>  hash n, until: failed tries by user, address or device,
                                 under one hash tag so that one script counts a try on a cluster
"""
from __future__ import annotations

from .connection import lua, text
from .keys import Keys


class AccountRecords:
    def __init__(self, client, keys: Keys):
        self.r = client
        self.keys = keys

    def put(self, name: str, role: str, password_hash: str) -> bool:
        """Set the account's role and password, signing out its old sign-ins. True if it is new."""
        key = self.keys.account(name)
        new = not self.r.exists(key)
        pipe = self.r.pipeline(transaction=False)
        pipe.hset(key, mapping={"role": role, "hash": password_hash})
        pipe.hincrby(key, "ver", 1)
        pipe.execute()
        return new

    def remove(self, name: str) -> bool:
        return bool(self.r.delete(self.keys.account(name)))

    def names(self) -> list[tuple[str, str]]:
        """(name, role) of every account."""
        found = []
        for key in self.r.scan_iter(match=self.keys.account("*"), count=200):
            key = text(key)
            found.append((self.keys.name_of_account(key), text(self.r.hget(key, "role"))))
        return sorted(found)

    def get(self, name: str) -> dict[str, str]:
        """The account's fields ({} if there is none)."""
        return {text(k): text(v) for k, v in self.r.hgetall(self.keys.account(name)).items()}

    def password_hash(self, name: str) -> str:
        return text(self.r.hget(self.keys.account(name), "hash"))

    def sign_in(self, ident: str, name: str, seconds: int) -> None:
        self.r.set(self.keys.signin(ident), name, ex=seconds)

    def sign_out(self, ident: str) -> None:
        self.r.delete(self.keys.signin(ident))

    def with_sign_in(self, name: str, ident: str) -> tuple[dict[str, str], str]:
        """The account's fields and the name the sign-in ``ident`` belongs to ('' if none), in one round trip."""
        pipe = self.r.pipeline(transaction=False)
        pipe.hgetall(self.keys.account(name))
        pipe.get(self.keys.signin(ident))
        fields, holder = pipe.execute()
        return {text(k): text(v) for k, v in (fields or {}).items()}, text(holder)


class FailedSignIns:
    """Counts of failed sign-ins, each a (kind, value) pair: ``("user", name)``,
    ``("ip", place)`` or ``("device", id)``."""

    def __init__(self, client, keys: Keys):
        self.r = client
        self.keys = keys
        self._take = client.register_script(lua("signin_throttle"))

    def take(self, counts: list[tuple[str, str]], free: list[int], now: float, window: int, longest: int) -> float:
        """Take one try against ``counts`` (each with its free tries): 0 if the
        password may be checked now, else the seconds to wait. The try is
        counted as failed at once, in the same script that checks the wait."""
        keys = [self.keys.failures(kind, value) for kind, value in counts]
        return float(text(self._take(keys=keys, args=[f"{now:.3f}", window, longest, *free])))

    def untils(self, counts: list[tuple[str, str]]) -> list[float]:
        """When the wait on each count ends (0: none)."""
        pipe = self.r.pipeline(transaction=False)
        for kind, value in counts:
            pipe.hget(self.keys.failures(kind, value), "until")
        return [float(text(u) or 0) for u in pipe.execute()]

    def forget(self, kind: str, value: str) -> None:
        self.r.delete(self.keys.failures(kind, value))

    def one_less(self, kind: str, value: str) -> int:
        """One failed try fewer on a count; how many are left."""
        return int(self.r.hincrby(self.keys.failures(kind, value), "n", -1))

    def end_wait(self, kind: str, value: str) -> None:
        self.r.hdel(self.keys.failures(kind, value), "until")
