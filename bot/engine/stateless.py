"""The two keywords that are answered even when no session can be read.

When the store is down, a person who texts SALIR or STOP must not get the
long fail-safe reply (a text about help lines is the last thing they want
on their screen then): they get the one line the runner gives for it, in
the language the word is in, and the container remembers to erase or opt
out once the store is back. Pure, like the rest of the engine.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import matching, render
from . import model as m
from .text import clean, normalize

QUICK_EXIT, OPT_OUT = "quick_exit", "opt_out"
_LINES = {QUICK_EXIT: "erased", OPT_OUT: "opted_out"}


@dataclass(frozen=True)
class Answer:
    intent: str  # QUICK_EXIT or OPT_OUT
    lang: str
    replies: tuple[str, ...]


def answer(fs: m.FlowSet, text: str) -> Answer | None:
    """The reply to a quick-exit or opt-out word with no session; None for any other text."""
    norm = normalize(clean(text))
    if not norm:
        return None
    # Read as the runner reads it ("SALIR YA", "bórralo, ahí viene", "salir
    # salir", one typo): an erase must not depend on whether the store is up.
    intent, said, _ = matching.read_keyword(fs, norm, clean(text))
    if intent not in _LINES:
        return None
    # A quick exit or an opt-out as a first text is answered in the word's
    # language (runner.quick_exit and runner.opt_out): the same guess here.
    lang = matching.one_line_language(fs, norm, said)
    return Answer(intent, lang, (render.say(fs, lang, _LINES[intent]),))
