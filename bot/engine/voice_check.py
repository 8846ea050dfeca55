"""`flows check` for phone calls: what a caller hears must be sayable.

One small check per rule, each problem at the ``path:line`` to open:

* every node a call can reach has a voice rendering: its text is read aloud
  unless it tells people to type a keyword ("text EXIT"), which a caller
  cannot; such a node needs a ``voice:`` text (or ``audio:`` per language);
* what is said before the caller can answer (a text, a prompt with its
  options) takes at most :data:`voice.MAX_SPOKEN_SECONDS` at
  :data:`voice.WORDS_PER_SECOND`, in every language;
* a menu on a call has no more options than the keypad has digits left over
  by ``voice_keys:`` (at most 9);
* an ``audio:`` file exists under the flows folder, for a known language;
* the system texts calls need are there.
"""
from __future__ import annotations

import os

from . import model as m
from . import voice
from .loader import Loaded
from .problems import Problem

_p = Problem.at

# The system texts a call needs (bot/engine/voice.py, bot/voice_calls.py).
VOICE_TEXTS = (
    "voice_choose_language", "voice_press", "voice_again", "voice_reprompt", "voice_connecting",
    "voice_offer_hotline", "voice_hotline_connecting", "voice_hotline_unanswered", "voice_after_end",
    "voice_after_end_not_safe", "voice_after_call", "voice_silence", "voice_failsafe",
)


def check(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    if not fs.keywords.voice_keys:
        return []  # no phone line configured in keywords.yaml: nothing is said
    from .validate import reachable  # validate calls this module: imported when it runs

    problems = check_texts(fs)
    if problems:
        return problems  # the rest would fail on the missing texts
    seen = reachable(fs)
    for flow in loaded.flow_list:
        if fs.flows.get(flow.id) is not flow:
            continue
        for node in flow.nodes:
            if f"{flow.id}.{node.id}" not in seen:
                continue
            problems += check_rendering(fs, node)
            problems += check_options(fs, node)
            problems += check_audio(fs, node)
            problems += check_length(fs, node)
    return problems


def check_texts(fs: m.FlowSet) -> list[Problem]:
    return [_p(fs.system.where, "missing-system-text", name=name) for name in VOICE_TEXTS
            if name not in fs.system.texts]


def check_rendering(fs: m.FlowSet, node: m.Node) -> list[Problem]:
    """A text that tells people to type a keyword cannot be read to a caller as it is, nor an
    option label that names one ("How EXIT works": said to pick it, EXIT ends the call)."""
    from .validate import named_keywords

    problems = [_p(o.label.where, "voice-label-needs-voice", node=node.id, label=o.label.msgid, words=tuple(words))
                for o in node.options if o.voice is None
                for words in [sorted(named_keywords(fs, o.label.msgid))] if words]
    if node.voice is not None:
        return problems
    spoken = node.unavailable if node.kind == m.HANDOFF else node.text
    if spoken is None or set(fs.system.languages) <= set(node.audio):
        return problems
    words = sorted(named_keywords(fs, spoken.msgid))
    if not words:
        return problems
    return problems + [_p(spoken.where, "voice-needs-text", node=node.id, words=tuple(words))]


def check_options(fs: m.FlowSet, node: m.Node) -> list[Problem]:
    most = free_digits(fs)
    if node.kind != m.MENU or len(node.options) <= most:
        return []
    return [_p(node.where, "voice-too-many-options", node=node.id, options=len(node.options), most=most)]


def free_digits(fs: m.FlowSet) -> int:
    """How many options a keypad can pick: digits 1, 2, … up to the first one a voice key takes."""
    taken = set(fs.keywords.voice_keys)
    count = 0
    for digit in "123456789":
        if digit in taken:
            break
        count += 1
    return min(count, voice.MAX_KEYPAD_OPTIONS)


def check_audio(fs: m.FlowSet, node: m.Node) -> list[Problem]:
    problems = []
    folder = os.path.dirname(node.where.path)
    for lang, path in node.audio.items():
        if lang not in fs.system.languages:
            problems.append(_p(node.where, "voice-audio-language", node=node.id, lang=lang,
                               choices=tuple(fs.system.languages)))
        elif not os.path.isfile(os.path.join(folder, path)):
            problems.append(_p(node.where, "voice-audio-missing", node=node.id, lang=lang, file=path))
    return problems


def check_length(fs: m.FlowSet, node: m.Node) -> list[Problem]:
    """Each thing said before the caller may answer, measured in every language."""
    where = (node.voice or node.text or node.unavailable)
    where = where.where if where is not None else node.where
    for lang in fs.system.languages:
        try:
            if node.waits:
                said = [" ".join(line.value for line in voice.prompt(fs, node, lang) if line.kind == voice.SAY)]
            elif node.kind == m.DIRECTORY:
                said = [line.value for line in voice.directory(fs, node, lang) if line.kind == voice.SAY]
            elif node.kind == m.HANDOFF:
                said = [line.value for line in voice.text_lines(fs, node, lang, node.unavailable)]
            elif node.text is not None:
                said = [line.value for line in voice.text_lines(fs, node, lang) if line.kind == voice.SAY]
            else:
                continue
        except (KeyError, IndexError, ValueError):
            return []  # a missing or broken system text: reported where it is written
        for text in said:
            took = voice.seconds(text)
            if took > voice.MAX_SPOKEN_SECONDS:
                return [_p(where, "voice-too-long", node=node.id, lang=lang, seconds=took,
                           limit=voice.MAX_SPOKEN_SECONDS, rate=voice.WORDS_PER_SECOND)]
    return []
