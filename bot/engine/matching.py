"""Understanding a reply: global keywords, menu options, yes/no/not sure.

Everything compares normalised text (see :func:`bot.engine.text.normalize`):
case, accents and punctuation do not matter.
"""
from __future__ import annotations

import re

from . import model as m

# Words too common to pick an option by ("what", "the", "de"...). Short words
# (one or two letters) are ignored as well.
_COMMON = frozenset(
    "the and for you your are what how can about with this that from have has "
    "que los las del por con una uno para como mis sus esto eso sobre tengo hay".split()
)
_LEADING_NUMBER = re.compile(r"^(\d{1,2})(?:\s+\w+){0,3}$")


def keyword(keywords: m.Keywords, norm: str) -> tuple[str | None, str | None]:
    """(intent, language) for a whole-message keyword, else (None, None)."""
    for intent, words in keywords.intents.items():
        if norm in words:
            return intent, None
    for lang, words in keywords.languages.items():
        if norm in words:
            return "switch_language", lang
    return None, None


def detect_language(system: m.System, norm: str) -> str:
    """The language a first message looks like; the default when unsure."""
    tokens = set(norm.split())
    best, best_hits = system.default_language, 0
    for lang, hints in system.language_hints.items():
        hits = len(tokens & hints) + sum(1 for h in hints if " " in h and h in norm)
        if hits > best_hits:
            best, best_hits = lang, hits
    return best


def pick(norm: str, labels: list[list[str]]) -> int | None:
    """The index of the option a reply picks, or None.

    ``labels[i]`` holds option i's label in each language offered (already
    normalised). A number picks by position ("2", "2.", "2 please"); else the
    whole label, else the one option sharing the most meaningful words.

    >>> pick("2", [["yes"], ["no"]])
    1
    >>> pick("numbers", [["what happened to me"], ["numbers to call or text"]])
    1
    >>> pick("what", [["what happened to me"], ["what is the difference"]]) is None
    True
    """
    number = _LEADING_NUMBER.match(norm)
    if number:
        i = int(number.group(1))
        return i - 1 if 1 <= i <= len(labels) else None
    for i, forms in enumerate(labels):
        if norm in forms:
            return i
    said = {w for w in norm.split() if len(w) > 2 and w not in _COMMON}
    if not said:
        return None
    scores = []
    for forms in labels:
        offered = {w for form in forms for w in form.split() if len(w) > 2 and w not in _COMMON}
        scores.append(len(said & offered))
    best = max(scores)
    if best == 0 or scores.count(best) > 1:
        return None
    return scores.index(best)


def answer(system: m.System, norm: str, labels: list[list[str]]) -> str | None:
    """yes / no / not_sure for a question reply, or None.

    Only a number, a whole label ("no sé") or one of the typed-out answer
    words counts. Unlike a menu, a word of a label does not: "not" and "sure"
    are in "Not sure", and "I have not been paid" or "sure!" must not be read
    as "not sure", which is a referral flag.

    >>> labels = [["yes", "si"], ["no"], ["not sure", "no se"]]
    >>> answer_words = m.System({}, "en", "", "", {}, {"yes": frozenset({"yes"}), "no": frozenset({"no"}),
    ...                         "not_sure": frozenset({"not sure"})}, {}, None)
    >>> [answer(answer_words, t, labels) for t in ("3", "no se", "i have not been paid")]
    ['not_sure', 'not_sure', None]
    """
    for a in m.ANSWERS:
        if norm in system.answers[a]:
            return a
    number = _LEADING_NUMBER.match(norm)
    if number:
        i = int(number.group(1))
        return m.ANSWERS[i - 1] if 1 <= i <= len(m.ANSWERS) else None
    for i, forms in enumerate(labels):
        if norm in forms:
            return m.ANSWERS[i]
    return None
