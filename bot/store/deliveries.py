"""What happened to the messages the bot sent: Twilio's delivery status of
each (``p:msg:<sid>``, 7 days), and the queue of message sids to delete at
Twilio after a quick exit (``p:{p:events}:purge``: sids only, no number, no
contact id)."""
from __future__ import annotations

import time

from .connection import text
from .keys import Keys
from .leased_queue import LeasedQueue

STATUS_TTL = 7 * 86400


class DeliveryStatuses:
    def __init__(self, client, keys: Keys, events_maxlen: int):
        self.r = client
        self.keys = keys
        self.events_maxlen = events_maxlen

    def record(self, sid: str, status: str, error_code: str | None) -> None:
        """Keep the status, and add a ``delivery`` entry (no sid, no number) to the events stream."""
        key = self.keys.status(sid)
        pipe = self.r.pipeline(transaction=False)
        pipe.hset(key, mapping={"status": status, "error": error_code or "", "t": f"{time.time():.0f}"})
        pipe.expire(key, STATUS_TTL)
        event = {"kind": "delivery", "status": status}
        if error_code:
            event["error"] = error_code
        pipe.xadd(self.keys.events(), event, maxlen=self.events_maxlen, approximate=True)
        pipe.execute()

    def forget(self, sid: str) -> None:
        """The message is gone at Twilio (a quick exit deleted it): its status goes too."""
        self.r.delete(self.keys.status(sid))

    def get(self, sid: str) -> dict[str, str] | None:
        fields = self.r.hgetall(self.keys.status(sid))
        return {text(k): text(v) for k, v in fields.items()} or None

    def of(self, sids: list[str]) -> dict[str, str]:
        """sid -> its last status ('' if none is known), in one round trip."""
        if not sids:
            return {}
        pipe = self.r.pipeline(transaction=False)
        for sid in sids:
            pipe.hget(self.keys.status(sid), "status")
        return {sid: text(status) for sid, status in zip(sids, pipe.execute())}


class TwilioDeletions(LeasedQueue):
    """Message and call sids to delete at Twilio, each with when to try next."""

    def __init__(self, client, keys: Keys, delete_after: float):
        super().__init__(client, keys.purge())
        self.delete_after = delete_after

    def add(self, sids: list[str], when: float | None = None) -> None:
        """Queue message or call sids for deletion at Twilio (a sid already queued keeps its place)."""
        self.put(sids, time.time() + self.delete_after if when is None else when)
