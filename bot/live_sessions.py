"""The live sessions, as the console lists them: read from the sessions the
store's live index names (the only place that links a conversation id to its
contact), with the number masked to its last two digits here, on the server.
The browser gets the conversation id and ``··42``, never the number or the
contact id."""
from __future__ import annotations

import hashlib
import re
import threading
import time
from dataclasses import dataclass
from typing import Callable

from .store import SessionStore


def mask(address: str) -> str:
    """The last two digits of a number, for the console: ``+15550001142`` -> ``··42``.

    >>> mask("whatsapp:+5215550001107")
    '··07'
    >>> mask("")
    '··'
    """
    digits = re.sub(r"\D", "", address or "")
    return "··" + digits[-2:] if len(digits) >= 2 else "··"


@dataclass(frozen=True)
class Row:
    """One live session as the console shows it (``cid`` stays on the server)."""

    cid: str
    conv: str
    masked: str
    channel: str
    lang: str
    state: str
    flow: str
    node: str
    t: float  # the person's last text (epoch seconds)
    # What the bot knows (the hand-off page's context; never sent to the browser as is):
    answers: tuple[tuple[str, str], ...] = ()  # screening flags -> yes / no / not_sure
    history: tuple[str, ...] = ()  # the last nodes they passed, "flow.node", oldest first

    @property
    def flags(self) -> dict[str, str]:
        return dict(self.answers)

    @property
    def label(self) -> str:
        """A short name to tell cards apart ("Chat 3F"), from the random conversation id."""
        return chat_label(self.conv)

    def public(self) -> dict:
        """What the browser may see: no contact id, no number."""
        return {
            "conv": self.conv,
            "masked": self.masked,
            "ch": self.channel,
            "lang": self.lang,
            "st": self.state,
            "at": f"{self.flow}.{self.node}" if self.flow else "",
            "t": self.t,
        }


# No 0/O, 1/I, 2/Z, 5/S, 8/B: a label read aloud across the room is not mistaken.
_LABEL_ALPHABET = "ACDEFGHJKLMNPQRTUVWXY34679"


def chat_label(conv: str) -> str:
    """``Chat 3F``: two characters from a hash of the conversation id. Stable
    for the conversation, unrelated to the number, and only a way to tell the
    few cards on screen apart (two can share one; the card shows more).

    >>> chat_label("conv0001") == chat_label("conv0001")
    True
    """
    n = int.from_bytes(hashlib.sha256(conv.encode()).digest()[:4], "big")
    a = len(_LABEL_ALPHABET)
    return "Chat " + _LABEL_ALPHABET[n % a] + _LABEL_ALPHABET[n // a % a]


_ANSWERS = {"y": "yes", "n": "no", "?": "not_sure"}  # as bot/engine/session.py stores them


STALE_AFTER = 10.0  # seconds an index entry without its session is left alone (see LiveIndex.drop)


class LiveSessions:
    """The live sessions, from the store's live index (``p:{p:events}:live``), cached for a moment.

    The event stream names conversations, not contacts (by design: after a
    quick exit, old events cannot be linked to whoever texts next from that
    number), so the sessions are the only link from a conversation to the
    contact whose lock and number an action needs. A snapshot holds the
    ``page`` sessions saved most recently and every session in a hand-off,
    read from the index (no SCAN: a page costs the same at a thousand
    sessions as at a hundred thousand), and is shared by every request of the
    process for ``max_age`` seconds. A conversation the snapshot does not
    have is looked for again only if the snapshot is older than the moment
    it was last heard of (``since``): a session that started after the
    snapshot, not one that has since been erased.
    """

    def __init__(self, store: SessionStore, max_age: float = 2.0, clock: Callable[[], float] = time.time,
                 page: int = 200):
        self.store = store
        self.max_age = max_age
        self.clock = clock
        self.page = page
        self._rows: dict[str, Row] = {}  # by conversation: the page and the hand-offs
        self._page: list[Row] = []
        self._waiting: list[Row] = []
        self._total = 0
        self._at = float("-inf")  # when the snapshot's read started
        self._lock = threading.Lock()
        # Set by the console to its process's background thread (bot/background.py),
        # which then runs forget_stale: rows of sessions erased since stay no longer.
        self.wake: Callable[[], None] = lambda: None

    def _fresh(self, max_age: float | None) -> None:
        if self.clock() - self._at > (self.max_age if max_age is None else max_age):
            self.refresh()

    def rows(self, max_age: float | None = None) -> list[Row]:
        """The ``page`` sessions saved most recently, the most recent text first
        (from a snapshot at most ``max_age`` seconds old: 0 for a page an
        operator just asked for)."""
        self._fresh(max_age)
        return list(self._page)

    def total(self, max_age: float | None = None) -> int:
        """How many sessions there are (the live list shows a page of them)."""
        self._fresh(max_age)
        return self._total

    def waiting(self, max_age: float | None = None) -> list[Row]:
        """Every session in a hand-off, however many others there are."""
        self._fresh(max_age)
        return list(self._waiting)

    def find(self, conv: str, since: float | None = None) -> Row | None:
        """The session of conversation ``conv``, if it is still live.

        ``since``: when the conversation was last heard of (an event's time);
        None for now (an operator's click: always worth a look).
        """
        if self.clock() - self._at > self.max_age:
            self.refresh()
        row = self._rows.get(conv)
        if row is None and self._at <= (self.clock() if since is None else since):
            self.refresh()
            row = self._rows.get(conv)
        return row

    def forget(self, conv: str) -> None:
        self._rows.pop(conv, None)

    def read_again(self, conv: str) -> Row | None:
        """The session of conversation ``conv`` read now (one key), not from the
        snapshot, which may be a moment old: a person who erased the chat or
        stopped the messages since must not be shown as they were. None when
        it is gone (erased, expired, or a new conversation since); the
        snapshot's row when the session cannot be read now."""
        row = self.find(conv)
        if row is None:
            return None
        [fields] = self.store.sessions([row.cid])
        if fields == {}:  # cannot be read now: the best known
            return row
        fresh = _row(row.cid, fields)
        if fresh is None or fresh.conv != conv:
            self.forget(conv)
            return None
        return fresh

    KEPT_FOR = 2  # a snapshot is dropped once this many times max_age old

    def forget_stale(self) -> float | None:
        """A background job: drop a snapshot nobody has asked for since it
        went stale. It holds sessions (a number's last digits, screening
        answers) that may have been erased since; with no console open it
        would otherwise stay in memory until the next page. Seconds until
        the snapshot goes stale, or None when none is held."""
        with self._lock:
            if self._at == float("-inf"):
                return None
            left = self._at + self.KEPT_FOR * self.max_age - self.clock()
            if left > 0:
                return left
            self._rows, self._page, self._waiting, self._total = {}, [], [], 0
            self._at = float("-inf")
            return None

    def refresh(self) -> None:
        with self._lock:
            started = self.clock()
            store = self.store
            page, total = store.live_index.page(self.page)
            handoff = store.live_index.in_handoff()
            saved = dict(handoff + page)  # contact id -> when the index last saw it saved
            cids = list(saved)
            found = store.sessions(cids)
            rows: dict[str, Row] = {}
            by_cid: dict[str, Row] = {}
            missing = set()
            for cid, fields in zip(cids, found):
                if fields is None:  # expired or erased since the index was written
                    missing.add(cid)
                    continue
                row = _row(cid, fields)
                if row is not None:
                    rows[row.conv] = by_cid[cid] = row
            store.live_index.drop([cid for cid in missing if saved[cid] < started - STALE_AFTER])
            self._page = sorted((by_cid[c] for c, _ in page if c in by_cid), key=lambda r: r.t, reverse=True)
            self._waiting = [by_cid[c] for c, _ in handoff if c in by_cid]
            self._total = max(0, total - sum(1 for c, _ in page if c in missing))
            self._rows = rows
            self._at = started
        self.wake()


def _row(cid: str, fields: dict | None) -> Row | None:
    if not fields:
        return None
    conv, ch, lang, st, flow, node, t, addr = (v if isinstance(v := fields.get(name), str) else ""
                                               for name in ("conv", "ch", "lang", "st", "flow", "node", "t", "addr"))
    if not conv:  # a new session has a conversation id from its first turn on
        return None
    try:
        t_value = float(t or 0)
    except ValueError:
        t_value = 0.0
    flags, history = fields.get("f"), fields.get("h")
    answers = tuple((str(k), _ANSWERS.get(v, str(v))) for k, v in flags.items()) if isinstance(flags, dict) else ()
    path = tuple(str(h) for h in history) if isinstance(history, list) else ()
    return Row(cid, conv, mask(addr), ch or "sms", lang or "", st or "", flow or "", node or "", t_value,
               answers, path)
