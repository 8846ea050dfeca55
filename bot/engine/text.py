"""Reading what a person typed: cleaning, normalising, matching words.

People text from basic phones, with or without accents, in capitals or not,
with stray spaces, emoji or control characters. Everything that compares a
reply with a keyword or an option goes through :func:`normalize`.

>>> normalize("  ¡MENÚ!  ")
'menu'
>>> normalize("No  sé")
'no se'
"""
from __future__ import annotations

import re
import unicodedata

# Longer texts are kept for a hand-off transcript, but only this much is read
# for matching: a first text dictated by voice tells its story in three or
# four hundred characters ("...y además tiene los pasaportes de todos"), and
# past three SMS segments reading costs more than it finds (BENCHMARKS.md,
# "How much of a text is read").
MATCH_LIMIT = 480


def readable(text: str) -> str:
    """The part of ``text`` that is read: its first MATCH_LIMIT characters,
    without a word the limit cuts in two ("ayuda por fa"), so that what is
    read does not hang on where the limit falls. A text of one long word is
    cut where the limit falls.

    >>> readable("ayuda " * 100)[-6:]
    'ayuda '
    """
    if len(text) <= MATCH_LIMIT:
        return text
    cut = text[:MATCH_LIMIT]
    if not text[MATCH_LIMIT].isspace():
        space = max(cut.rfind(" "), cut.rfind("\n"))
        if space > 0:
            cut = cut[:space + 1]
    return cut


_PUNCT_RE = re.compile(r"[^\w\s]|_", re.UNICODE)  # "_" is a word character to re, and WhatsApp's italics: "_SALIR_"
# Apostrophes join a word rather than split it: "can't" and "cant" read alike.
_APOSTROPHE_RE = re.compile(r"['\u2019\u2018\u00b4`]")
_REPEAT_RE = re.compile(r"(\w)\1+")
_SPACE_RE = re.compile(r"\s+")
# Marks that end a clause: a not-word before one does not reach past it.
# People on WhatsApp put an emoji where a comma or a full stop would go
# ("borra todo 🙏 mi cuñado agarra el cel"): pictographs and dingbats end a
# clause too.
_CLAUSE_RE = re.compile(r"[,;:.!?¡¿\n\u2600-\u27bf\U0001f300-\U0001faff]")


def clean(text: str | None) -> str:
    """Drop control and format characters (keeping line breaks) and trim.

    Lone surrogates from a broken encoding are dropped too, so the text can
    always be encoded again.
    """
    if not text:
        return ""
    kept = []
    for ch in text:
        if ch in "\n\t":
            kept.append(" " if ch == "\t" else ch)
            continue
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Cs", "Co", "Cn"):
            continue
        kept.append(ch)
    return "".join(kept).strip()


def normalize(text: str) -> str:
    """Lower-case, strip accents and punctuation, collapse spaces.

    Not memoised: what people write must not outlive their turn, and a cache
    keyed by their text would keep it in the worker's memory. The bot's own
    words (labels, keywords) are normalised once per flow set instead.

    >>> normalize("I can't  EXIT!!")
    'i cant exit'
    """
    text = unicodedata.normalize("NFKD", readable(text))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _PUNCT_RE.sub(" ", _APOSTROPHE_RE.sub("", text.casefold()))
    return _SPACE_RE.sub(" ", text).strip()


def clause_starts(text: str, norm: str | None = None) -> frozenset[int]:
    """The places, in the words of ``normalize(text)``, where a new clause
    begins: after a comma, full stop, colon, semicolon, question or
    exclamation mark, or a line break. "no sé, me pagan poco" says "no sé",
    then "me pagan poco"; the "no" belongs to the first.

    >>> sorted(clause_starts("No sé, me pagan poco")), sorted(clause_starts("no me pagan"))
    ([2], [])

    ``norm``: ``normalize(text)``, when the caller has it.
    """
    text = readable(text)
    if not _CLAUSE_RE.search(text):
        return frozenset()
    starts, n = set(), 0
    for piece in _CLAUSE_RE.split(text):
        k = len(normalize(piece).split())
        if n and k:
            starts.add(n)
        n += k
    if n != len((normalize(text) if norm is None else norm).split()):
        return frozenset()  # never expected; without marks the words are read as one clause
    return frozenset(starts)


def clauses(text: str) -> list[str]:
    """The clauses of ``text`` (split where :func:`clause_starts` splits), normalised, empty ones left out.

    >>> clauses("No. Ya no quiero contestar esto, bórralo")
    ['no', 'ya no quiero contestar esto', 'borralo']
    >>> clauses("borra todo 🙏 mi cuñado agarra el cel")
    ['borra todo', 'mi cunado agarra el cel']
    """
    return [words for words, _, _ in marked_clauses(text)]


def asks(text: str) -> bool:
    """Whether a message is a question: it ends with "?" or opens with "¿".

    >>> asks("¿quién lee esto"), asks("abogado sos?"), asks("me obligan a trabajar sos")
    (True, True, False)
    """
    return text.rstrip().endswith("?") or text.lstrip().startswith("¿")


def marked_clauses(text: str) -> list[tuple[str, str, str]]:
    """The clauses of ``text``, normalised, empty ones left out, each with the
    mark before it and the mark after it ("" at either end)."""
    pieces = _CLAUSE_MARKS_RE.split(readable(text))
    found = []
    for i in range(0, len(pieces), 2):
        words = normalize(pieces[i])
        if words:
            found.append((words, pieces[i - 1] if i else "", pieces[i + 1] if i + 1 < len(pieces) else ""))
    return found


_CLAUSE_MARKS_RE = re.compile(f"({_CLAUSE_RE.pattern})")


def squeeze(norm: str) -> str:
    """A letter typed several times in a row, once: people stretch words.

    >>> squeeze("siii nooo exittt")
    'si no exit'
    """
    return _REPEAT_RE.sub(_once, norm)


def said_once(words: list[str]) -> list[str]:
    """The words of a message said once: in a hurry people type a keyword or
    an answer twice. A word typed again right after itself goes, and a
    message that is the same words over again is those words once.

    >>> said_once("exit exit".split()), said_once("si si si".split()), said_once("no se no se".split())
    (['exit'], ['si'], ['no', 'se'])
    >>> said_once("help now help now".split()), said_once("no se si".split())
    (['help', 'now'], ['no', 'se', 'si'])
    >>> said_once("9 1 1 9 1 1".split()), said_once("9 1 1".split())
    (['9', '1', '1'], ['9', '1'])

    A keyword whose own words repeat ("9 1 1") is looked for as typed first
    (:func:`bot.engine.matching.read_keyword`).
    """
    if len(words) < 2:
        return words
    # The same words over again first, as typed: "9 1 1 9 1 1" is "9 1 1", not "9 1".
    said = _said_over(words)
    if said is not None:
        return said
    words = [w for i, w in enumerate(words) if i == 0 or w != words[i - 1]]
    return _said_over(words) or words


def _said_over(words: list[str]) -> list[str] | None:
    """The shortest run of words that ``words`` repeats whole, or None."""
    for size in range(1, len(words) // 2 + 1):
        if len(words) % size == 0 and words == words[:size] * (len(words) // size):
            return words[:size]
    return None


def _once(repeat: re.Match) -> str:
    # A function rather than the template r"\1": re parses a template in Python
    # on every call, and squeeze runs several times a text.
    return repeat[1]
