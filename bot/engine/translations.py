"""What is translated: the state of every English text in every language, and the languages' names.

Flow text is written in English, and the English is the msgid: each other
language has a catalog (``locales/<code>/LC_MESSAGES/messages.po``) with a
translation of each text. :func:`translation_state` says, per language, where
each text stands. It is the one answer every reader uses: ``flows check``
(at the English text), ``translations check`` (at the catalog line), the
console's editor (beside each text) and its translations page. Each passes
the English texts it knows of (from the loaded flows, or as
``translations update`` extracts them) and the catalogs it read, and words
the result its own way.

The states, in the order they are judged (the first that holds):

* ``missing``: the English is not in the catalog (``translations update``
  has not run since it was written);
* ``empty``: in the catalog, not translated yet;
* ``outdated``: translated before the English changed: marked fuzzy, with
  the English it was translated from kept (``#| msgid``);
* ``fuzzy``: marked fuzzy, with no earlier English kept (someone asked for it
  to be checked);
* ``placeholders``: translated, but its ``{placeholders}`` are not the English's;
* ``translated``: ready to be sent.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import unicodedata

from babel import Locale, UnknownLocaleError

from .model import Translation, Where
from .render import placeholders

SOURCE_LANGUAGE = "en"  # flow text is written in English; it is the msgid

MISSING = "missing"
EMPTY = "empty"
OUTDATED = "outdated"
FUZZY = "fuzzy"
PLACEHOLDERS = "placeholders"
HIDDEN = "hidden"  # an invisible control character: no reply that carries it could be sent
TRANSLATED = "translated"

# How a language's catalog was found.
FOUND = "found"
NO_CATALOG = "none"
UNREADABLE = "unreadable"  # it has problems of its own (see bot.i18n.Catalogs), said at their line


def language_name(code: str) -> str:
    """A language's English name, as Babel knows it: `Spanish`, `French`; the code if unknown."""
    try:
        return Locale.parse(code).get_display_name("en") or code
    except (ValueError, TypeError, UnknownLocaleError):
        return code


@dataclass(frozen=True)
class TextState:
    """One English text in one language."""

    msgid: str
    state: str
    places: tuple[Where, ...]  # where the English is written
    translation: Translation | None = None  # its catalog entry (None: not in the catalog)

    @property
    def msgstr(self) -> str:
        return self.translation.msgstr if self.translation is not None else ""

    @property
    def previous(self) -> str:
        """The English it was translated from, when that has changed since."""
        return self.translation.previous if self.translation is not None else ""

    @property
    def fuzzy(self) -> bool:
        return self.translation is not None and self.translation.fuzzy

    @property
    def ready(self) -> bool:
        return self.state == TRANSLATED


@dataclass(frozen=True)
class LanguageState:
    """Every English text in one language."""

    lang: str
    name: str
    catalog: str  # FOUND, NO_CATALOG or UNREADABLE
    texts: Mapping[str, TextState]  # msgid -> its state, in the order the texts were given

    @property
    def todo(self) -> list[TextState]:
        return [t for t in self.texts.values() if not t.ready]

    @property
    def total(self) -> int:
        return len(self.texts)

    @property
    def done(self) -> int:
        return self.total - len(self.todo)


def judge(msgid: str, translation: Translation | None) -> str:
    """The state of the English ``msgid`` whose catalog entry is ``translation``."""
    if translation is None:
        return MISSING
    if not translation.msgstr:
        return EMPTY
    if translation.fuzzy:
        return OUTDATED if translation.previous and translation.previous != msgid else FUZZY
    if placeholders(translation.msgstr) != placeholders(msgid):
        return PLACEHOLDERS
    if hidden_character(translation.msgstr) is not None:
        return HIDDEN
    return TRANSLATED


def hidden_character(text: str) -> int | None:
    """The code of the first invisible control character in ``text`` (line breaks
    and tabs apart), or None. Pasted into a translation, one makes every reply
    that carries it unsendable: Twilio's XML cannot hold it."""
    for ch in text:
        if ch not in "\n\t" and (unicodedata.category(ch) in ("Cc", "Cs") or _noncharacter(ch)):
            return ord(ch)
    return None


def _noncharacter(ch: str) -> bool:
    code = ord(ch)
    return 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE


def translation_state(texts: Mapping[str, Sequence[Where]], catalogs: Mapping[str, Mapping[str, Translation]],
                      languages: Iterable[str], unreadable: Iterable[str] = ()) -> dict[str, LanguageState]:
    """Per language but English: the state of each English text (msgid -> where it is written).

    ``catalogs``: lang -> msgid -> translation, as :mod:`bot.i18n` reads them;
    ``unreadable``: languages whose catalog could not be read (their texts are
    all ``missing``, as for a language with no catalog).
    """
    unreadable = set(unreadable) | set(getattr(catalogs, "unreadable", ()))
    found = {}
    for lang in languages:
        if lang == SOURCE_LANGUAGE:
            continue
        catalog = catalogs.get(lang)
        status = UNREADABLE if lang in unreadable else NO_CATALOG if catalog is None else FOUND
        entries = catalog if status == FOUND else {}
        states = {}
        for msgid, places in texts.items():
            entry = entries.get(msgid)
            states[msgid] = TextState(msgid, judge(msgid, entry), tuple(places), entry)
        found[lang] = LanguageState(lang, language_name(lang), status, states)
    return found
