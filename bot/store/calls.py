"""What a phone call said last, for the key that repeats it (9).

Only the flows' own words (and which prompt they were), never what the
caller said or pressed; the call's session says where they are. Kept for
at most the length of a call, and erased at hang-up with the call.
"""
from __future__ import annotations

from .connection import text
from .keys import Keys

CALL_TTL = 4 * 3600  # seconds: Twilio ends any call after 4 hours


class CallPrompts:
    def __init__(self, client, keys: Keys):
        self.r = client
        self.keys = keys

    def remember(self, cid: str, said: str, ttl: int = CALL_TTL) -> None:
        self.r.set(self.keys.said(cid), said, ex=ttl)

    def get(self, cid: str) -> str | None:
        value = self.r.get(self.keys.said(cid))
        return text(value) if value is not None else None

    def forget(self, cid: str) -> None:
        self.r.delete(self.keys.said(cid))
