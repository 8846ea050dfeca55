"""The flows as the console edits and publishes them::

    p:flows:version            the published flow set's version; every worker follows it
    p:flows:published          hash: version, digest, by, at of the last publish
    p:flows:snapshot           the published files, packed, to start from when the disk's do not pass
    p:ops:draft:<user>         an editor's draft (JSON, DRAFT_TTL)
    p:ops:flows:audit          list, newest first: each publish and rollback (JSON)
    p:ops:flows:audit:seq      the records' counter
    p:ops:flows:lock           one publish or rollback at a time
"""
from __future__ import annotations

from .connection import lua, text
from .keys import Keys


class PublishedVersion:
    def __init__(self, client, keys: Keys):
        self.r = client
        self.keys = keys

    def get(self) -> int:
        return int(self.r.get(self.keys.flows_version()) or 0)

    def next(self) -> int:
        return int(self.r.incr(self.keys.flows_version()))

    def describe(self, info: dict[str, str]) -> None:
        self.r.hset(self.keys.flows_published(), mapping=info)

    def info(self) -> dict[str, str]:
        return {text(k): text(v) for k, v in self.r.hgetall(self.keys.flows_published()).items()}

    def keep_snapshot(self, packed: bytes) -> None:
        self.r.set(self.keys.flows_snapshot(), packed)

    def has_snapshot(self) -> bool:
        return bool(self.r.exists(self.keys.flows_snapshot()))

    def snapshot(self) -> bytes | None:
        return self.r.get(self.keys.flows_snapshot())


class DraftRecords:
    def __init__(self, client, keys: Keys):
        self.r = client
        self.keys = keys

    def get(self, user: str) -> str:
        """The draft's JSON ('' for none)."""
        return text(self.r.get(self.keys.draft(user)))

    def put(self, user: str, packed: str, ttl: int) -> None:
        self.r.set(self.keys.draft(user), packed, ex=ttl)

    def delete(self, user: str) -> None:
        self.r.delete(self.keys.draft(user))


class FlowsAudit:
    def __init__(self, client, keys: Keys):
        self.r = client
        self.keys = keys
        self._unlock = client.register_script(lua("unlock"))

    def next_id(self) -> int:
        return int(self.r.incr(self.keys.flows_audit_seq()))

    def add(self, record: str, kept: int) -> None:
        """Add a record (JSON) on top, keeping the ``kept`` newest."""
        pipe = self.r.pipeline(transaction=False)
        pipe.lpush(self.keys.flows_audit(), record)
        pipe.ltrim(self.keys.flows_audit(), 0, kept - 1)
        pipe.execute()

    def newest(self, limit: int) -> list[str]:
        return [text(x) for x in self.r.lrange(self.keys.flows_audit(), 0, limit - 1)]

    def lock(self, token: str, seconds: int) -> bool:
        """Take the publishing lock; False if someone holds it."""
        return bool(self.r.set(self.keys.flows_lock(), token, nx=True, ex=seconds))

    def unlock(self, token: str) -> None:
        self._unlock(keys=[self.keys.flows_lock()], args=[token])
