"""Which language a first message is written in.

Hint words from ``system.yaml`` (``language_hints``: hola, buenas, ayuda...)
decide first: staff keep them, and they win over any statistics. Otherwise a
language-identification model decides: `lingua` (lingua-language-detector),
made for short texts, restricted at load time to the service's languages by
their ISO codes, and saying how sure it is, so "not sure" can be told from a
guess. On our own corpus it is as accurate as py3langid once the hint words
have spoken, in low accuracy mode, for about 10 MB a worker where py3langid
and its numpy take 84 MB (BENCHMARKS.md, "Understanding"). When the model
is not clearly sure, or the message has too few letters ("911", "?", "ok",
an emoji), there is **no signal** and the caller asks rather than guesses.

A language added to ``system.yaml`` is detected as soon as lingua knows its
ISO 639-1 code (75 languages); one it does not know is recognised by its
hint words only. The detector is built once per process and set of
languages (:func:`detector`), never per turn, and keeps nothing of the texts
it reads.

    >>> from types import MappingProxyType as P
    >>> from bot.engine import model as m
    >>> system = m.System(P({"en": "English", "es": "Español"}), "en", "", "", P({}), P({}),
    ...                   P({"es": frozenset({"hola"})}), None)
    >>> detect(system, "Hola, buenas").lang
    'es'
    >>> detect(system, "Me quitaron mi pasaporte").lang
    'es'
    >>> detect(system, "they took my passport").lang
    'en'
    >>> detect(system, "911").lang is None
    True
"""
from __future__ import annotations

import functools
from collections.abc import Set
from dataclasses import dataclass

from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

from . import model as m
from .text import normalize

# How far ahead the most likely language must be (lingua's confidences add up
# to 1): "mi patron esta aqui" is es 0.68 / en 0.32 and counts; "simon" is
# en 0.55 / es 0.45, and "menu" es 0.56 / en 0.44, and do not. Tuned on the
# messages in tests/understanding/ (see the README there).
MARGIN = 0.2
# Fewer letters than this, and no hint word, say nothing of a language: "ok".
MIN_LETTERS = 3


@dataclass(frozen=True)
class Detected:
    """The language found and why (for explanations); ``lang`` None: no signal."""

    lang: str | None
    how: str  # "hint word `hola`", "lingua es 0.95 / en 0.05", "no letters", ...
    score: float = 0.0


def lingua_language(code: str) -> Language | None:
    """lingua's Language for an ISO 639-1 code, None if lingua does not know it."""
    try:
        return Language.from_iso_code_639_1(IsoCode639_1.from_str(code))
    except (ValueError, AttributeError):
        return None


def language_name(code: str) -> str | None:
    """The English name of a language code in lower case (``spanish``), or None.

    The Snowball stemmers are named so (see :mod:`bot.engine.understanding`).
    """
    language = lingua_language(code)
    return language.name.lower() if language is not None else None


@functools.lru_cache(maxsize=4)
def detector(codes: tuple[str, ...]):
    """A lingua detector for ``codes`` (those lingua knows), or None if fewer than two.

    Cached per set of language codes, so one process builds it once; the
    cache is keyed by the service's languages, never by anything a person
    wrote. Low accuracy mode: trigram models only, about 10 MB per worker
    instead of 60 to 100 MB, and on our corpus of real-world texts it is as
    accurate once the hint words have spoken (BENCHMARKS.md, "Understanding").
    """
    languages = [lang for lang in map(lingua_language, codes) if lang is not None]
    if len(set(languages)) < 2:
        return None
    return (LanguageDetectorBuilder.from_languages(*languages)
            .with_low_accuracy_mode()
            .with_preloaded_language_models()
            .build())


def detect(system: m.System, text: str, norm: str | None = None, keywords: Set[str] = frozenset()) -> Detected:
    """The language ``text`` (cleaned, accents kept) is written in, if it says.

    ``keywords``: the one-word global keywords (STOP, HELP, SALIR). One that is
    a hint word tells the language only when the rest of the message cannot:
    in "stop, me están golpeando" the words beside STOP (the same word in
    every language) are Spanish, though STOP alone reads as English.
    """
    norm = normalize(text) if norm is None else norm
    by_hint = hinted(system, norm, keywords)
    if by_hint is not None:
        return by_hint
    by_keyword = hinted(system, norm) if keywords else None
    if by_keyword is not None:
        rest = [w for w in norm.split() if w not in keywords]
        if sum(ch.isalpha() for w in rest for ch in w) < MIN_LETTERS:
            return by_keyword
        found = detect(system, " ".join(rest))
        return found if found.lang is not None else by_keyword
    if norm and set(norm.split()) <= system.language_neutral:
        return Detected(None, "says no language")  # "SOS": lingua reads it as Spanish ("vos sos")
    letters = sum(ch.isalpha() for ch in norm)
    if not letters:
        return Detected(None, "no letters")
    if letters < MIN_LETTERS:
        return Detected(None, "too short to tell")
    found = detector(tuple(system.languages))
    if found is None:
        only = next(iter(system.languages), None)
        return Detected(only, "the only language") if len(system.languages) == 1 else Detected(None, "no model")
    values = found.compute_language_confidence_values(text)
    codes = [(v.language.iso_code_639_1.name.lower(), v.value) for v in values]
    shown = " / ".join(f"{code} {value:.2f}" for code, value in codes[:3])
    (best, top), second = codes[0], codes[1][1] if len(codes) > 1 else 0.0
    if top - second < MARGIN or best not in system.languages:
        return Detected(None, f"lingua not sure: {shown}", top)
    return Detected(best, f"lingua {shown}", top)


def hinted(system: m.System, norm: str, leave_out: Set[str] = frozenset()) -> Detected | None:
    """The language with the most hint words in ``norm`` (the first listed on a
    tie), words of ``leave_out`` not counted; None when none has any."""
    tokens = set(norm.split()) - leave_out
    best, best_hits, word = None, 0, ""
    for lang, hints in system.language_hints.items():
        hits = sorted(tokens & hints) + [h for h in hints if " " in h and f" {h} " in f" {norm} "]
        if len(hits) > best_hits:
            best, best_hits, word = lang, len(hits), hits[0]
    return Detected(best, f"hint word `{word}`", 1.0) if best else None
