"""How many SMS segments a reply costs.

A message that uses only the GSM 03.38 alphabet (GSM-7) fits 160 characters in
one segment, 153 per segment when split. One character outside it (such as
Spanish á, í, ó, ú) turns the whole message into UCS-2: 70 characters in one
segment, 67 per segment when split. UCS-2 counts UTF-16 code units, so an
emoji counts twice. Characters of the GSM-7 extension table (``{ } [ ] ~ \\ | ^ €``)
take two septets.

>>> count_segments("Hola")
Segments(encoding='GSM-7', units=4, segments=1)
>>> count_segments("Línea").encoding
'UCS-2'
"""
from __future__ import annotations

from typing import NamedTuple

# GSM 03.38 basic character set (the 128 positions), as Unicode.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each costs an escape plus the character (two septets).
GSM7_EXTENDED = frozenset("\f^{}\\[~]|€")

MAX_SEGMENTS = 3
# Twilio advises messages of 320 characters or fewer (CONTENT.md 5): where the
# bot joins lines of its own into one message (a directory's lines), it stops
# there too, though three GSM-7 segments would hold 459.
ADVISED_CHARS = 320


class Segments(NamedTuple):
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text)


def count_segments(text: str) -> Segments:
    """Count the segments an SMS of ``text`` is split into."""
    if is_gsm7(text):
        units = sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    if units <= single:
        return Segments(encoding, units, 1 if units else 0)
    return Segments(encoding, units, -(-units // multi))
