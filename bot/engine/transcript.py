"""The lines of a hand-off's transcript, which the responder who answers reads.

A line is either a text the person sent, as it is, or a record: ``\\x1e``
(a control character) and a JSON object whose ``k`` says what it records.
The engine drops control characters from every text a person sends
(``text.clean``), so no text of theirs can be read as a record.

The engine writes three records of its own: ``asked``, first, when the
person asks for a person (the time the queue counts their wait from; it goes
with the transcript, so it expires with the session and SALIR erases it);
``said``, a text of the person's with the time it came (:func:`said`; older
transcripts hold the bare text, without a time); and ``keyword``, when the
person used a word the bot answers during a hand-off (EMERGENCY, HELP, a
language), so the responder sees at once that they did and what the bot sent
them. The console writes the others (claims, replies; ``bot/desk.py``).
"""
from __future__ import annotations

import json

RECORD = "\x1e"
KEYWORD = "keyword"
SAID = "said"
ASKED = "asked"


def record(kind: str, t: float, **fields) -> str:
    """A record line: ``record("keyword", 1.5, intent="danger")``.

    >>> record("keyword", 1.5, intent="danger")
    '\\x1e{"k":"keyword","t":1.5,"intent":"danger"}'
    """
    return RECORD + json.dumps({"k": kind, "t": round(t, 3), **fields}, ensure_ascii=False,
                               separators=(",", ":"))


def read(line: str) -> dict | None:
    """A record's fields, or None for a text from the person (or a record that cannot be read: {})."""
    if not line.startswith(RECORD):
        return None
    try:
        data = json.loads(line[1:])
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def said(text: str, t: float, near: bool = False) -> str:
    """A text from the person, with when it came (the responder sees the time);
    ``near``: it warned that someone is near ("ya llegó"), so nothing is sent
    them unasked until they write again."""
    return record(SAID, t, text=text, near=1) if near else record(SAID, t, text=text)


def text_of(line: str) -> str | None:
    """The person's words in a line (a ``said`` record or a bare text), or None for any other record."""
    data = read(line)
    if data is None:
        return line
    return str(data.get("text", "")) if data.get("k") == SAID else None
