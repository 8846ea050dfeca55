"""What a phone call said last, for the key that repeats it (9), and which
calls have ended.

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


class EndedCalls:
    """Calls that are over, for a few minutes: Twilio may still post a key
    pressed as the caller hung up (the <Gather>'s action crossing the hang-up's
    callback), or its silence redirect, after the hang-up erased the call. Such
    a request must not start the call again: it would keep a session, and the
    live list would show a call nobody is on. ``mark``: the CallSid's seen mark
    (an HMAC, bot.helpline.MessageMarks), never the caller's contact id; the
    key holds "1", and expires."""

    LATE = 600  # seconds: well past any request Twilio still makes for a call that ended

    def __init__(self, client, keys: Keys):
        self.r = client
        self.keys = keys

    def add(self, mark: str) -> None:
        self.r.set(self.keys.call_over(mark), "1", ex=self.LATE)

    def holds(self, mark: str) -> bool:
        return bool(self.r.exists(self.keys.call_over(mark)))
