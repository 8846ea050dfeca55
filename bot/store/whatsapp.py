"""What WhatsApp needs kept in Redis: the flows' ContentSids, and each person's outbox.

Keys (``p`` is KEY_PREFIX; spelled in bot/store/keys.py)::

    p:wa:content               hash: "<flow.node>|<lang>" -> {"sid", "digest"} of its Content API
                               template (no TTL; `whatsapp sync` keeps it in step with the flows)
    p:{cid}:wa:outbox          list: the replies of this person's turns waiting to be sent by
                               REST, oldest first (TTL OUTBOX_TTL: never older than that)
    p:{cid}:wa:sending         who is sending this person's outbox now (SET NX, PX SENDING_MS)
    p:{p:events}:wa:ready      sorted set: contact id -> when its outbox got something

The outbox holds the address and the bot's own texts, only until they are
sent (a second or two): the person's words never go there. It carries the
contact's hash tag, so on a cluster it is on the node of their session.
One sender at a time per person (``sending``) and a list per person: the
replies of one turn, and the turns of one person, go out in the order the
turns were answered.
"""
from __future__ import annotations

import json
import time
import uuid

from .connection import text as _text
from .sessions import SessionStore

OUTBOX_TTL = 3600
SENDING_MS = 30_000


class WhatsAppStore:
    def __init__(self, store: SessionStore):
        self.r = store.r
        self.store = store
        self.content_key = store.keys.wa_content()
        self.ready_key = store.keys.wa_ready()

    def _outbox(self, cid: str) -> str:
        return self.store.keys.wa_outbox(cid)

    def _sending(self, cid: str) -> str:
        return self.store.keys.wa_sending(cid)

    # --- ContentSids ------------------------------------------------------------

    def content(self) -> dict[str, dict[str, str]]:
        """Every template kept: key -> {"sid", "digest"}."""
        return {_text(k): json.loads(v) for k, v in self.r.hgetall(self.content_key).items()}

    def content_sid(self, key: str) -> str | None:
        raw = self.r.hget(self.content_key, key)
        return json.loads(raw)["sid"] if raw else None

    def keep_content(self, key: str, sid: str, digest: str) -> None:
        self.r.hset(self.content_key, key, json.dumps({"sid": sid, "digest": digest}))

    def forget_content(self, key: str) -> None:
        self.r.hdel(self.content_key, key)

    # --- the outbox ---------------------------------------------------------------

    def enqueue(self, cid: str, items: list[dict], replace: bool = False) -> None:
        """Add a turn's replies to the person's outbox, in order. ``replace``:
        instead of what is still waiting there (a quick exit: nothing the bot
        said before it may arrive after it)."""
        if not items:
            return
        box = self._outbox(cid)
        pipe = self.r.pipeline(transaction=replace)
        if replace:
            pipe.delete(box)
        # Each item is told apart by an id of its own, so that the one being sent is
        # removed once sent, even if the outbox was replaced meanwhile (see sent).
        pipe.rpush(box, *(json.dumps({**i, "id": uuid.uuid4().hex}, ensure_ascii=False) for i in items))
        pipe.expire(box, OUTBOX_TTL)
        pipe.zadd(self.ready_key, {cid: time.time()}, nx=True)
        pipe.execute()

    def drop_last(self, cid: str, count: int) -> None:
        """Remove the last ``count`` items (those just added by a turn that failed)."""
        self.r.ltrim(self._outbox(cid), 0, -(count + 1))

    def mark_ready(self, cid: str) -> None:
        self.r.zadd(self.ready_key, {cid: time.time()}, nx=True)

    def ready(self, limit: int = 100) -> list[str]:
        """Contacts whose outbox may hold something, oldest first."""
        return [_text(c) for c in self.r.zrange(self.ready_key, 0, limit - 1)]

    def take(self, cid: str, token: str) -> bool:
        """Become the one sender of ``cid``'s outbox (for SENDING_MS, renewed by :meth:`renew`)."""
        return bool(self.r.set(self._sending(cid), token, nx=True, px=SENDING_MS))

    def renew(self, cid: str) -> None:
        self.r.pexpire(self._sending(cid), SENDING_MS)

    def let_go(self, cid: str) -> None:
        self.r.delete(self._sending(cid))

    def done_with(self, cid: str) -> None:
        """Off the ready set. Called BEFORE draining the outbox: an item added
        after the last read puts the contact back (``enqueue`` adds to the
        list first, then to the set), so nothing is left behind."""
        self.r.zrem(self.ready_key, cid)

    def first(self, cid: str) -> tuple[str, dict] | None:
        """The oldest item waiting: as stored (for :meth:`sent`), and read."""
        raw = self.r.lindex(self._outbox(cid), 0)
        return (_text(raw), json.loads(raw)) if raw else None

    def sent(self, cid: str, raw: str) -> None:
        """The item ``raw`` went (or will never go): drop it. Not "the first": a
        quick exit may have replaced the outbox while it was being sent."""
        self.r.lrem(self._outbox(cid), 1, raw)

    def pending(self, cid: str) -> int:
        return int(self.r.llen(self._outbox(cid)))
