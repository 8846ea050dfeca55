"""Twilio Voice: what a caller hears, as TwiML built by the twilio library.

Pure functions from spoken lines (bot/engine/voice.py) to the TwiML of one
answer, with :class:`twilio.twiml.voice_response.VoiceResponse`. Only the
verbs a phone line needs: ``<Gather>`` (keys and speech, one key at a time),
``<Say>`` with a named voice per language, ``<Play>`` for recorded audio,
``<Dial>`` to put a caller through, ``<Redirect>`` when nothing was heard,
and ``<Hangup>``. Never ``<Record>``, and ``<Dial>`` never records.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping
from xml.etree import ElementTree

from twilio.twiml.voice_response import VoiceResponse

from ..engine.voice import PLAY, SAY, Line

# What Twilio's speech recognition and <Say> are told each language is.
SPEECH_LANGUAGES = {"es": "es-MX", "en": "en-US"}
GATHER_SECONDS = 8  # silence after the last word before the call goes on without an answer

# Said when anything fails and nothing else can be: static, in both
# languages, numbers read digit by digit and twice (system.yaml's
# `voice_failsafe` is said instead whenever the flows can be read).
FAILSAFE_LINES = (
    ("en", "Sorry, this line cannot answer right now. In danger, call 9, 1, 1. Again: 9, 1, 1. For free, "
           "confidential help 24/7, call 1, 8, 8, 8, 3, 7, 3, 7, 8, 8, 8. Again: 1, 8, 8, 8, 3, 7, 3, 7, 8, 8, 8. "
           "From a Mexican phone, call 8, 0, 0, 5, 5, 3, 3, 0, 0, 0."),
    ("es", "Perdón, esta línea no puede atender ahora. En peligro, llame al 9, 1, 1. Otra vez: 9, 1, 1. Para ayuda "
           "gratuita y confidencial 24/7, llame al 1, 8, 8, 8, 3, 7, 3, 7, 8, 8, 8. Otra vez: 1, 8, 8, 8, 3, 7, 3, "
           "7, 8, 8, 8. Desde un celular mexicano, llame al 8, 0, 0, 5, 5, 3, 3, 0, 0, 0."),
)


def speech_language(lang: str) -> str:
    return SPEECH_LANGUAGES.get(lang, "en-US")


def _say(parent, line: Line, lang: str, voices: Mapping[str, str], audio_url: Callable[[str], str]) -> None:
    if line.kind == PLAY:
        parent.play(audio_url(line.value))
    elif line.value:
        parent.say(line.value, voice=voices.get(lang), language=speech_language(lang))


def gather(lines: Iterable[tuple[str, Line]], lang: str, voices: Mapping[str, str], action: str, redirect: str,
           audio_url: Callable[[str], str] = str, hints: str | None = None) -> str:
    """Say ``lines`` (each with its language) while listening for one key or
    speech in ``lang``; the key or words go to ``action``, silence to ``redirect``.

    ``finish_on_key`` is empty so that # is a key like the others.
    """
    response = VoiceResponse()
    listen = response.gather(input="dtmf speech", action=action, method="POST", num_digits=1, finish_on_key="",
                             timeout=GATHER_SECONDS, speech_timeout="auto", language=speech_language(lang),
                             hints=hints)
    for line_lang, line in lines:
        _say(listen, line, line_lang, voices, audio_url)
    response.redirect(redirect, method="POST")
    return str(response)


def dial(lines: Iterable[Line], lang: str, voices: Mapping[str, str], number: str, action: str,
         caller_id: str | None = None, audio_url: Callable[[str], str] = str) -> str:
    """Say ``lines``, then put the caller through to ``number``; how it went
    is posted to ``action``. ``caller_id``: the helpline's own number, so the
    person answering never sees the caller's."""
    response = VoiceResponse()
    for line in lines:
        _say(response, line, lang, voices, audio_url)
    response.dial(number, action=action, method="POST", timeout=20, caller_id=caller_id or None)
    return str(response)


def goodbye(lines: Iterable[tuple[str, Line]], voices: Mapping[str, str], audio_url: Callable[[str], str] = str) -> str:
    """Say ``lines`` and hang up."""
    response = VoiceResponse()
    for line_lang, line in lines:
        _say(response, line, line_lang, voices, audio_url)
    response.hangup()
    return str(response)


def failsafe(voices: Mapping[str, str], lines: Iterable[tuple[str, Line]] | None = None) -> str:
    """The fail-safe: the numbers that matter in every language, then hang up."""
    said = list(lines) if lines else [(lang, Line(SAY, text)) for lang, text in FAILSAFE_LINES]
    return goodbye(said, voices)


# --- reading TwiML back: what a caller would hear and what happens next ------------------------

@dataclass
class Heard:
    """One answer's TwiML as a caller lives it (for the terminal call and tests)."""

    said: list[tuple[str, str]] = field(default_factory=list)  # (language, text), or ("play", url)
    action: str | None = None  # where a key or speech goes (the <Gather action>)
    redirect: str | None = None  # where silence goes
    dial: str | None = None  # the number the caller is put through to
    dial_action: str | None = None
    hangup: bool = False


def heard(xml: str) -> Heard:
    """What a TwiML answer says and does, in order."""
    found = Heard()

    def walk(element) -> None:
        for child in element:
            if child.tag == "Say":
                lang = next((code for code, name in SPEECH_LANGUAGES.items() if name == child.get("language")),
                            child.get("language") or "")
                found.said.append((lang, child.text or ""))
            elif child.tag == "Play":
                found.said.append(("play", child.text or ""))
            elif child.tag == "Gather":
                found.action = child.get("action")
                walk(child)
            elif child.tag == "Redirect":
                found.redirect = child.text
            elif child.tag == "Dial":
                found.dial = (child.text or "").strip()
                found.dial_action = child.get("action")
            elif child.tag == "Hangup":
                found.hangup = True

    walk(ElementTree.fromstring(xml))
    return found
