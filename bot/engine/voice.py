"""What a caller hears: the flows' messages as spoken lines, for phone calls.

Pure, like the rest of the engine: no Twilio, Flask or Redis. The engine
runs a call exactly as it runs a chat (a key pressed is the digit typed,
speech is the text written) and returns the same text replies; this module
turns each of them into what is said instead:

* a node's text is read aloud, unless the node has a ``voice:`` text (a
  call cannot "text EXIT") or a recorded ``audio:`` file for the language,
  which is played instead;
* numbered options become "Press 1: …";
* a phone number is read digit by digit ("1, 8, 8, 8, …"), and every
  number of a text is said once more at its end;
* a system text ``erased`` is spoken as ``voice_erased`` when system.yaml
  has one.

Replies are matched back to the node that made them by their exact text
(every reply is made by :mod:`bot.engine.render`, so the same node always
gives the same string); a reply no node makes is read aloud as it is. The
table is worked out once per flow set and language.

>>> digits_spoken("1-888-373-7888")
'1, 8, 8, 8, 3, 7, 3, 7, 8, 8, 8'
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from . import language
from . import model as m
from . import render
from .text import normalize
from .understanding import Lexicon
from .validate import numbers_in

SAY, PLAY = "say", "play"
# Where the call's current question is said: a re-prompt's text is the same for
# every yes / no question, so which one it is is known only from the call's
# session (bot/voice_calls.py says it there).
QUESTION = "question"

# What a keypad key may do is listed in flows/schema.json (keywords.yaml's
# `voice_keys:`). Only `repeat` is the call's own; the others are the keyword
# intents of the same name.
REPEAT = "repeat"

# The speaking rate `flows check` measures spoken texts at: a calm, clear
# IVR voice says about 150 English words a minute (2.5 a second).
WORDS_PER_SECOND = 2.5
MAX_SPOKEN_SECONDS = 45  # one thing said, before the caller may answer
MAX_KEYPAD_OPTIONS = 9

_OPTION_LINE = re.compile(r"^\d+\. ")


@dataclass(frozen=True)
class Line:
    """One thing said: a text to speak (SAY) or a recorded file to play
    (PLAY, a path under the flows folder, ``audio/…``)."""

    kind: str
    value: str


def digits_spoken(number: str) -> str:
    """A number as a voice reads it one digit at a time."""
    return ", ".join(ch for ch in number if ch.isdigit())


ALL_HOURS = "24/7"


def spoken(fs: m.FlowSet, lang: str, text: str) -> str:
    """A text as said aloud: lines run together, "24/7" in words (system text
    ``voice_all_hours``), each phone number read digit by digit, and the
    numbers said once more at the end (system text ``voice_again``), where
    repeating them interrupts nothing: "In danger, call 9, 1, 1 yourself.
    Again: 9, 1, 1."
    """
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    joined = " ".join(line if line[-1] in ".:?!,;" else line + "." for line in lines)
    if "voice_all_hours" in fs.system.texts:
        words = render.say(fs, lang, "voice_all_hours")

        def all_hours(found: re.Match) -> str:
            # "…8, 8. 24/7." is "…8, 8. De día y de noche.": a capital where a sentence starts.
            starts = found.group(1)
            return words if starts is None else starts + words[:1].upper() + words[1:]

        joined = re.sub(r"(^|[.!?]\s+)?" + re.escape(ALL_HOURS), all_hours, joined)
    # The numbers the validator finds (and checks against the directory), longest first.
    found = sorted(set(numbers_in(joined)), key=len, reverse=True)
    if not found:
        return joined
    said: list[str] = []

    def number(match: re.Match) -> str:
        digits = digits_spoken(match.group(0))
        if digits not in said:
            said.append(digits)
        return digits

    joined = re.sub(r"(?<!\d)(?:" + "|".join(map(re.escape, found)) + r")(?!\d)", number, joined)
    return f"{joined} {render.say(fs, lang, 'voice_again', numbers='; '.join(said))}"


def text_lines(fs: m.FlowSet, node: m.Node, lang: str, text: m.Text | None = None) -> list[Line]:
    """What a node says in a call: its audio file for ``lang``, else its
    ``voice:`` text, else ``text`` (or the given text, such as a hand-off's
    ``unavailable``) read aloud."""
    if lang in node.audio:
        return [Line(PLAY, node.audio[lang])]
    chosen = node.voice or text or node.text
    return [Line(SAY, spoken(fs, lang, fs.translate(lang, chosen.msgid)))] if chosen else []


def options_line(fs: m.FlowSet, node: m.Node, lang: str) -> str:
    """"Press 1: Yes. Press 2: No. …" for a waiting node's options."""
    labels = render.option_labels(fs, node, lang, voice=True)
    return " ".join(render.say(fs, lang, "voice_press", digit=str(i), label=_said_as_option(label))
                    for i, label in enumerate(labels, 1))


def _said_as_option(label: str) -> str:
    """A label as the end of "Press 1: …": a question stays one, marks and all,
    since in Spanish only its tone tells it from a statement ("Oprima 5: ¿Es
    seguro hablar?", never "Es seguro hablar."); anything else ends with a
    full stop ("¡Ayuda!" -> "Ayuda.")."""
    if label.endswith("?"):
        return label
    if label.startswith("¡") and label.endswith("!") and label.count("¡") == 1:
        label = label[1:]
    return label.rstrip(".!") + "."


def prompt(fs: m.FlowSet, node: m.Node, lang: str) -> list[Line]:
    return text_lines(fs, node, lang) + [Line(SAY, options_line(fs, node, lang))]


def reprompt(fs: m.FlowSet, node: m.Node, lang: str, lead: str = "reprompt") -> list[Line]:
    """A re-prompt said: ``voice_<lead>`` (``voice_reprompt`` when the flows have none), then the options.

    After thanks for what a caller told, or an answer heard two ways, the
    question itself instead (a :data:`QUESTION` line): on a screen it is still
    above, on a call it is gone. A plain miss ("Perdón, no le entendí") says
    the keys only; 9 says it all."""
    voiced = f"voice_{lead}" if f"voice_{lead}" in fs.system.texts else "voice_reprompt"
    if voiced == "voice_reprompt":
        return [Line(SAY, render.say(fs, lang, voiced) + " " + options_line(fs, node, lang))]
    return [Line(SAY, render.say(fs, lang, voiced)), Line(QUESTION, "")]


def directory(fs: m.FlowSet, node: m.Node, lang: str) -> list[Line]:
    """A directory read out: its lead text, then each line, numbers twice.

    A line reached only by web chat is left out: a web address read aloud is
    hard to catch, and whoever can call this line can call the hotline."""
    found = text_lines(fs, node, lang) if node.text or node.voice or node.audio else []
    for entry in node.entries:
        hotline = fs.hotlines.get(entry)
        if hotline and any(c.kind != "chat" for c in hotline.contacts):
            found.append(Line(SAY, spoken(fs, lang, render.hotline(fs, lang, hotline))))
    return found


def system_text(fs: m.FlowSet, lang: str, name: str) -> list[Line]:
    voiced = f"voice_{name}"
    text = render.say(fs, lang, voiced if voiced in fs.system.texts else name)
    return [Line(SAY, spoken(fs, lang, text))]


def table(fs: m.FlowSet, lang: str) -> dict[str, tuple[Line, ...]]:
    """Every reply the engine can send in ``lang`` -> what a caller hears instead."""
    return fs.derived(("voice table", lang), lambda: _table(fs, lang))


def _table(fs: m.FlowSet, lang: str) -> dict[str, tuple[Line, ...]]:
    found: dict[str, tuple[Line, ...]] = {}

    def add(text: str, lines: list[Line]) -> None:
        found.setdefault(text, tuple(lines))

    for name in fs.system.texts:
        if not name.startswith("voice_"):
            try:
                add(render.say(fs, lang, name), system_text(fs, lang, name))
            except (KeyError, IndexError, ValueError):
                continue  # a text with placeholders the engine fills (contact_call): never a reply alone
    for flow in fs.flows.values():
        for node in flow.nodes:
            if node.waits:
                add(render.prompt(fs, node, lang), prompt(fs, node, lang))
                for lead in render.reprompt_leads(node):
                    add(render.reprompt(fs, node, lang, lead), reprompt(fs, node, lang, lead))
            elif node.kind == m.DIRECTORY:
                messages = render.directory(fs, node, lang)
                if messages:
                    add(messages[0], directory(fs, node, lang))
                    for more in messages[1:]:
                        add(more, [])  # said with the first
            elif node.kind == m.HANDOFF:
                # A caller is put through to a person, never told to wait for a
                # text: only what is said when nobody can answer is heard.
                add(fs.translate(lang, node.unavailable.msgid), text_lines(fs, node, lang, node.unavailable))
            elif node.text is not None:
                add(fs.translate(lang, node.text.msgid), text_lines(fs, node, lang))
    return found


def lines_for(fs: m.FlowSet, lang: str, replies: list[str]) -> list[Line]:
    """What a caller hears for the engine's ``replies`` (text replies, in order)."""
    return [line for _, line in voiced(fs, lang, replies)]


def voiced(fs: m.FlowSet, lang: str, replies: list[str]) -> list[tuple[str, Line]]:
    """:func:`lines_for`, each line with the language it is said in. A reply
    in another language (the emergency numbers in every language, for a first
    "911" that says none) is said as that language's call says it, in its voice:
    never a text's wording ("este chat", the text-only number) in the wrong voice."""
    found: list[tuple[str, Line]] = []
    for reply in replies:
        said_in, lines = lang, table(fs, lang).get(reply)
        if lines is None:
            said_in, lines = next(((other, table(fs, other)[reply]) for other in fs.system.languages
                                   if other != lang and reply in table(fs, other)), (lang, None))
        if lines is None:  # not a node's own text (a filled-in one): read aloud, without numbering
            text = "\n".join(_OPTION_LINE.sub("", line) for line in reply.split("\n"))
            lines = (Line(SAY, spoken(fs, lang, text)),)
        found += [(said_in, line) for line in lines]
    return found


def seconds(text: str) -> float:
    """About how long ``text`` takes to say, at ``WORDS_PER_SECOND``; a digit
    read on its own counts as a word.

    >>> seconds("Press 1: Yes.")
    1.2
    """
    return round(len(text.replace(",", " ").split()) / WORDS_PER_SECOND, 1)


def keys(fs: m.FlowSet) -> dict[str, str]:
    """Keypad key -> what it does (flows/keywords.yaml `voice_keys:`)."""
    return dict(fs.keywords.voice_keys)


def asks_again(fs: m.FlowSet, words: str) -> bool:
    """Whether what a caller said asks to hear it again, as the key for
    ``repeat`` does (keywords.yaml `voice_repeat:`; "repita por favor"), as
    said or without its around words ("qué dijo" keeps its "qué")."""
    said = normalize(words).split()
    kept = Lexicon.of(fs).strip_around(said)[0]
    if not said:
        return False
    # "¿qué?" is all around words, and asks it again all the same
    return " ".join(said) in fs.keywords.voice_repeat or (bool(kept) and " ".join(kept) in fs.keywords.voice_repeat)


def key_word(fs: m.FlowSet, intent: str, lang: str | None = None) -> str | None:
    """A keyword of ``intent``, to give the engine as the caller's "text".

    With ``lang``: one the engine reads as written in ``lang`` when it is a
    first message (0 at a call's first question, before there is a language:
    PERSONA, not AGENT), else any."""
    words = sorted(fs.keywords.intents.get(intent) or ())
    if lang is not None:
        return fs.derived(("voice key word", intent, lang), lambda: next(
            (w for w in words if language.detect(fs.system, w, w).lang == lang), words[0] if words else None))
    return words[0] if words else None
