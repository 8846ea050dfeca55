"""A phone call through the same flows, store, lock and engine as a text.

The container for calls, as :class:`bot.helpline.Helpline` is for texts:
one session per call, keyed by the call's ``CallSid`` through the same
pseudonymous contact ids (channel ``voice``), locked, stepped by the engine
and saved exactly like a chat. A key pressed is the digit typed; speech is
the text written (and is never stored or logged); what the engine replies
is turned into what is said by :mod:`bot.engine.voice`, and into TwiML by
:mod:`bot.channels.voice`.

Keys that work at any point come from ``voice_keys:`` in flows/keywords.yaml
(0 a person, 9 repeat, * back, # main menu): each but ``repeat`` is the
keyword of the same intent, so it does what that word does in a chat.

What is kept of a call: its session (where it is, its language, screening
answers: like a chat's, without any number) and the last thing said, both
under the call's contact id, both erased when Twilio reports the call over
(:meth:`VoiceCalls.hung_up`). The caller's number is used once, at the start,
to find the language of an earlier text conversation from that number, and
is never stored. A caller who texts later is a different contact: a fresh
conversation.

``at`` (in the ``<Gather action>`` URL, signed by Twilio like the rest) says
what the caller is answering when it is not the flows' own question:
``language`` (the first bilingual question) or ``hotline`` (1 puts them
through to the national hotline); or that the call is ``quiet``: the caller
said someone is near and heard the one line for that, or fell silent and
heard "are you still there?" once; from then on silence gets silence, and in
the end the call is put down without a word. Words take the call up again
where it was; a key 1 to 9 says its question again first (a minute of
silence later, a 1 may not be the answer to a question no longer heard).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Callable, Mapping

from .channels import voice as twiml
from .engine import events as ev
from .engine import language, matching, render, stateless
from .engine import voice as spoken
from .engine.events import turn_entry
from .engine.model import FlowSet
from .engine.runner import ERASE, Context, Inbound, Turn, step
from .engine.session import Session, SessionFormatError
from .engine.text import clean, normalize
from .engine.understanding import Lexicon
from .helpline import ContactIds, Helpline, safe_error
from .spool import Entry
from .store import STORE_DOWN, StoreError

log = logging.getLogger(__name__)

CHANNEL = "voice"
LANGUAGE, HOTLINE, QUIET = "language", "hotline", "quiet"
HUMAN = "human"  # the keyword intent (and 0's, in voice_keys:) of a person
SILENCES_BEFORE_GOODBYE = 3  # at the first question: asked again, then the numbers and goodbye
# Speech Twilio is this unsure of is not acted on (its Confidence, 0 to 1): "sí" heard at 0.05
# had sent an adult down the children's questions, a "salir" at 0.03 erased the call. Clear
# speech comes back well above it; 0 or no Confidence at all (some speech models give none) is acted on.
MIN_SPEECH_CONFIDENCE = 0.2
# Later, or after "someone is near": how many times the call listens in silence
# (GATHER_SECONDS each, a minute or so) before it is put down without a word. The
# question said again aloud, or the goodbye with its numbers, is what a person near
# would hear.
QUIET_SILENCES = 8
# The keys of a phone's keypad: Twilio's Digits is one of these, and anything else
# in a signed form (a "²", which str.isdigit() accepts and int() refuses) is no key.
KEYPAD = frozenset("0123456789*#")
# Twilio's CallStatus values that mean the call is over.
ENDED = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


@dataclass
class Said:
    """What a caller heard last, and what it asked them (for the key that repeats it)."""

    lang: str
    lines: list[tuple[str, spoken.Line]]
    at: str = ""

    def to_json(self) -> str:
        return json.dumps({"lang": self.lang, "at": self.at, "lines": [[lang, line.kind, line.value]
                                                                        for lang, line in self.lines]})

    @classmethod
    def from_json(cls, text: str) -> "Said":
        data = json.loads(text)
        return cls(data["lang"], [(lang, spoken.Line(kind, value)) for lang, kind, value in data["lines"]], data["at"])


@dataclass(frozen=True)
class Answer:
    """The TwiML of one answer, and what it did (for metrics and tests)."""

    twiml: str
    outcome: str = "reply"  # reply, dial, hangup, failsafe


@dataclass
class CallSettings:
    public_url: str
    voices: Mapping[str, str]
    languages: tuple[str, ...] = ("es", "en")
    responder: str | None = None  # VOICE_RESPONDER_NUMBER
    hotline: str = "+18883737888"
    audio_url: Callable[[str], str] = field(default=str)


class VoiceCalls:
    def __init__(self, helpline: Helpline, settings: CallSettings, secret_key: str):
        self.helpline = helpline
        self.store = helpline.store
        self.settings = settings
        # A call's contact id: the same HMAC as a texter's, over a name no
        # phone number has, so a call never shares a session with a chat.
        self.call_ids = ContactIds(secret_key)

    # --- the webhook ----------------------------------------------------------------------

    def answer(self, form: Mapping[str, str], at: str = "", silence: int = 0) -> Answer:
        """The TwiML for a call starting, a key, speech, or silence; raises on failure
        (the caller says the fail-safe).

        A call this answer puts down (SALIR, the goodbye after silence) is marked
        over at once, as its hang-up marks it: a request Twilio still makes for it
        (a key pressed as it ended, a retry) must not start it again, with a new
        session and a text's greeting read aloud."""
        answer = self._answer(form, at, silence)
        call_sid = (form.get("CallSid") or "").strip()
        if answer.outcome == "hangup" and call_sid:
            try:
                self.store.ended_calls.add(self.helpline.marks(call_sid))
            except STORE_DOWN as exc:  # the goodbye is still said; its hang-up marks it again
                log.error("a call put down could not be marked over: %s", safe_error(exc))
        return answer

    def _answer(self, form: Mapping[str, str], at: str, silence: int) -> Answer:
        call_sid = (form.get("CallSid") or "").strip()
        # Redis first: when it hangs, the caller hears the fail-safe after one
        # timeout, not after one for the flows' version and one more for the session.
        if not self.store.ping():
            raise StoreError("Redis does not answer")
        fs = self.helpline.flows()
        self.helpline.last_flows = fs
        if not call_sid:
            return Answer(twiml.failsafe(self.settings.voices, self.failsafe_lines(fs)), "failsafe")
        cid = self.cid(call_sid)
        if self.store.ended_calls.holds(self.helpline.marks(call_sid)):
            # A key pressed as the caller hung up, or the silence redirect, after the
            # hang-up erased the call: nothing is said, and nothing kept again.
            return Answer(twiml.goodbye([], self.settings.voices), "hangup")
        key = (form.get("Digits") or "").strip()[:1]
        key = key if key in KEYPAD else ""
        # Speech is read like a text and forgotten: never stored, never logged.
        words = clean(form.get("SpeechResult") or "")[:500]
        if words and not key and _unsure(form.get("Confidence")):
            if at == QUIET:  # likely someone else talking near the phone: still not a word aloud
                return self.quiet(fs, cid, silence)
            if at == LANGUAGE or self.store.load(cid) is None:
                return self.ask_language(fs)
            return self.heard_unsure(fs, cid)
        if at == LANGUAGE:
            return self.choose_language(fs, cid, key, words, silence, form.get("To"))
        if not key and not words:
            if at == QUIET:
                return self.quiet(fs, cid, silence)
            if silence:
                return self.silent(fs, cid, silence, at)
            if self.store.load(cid) is not None:  # Twilio asked again for a call under way
                return self.repeat(fs, cid)
            known = self.known_language(fs, form.get("From") or "")
            if known:
                return self.turn(fs, cid, fs.system.languages[known], form.get("To"))
            return self.ask_language(fs)
        if at == QUIET and key.isdigit() and key != "0":
            return self.take_up_again(fs, cid)
        if not key and at != QUIET and _number_said_back(fs, words):
            # A number read to them, said aloud as they write it down: it is heard again. Read as
            # an answer, "1 888 373" picked the main menu's 1, and at the hotline's offer "uno ocho
            # ocho ocho" was "not understood", the main menu's keys, and the offer gone.
            return self.repeat(fs, cid)
        if at == HOTLINE and (key == "1" or (not key and _answers_offer(fs, words, "yes"))):
            return self.dial_hotline(fs, cid, form.get("To"))
        if at == HOTLINE and not key and _answers_offer(fs, words, "no"):
            key = "#"  # "no, gracias": the main menu, as the pound key the offer names
        if at == HOTLINE and key.isdigit() and key not in spoken.keys(fs):
            # The offer names 1, 9 and the pound key: any other was read at the menu behind
            # it, which the caller never heard (2 read the page on smuggling aloud).
            return self.repeat(fs, cid)
        intent = spoken.keys(fs).get(key)
        if intent == spoken.REPEAT or (not key and spoken.asks_again(fs, words)):
            return self.repeat(fs, cid)
        if intent is not None:
            return self.turn(fs, cid, spoken.key_word(fs, intent) or key, form.get("To"))
        return self.turn(fs, cid, key or words, form.get("To"))

    def dialed(self, form: Mapping[str, str], to: str) -> Answer:
        """Twilio's report on a ``<Dial>``: how the call to a person or the hotline went."""
        call_sid = (form.get("CallSid") or "").strip()
        # The call placed to a person or the hotline has a record of its own in
        # Twilio's call log (its time and length, beside the caller's call): it is
        # over now, and deleted there as the caller's is at hang-up.
        self.delete_at_twilio((form.get("DialCallSid") or "").strip())
        fs = self.helpline.flows()
        cid = self.cid(call_sid) if call_sid else ""
        if cid and self.store.load(cid) is None:
            # The caller hung up during the <Dial>, and the hang-up's callback came first and
            # erased the call: nobody is left to hear anything, and nothing may be kept again.
            return Answer(twiml.goodbye([], self.settings.voices), "hangup")
        answered = form.get("DialCallStatus") == "completed"
        lang = self.language_of(fs, cid)
        if to == HOTLINE and answered:
            return Answer(twiml.goodbye([], self.settings.voices), "hangup")
        if to == "person" and answered:
            lines = self.lines(fs, lang, spoken.system_text(fs, lang, "after_call"))
            lines += self.lines(fs, lang, self.current_prompt(fs, cid, lang))
            return self.say(fs, cid, Said(lang, lines))
        if to == HOTLINE:  # busy, no answer, failed: not "nobody from our team", nor "the hotline answers"
            lines = self.lines(fs, lang, spoken.system_text(fs, lang, "hotline_unanswered"))
            lines += self.lines(fs, lang, self.current_prompt(fs, cid, lang))
            return self.say(fs, cid, Said(lang, lines))
        # Nobody on the team answered: the numbers, and the hotline offered.
        lines = self.lines(fs, lang, self.unavailable(fs, lang))
        lines += self.lines(fs, lang, spoken.system_text(fs, lang, "offer_hotline"))
        return self.say(fs, cid, Said(lang, lines, HOTLINE))

    def hung_up(self, form: Mapping[str, str]) -> bool:
        """The call's status callback: a call that is over is erased, as by EXIT.
        Returns whether anything was erased."""
        call_sid = (form.get("CallSid") or "").strip()
        if not call_sid or form.get("CallStatus") not in ENDED:
            return False
        cid = self.cid(call_sid)
        # Twilio's call log keeps the caller's number: deleted there too (bot.erasure).
        self.delete_at_twilio(call_sid)
        try:
            # First: a request of this call that comes after the erase must not start it again.
            self.store.ended_calls.add(self.helpline.marks(call_sid))
            erased = self.erase(cid)
            self.store.call_prompts.forget(cid)
        except Exception:
            # Redis is down: kept in the outage spool and done as soon as it
            # answers, as a texter's EXIT is (the last words said expire on their own).
            self.spool(Entry(cid, stateless.QUICK_EXIT, self.helpline.clock(), ""))
            raise
        return erased

    def delete_at_twilio(self, call_sid: str) -> None:
        """Queue a call that is over for deletion from Twilio's call log (when
        the Twilio credentials are set; during an outage, by the outage spool)."""
        if not call_sid or not self.store.twilio_sids:
            return
        try:
            self.helpline.delete_at_twilio(call_sid)
        except Exception as exc:  # noqa: BLE001 - what the caller hears goes on
            log.error("a call's deletion at Twilio could not be kept: %s", safe_error(exc))

    def spool(self, entry: Entry) -> None:
        helpline = self.helpline
        if helpline.spool is not None and helpline.spool.add(entry):
            helpline.wake()

    # --- what is said ---------------------------------------------------------------------

    def cid(self, call_sid: str) -> str:
        return self.call_ids("call\x00" + call_sid)

    def known_language(self, fs: FlowSet, number: str) -> str | None:
        """The language of an earlier text conversation from this number, if any.

        The number is only looked up (as the contact id a text from it has),
        never stored; SMS first, then WhatsApp.
        """
        number = number.strip()
        if not number or not number.startswith("+"):
            return None  # withheld or anonymous: ask
        for address in (number, f"whatsapp:{number}"):
            fields = self.store.load(self.helpline.cid(address))
            lang = (fields or {}).get("lang")
            if lang in fs.system.languages and (fields or {}).get("st") not in (None, "new"):
                return lang
        return None

    def language_of(self, fs: FlowSet, cid: str) -> str:
        fields = self.store.load(cid) if cid else None
        lang = (fields or {}).get("lang")
        return lang if lang in fs.system.languages else self.first_language(fs)

    def first_language(self, fs: FlowSet) -> str:
        return next((lang for lang in self.settings.languages if lang in fs.system.languages),
                    fs.system.default_language)

    def offered_languages(self, fs: FlowSet) -> list[str]:
        """VOICE_LANGUAGES that the flows have, in its order; when it names none of
        them (a language not translated yet), every language of the flows: a call
        that offered none would be silence, then a dead line."""
        offered = [lang for lang in self.settings.languages if lang in fs.system.languages]
        return (offered or list(fs.system.languages))[:8]

    def ask_language(self, fs: FlowSet, silence: int = 0, before: list | None = None) -> Answer:
        """"Para español, oprima 1. For English, press 2.", each in its own voice
        (after ``before``, lines said first)."""
        lines = [(lang, spoken.Line(spoken.SAY, render.say(fs, lang, "voice_choose_language", digit=str(i))))
                 for i, lang in enumerate(self.offered_languages(fs), 1)]
        lines = (before or []) + lines
        action = self.url("/twilio/voice", at=LANGUAGE)
        redirect = self.url("/twilio/voice", at=LANGUAGE, silence=str(silence + 1))
        hints = ", ".join(fs.system.languages[lang] for lang in self.offered_languages(fs))
        return Answer(twiml.gather(lines, self.first_language(fs), self.settings.voices, action, redirect,
                                   self.settings.audio_url, hints=hints))

    def choose_language(self, fs: FlowSet, cid: str, key: str, words: str, silence: int,
                        line: str | None) -> Answer:
        """The first question of a call. A language's key or name picks it, said
        as the caller would ("uno", "en español por favor", "English please"); a key
        or word that means something before there is a language or a place
        (:meth:`acts_before_a_language`: 0 for a person, EMERGENCIA, 911, SALIR,
        AYUDA, or danger or a person asked for in the caller's words) does what it does anywhere in a
        call, as the engine does with a first text; so does what the caller came
        for, said in a language ("mi patrón no me paga": the greeting, then that
        page); anything else asks again. ``line``: the helpline's number the
        call came to, shown to whoever a 0 puts the caller through to (never
        the caller's own number)."""
        offered = self.offered_languages(fs)
        if key.isdigit() and 1 <= int(key) <= len(offered):
            return self.turn(fs, cid, fs.system.languages[offered[int(key) - 1]], line)
        intent, said, placed = (spoken.keys(fs).get(key), None, None) if key else (None, None, None)
        if words and not key:
            norm = normalize(words)
            intent, said, _ = matching.read_keyword(fs, norm)
            if intent == "switch_language":
                return self.turn(fs, cid, fs.system.languages[said], line)
            number = Lexicon.of(fs).number(norm.split()) if intent is None else None
            if number is not None and 1 <= number[0] <= len(offered):  # "uno", "la dos": the key said
                return self.turn(fs, cid, fs.system.languages[offered[number[0] - 1]], line)
            placed = Lexicon.of(fs).place(norm) if intent is None else None
            if placed is not None and placed.alarm is not None:
                intent = "danger"  # danger in the caller's own words ("me van a matar")
            elif placed is not None and placed.target is not None and placed.target.intent == HUMAN:
                intent = HUMAN  # a person asked for in the caller's own words ("quiero hablar con alguien")
            said = said or language.detect(fs.system, words, norm).lang or (placed and placed.lang) or None
        if self.acts_before_a_language(fs, intent):
            if said or intent in (stateless.QUICK_EXIT, stateless.OPT_OUT):
                return self.turn(fs, cid, words or spoken.key_word(fs, intent) or key, line)  # in the word's language
            if intent == "danger":
                return self.emergency_then_language(fs)  # "911", "SOS": no language to answer in
            # 0, or a word that says no language: the intent's word in the language the question starts in.
            return self.turn(fs, cid, spoken.key_word(fs, intent, self.first_language(fs)) or words or key, line)
        if placed is not None and placed.target is not None and placed.target.goto and said:
            return self.turn(fs, cid, words, line)  # as a first text: the greeting, then the page they came for
        if key or words:
            return self.ask_language(fs)
        if silence >= SILENCES_BEFORE_GOODBYE:
            return self.goodbye_silent(fs, cid)
        return self.ask_language(fs, silence)

    @staticmethod
    def acts_before_a_language(fs: FlowSet, intent: str | None) -> bool:
        """Whether a keyword does at the first question what it does anywhere in
        a call: what is shown wherever one is (keywords.yaml's ``show:``: the
        emergency numbers, the help), the end (SALIR; STOP, which ends a call
        too) and a person. The others move within the flows, where a call is not
        yet (MENU, BACK, IDIOMA, …): the question again, as # and * are."""
        return intent in fs.keywords.shows or intent in (stateless.QUICK_EXIT, stateless.OPT_OUT, HUMAN)

    def emergency_then_language(self, fs: FlowSet) -> Answer:
        """A danger word that says no language ("911", "SOS") at the first question:
        the emergency numbers as a call says them, in each language offered, then
        the language question again. Nothing is stored: the call has no session yet."""
        node = fs.node(fs.keywords.shows["danger"])
        return self.ask_language(fs, before=[(lang, line) for lang in self.offered_languages(fs)
                                             for line in spoken.directory(fs, node, lang)])

    def turn(self, fs: FlowSet, cid: str, text: str, line: str | None = None) -> Answer:
        """One turn of the engine for the call, as for a text; then what to say."""
        turn, put_through = self.step(fs, cid, text)
        session = turn.session
        lang = session.lang
        if turn.action == ERASE:
            self.store.call_prompts.forget(cid)
            return Answer(twiml.goodbye(spoken.voiced(fs, lang, turn.replies),
                                        self.settings.voices, self.settings.audio_url), "hangup")
        if any(e.kind == ev.HANDOFF_REQUESTED for e in turn.events):
            return self.person(fs, cid, lang, line, put_through)
        lines = [(said_in, said) for said_in, line in spoken.voiced(fs, lang, turn.replies)
                 for said in (_prompt_at(fs, session.position, said_in) if line.kind == spoken.QUESTION else [line])]
        if turn.someone_near:
            return self.say(fs, cid, Said(lang, lines, QUIET))
        at = ""
        if session.state == "closed" and _not_safe_now(turn):
            # Told to hang up and call again when it is safe: no put-through, which is talking too.
            lines += self.lines(fs, lang, spoken.system_text(fs, lang, "after_end_not_safe"))
        elif session.state == "closed":  # the last screen of a path: the hotline, listen again, or go on
            lines += self.lines(fs, lang, spoken.system_text(fs, lang, "after_end"))
            at = HOTLINE
        if any(e.kind == ev.MISSED for e in turn.events):
            # Not understood: "Perdón, no le entendí" and the keys now; 9 or "mande" after it
            # says again what was said before it (the numbers with their "¿Y ahora?"), or
            # else the question itself: never "no le entendí" again.
            if self.store.call_prompts.get(cid) is None:
                question = Said(lang, self.lines(fs, lang, _prompt_at(fs, session.position, lang)))  # the turn's own
                self.store.call_prompts.remember(cid, question.to_json())
            return self.say(fs, cid, Said(lang, lines), remember=False)
        return self.say(fs, cid, Said(lang, lines, at))

    def step(self, fs: FlowSet, cid: str, text: str) -> tuple[Turn, bool]:
        """Claim, step, commit: :meth:`Helpline.handle` for a call, which has no
        MessageSid to de-duplicate, no address to keep and no operator to text.
        Also whether a person asked for can be called now (the hand-off's
        event says so, for the figures)."""
        store = self.store
        opened = store.open_turn(cid, None, wait=self.helpline.lock_wait)
        try:
            session = self.session(cid, opened.fields)
            session.address = ""  # a call is never written to: nothing to keep
            session.channel = CHANNEL
            now = self.helpline.clock()
            # Never "on duty" for the engine: a caller is put through by phone
            # (self.person), never queued for a text from the console. A call
            # cannot be unsubscribed from: STOP ends it and erases it, as EXIT.
            ctx = Context(now=now, on_duty=False, opted_out=False, call=True, new_id=self.helpline.new_id)
            turn = step(session, Inbound(text), fs, ctx)
            put_through = False
            if any(e.kind == ev.HANDOFF_REQUESTED for e in turn.events):
                put_through = self.can_put_through()
                turn.events = [ev.Event(e.kind, {**e.data, "on_duty": "yes" if put_through else "no"})
                               if e.kind == ev.HANDOFF_REQUESTED else e for e in turn.events]
            s = turn.session
            event = (turn_entry(s.conv, CHANNEL, s.lang, s.state, s.position, now, [e.as_fields() for e in turn.events])
                     if turn.events else None)
            store.commit(opened, action=turn.action, fields=s.to_fields(), replies=[], opt_out=None, event=event)
        except BaseException:
            store.release(opened)
            raise
        if turn.action == ERASE:
            self.helpline.after_erase()
            self.helpline.wake()
        return turn, put_through

    def can_put_through(self) -> bool:
        """A responder line is set and someone is on duty in the console."""
        return bool(self.settings.responder) and self.helpline.on_duty()

    def session(self, cid: str, fields: dict | None) -> Session:
        if not fields:
            return Session(cid=cid)
        try:
            return Session.from_fields(fields)
        except SessionFormatError:
            return Session(cid=cid)

    def erase(self, cid: str) -> bool:
        """The call is over: erase its session as EXIT does (same event, same keys)."""
        store = self.store
        opened = store.open_turn(cid, None, wait=self.helpline.lock_wait)
        if not opened.fields:
            store.release(opened)
            return False
        try:
            fs = self.helpline.flows()
            session = self.session(cid, opened.fields)
            now = self.helpline.clock()
            ctx = Context(now=now, on_duty=False, opted_out=False, call=True, new_id=self.helpline.new_id)
            turn = step(session, Inbound(spoken.key_word(fs, "quick_exit") or ""), fs, ctx)
            s = turn.session
            event = turn_entry(s.conv, CHANNEL, s.lang, s.state, s.position, now,
                               [e.as_fields() for e in turn.events]) if turn.events else None
            store.commit(opened, action=ERASE, fields=None, replies=[], opt_out=None, event=event)
        except BaseException:
            store.release(opened)
            raise
        self.helpline.after_erase()
        self.helpline.wake()
        return True

    def person(self, fs: FlowSet, cid: str, lang: str, line: str | None, put_through: bool) -> Answer:
        """0, PERSONA or "Talk to a person": put through to the responder line
        while someone is on duty; otherwise the numbers, and 1 for the hotline.

        ``line``: the helpline's number the caller called (Twilio's ``To``), shown
        to whoever answers instead of the caller's own number."""
        if put_through:
            lines = spoken.system_text(fs, lang, "connecting")
            return Answer(twiml.dial(lines, lang, self.settings.voices, self.settings.responder,
                                     self.url("/twilio/voice/dialed", to="person"), caller_id=_number(line),
                                     audio_url=self.settings.audio_url), "dial")
        lines = self.lines(fs, lang, self.unavailable(fs, lang))
        lines += self.lines(fs, lang, spoken.system_text(fs, lang, "offer_hotline"))
        return self.say(fs, cid, Said(lang, lines, HOTLINE))

    def dial_hotline(self, fs: FlowSet, cid: str, line: str | None) -> Answer:
        lang = self.language_of(fs, cid)
        lines = spoken.system_text(fs, lang, "hotline_connecting")
        return Answer(twiml.dial(lines, lang, self.settings.voices, self.settings.hotline,
                                 self.url("/twilio/voice/dialed", to=HOTLINE), caller_id=_number(line),
                                 audio_url=self.settings.audio_url),
                      "dial")

    def unavailable(self, fs: FlowSet, lang: str) -> list[spoken.Line]:
        """What the hand-off says when nobody can answer: its `voice:` text, with the numbers."""
        found = render.handoff_node(fs, fs.keywords.gotos.get(HUMAN, ""))
        if found is None:
            return spoken.system_text(fs, lang, "silence")
        _, node = found
        return spoken.text_lines(fs, node, lang, node.unavailable)

    def current_prompt(self, fs: FlowSet, cid: str, lang: str) -> list[spoken.Line]:
        """The question the call is at (the main menu if none), as stored."""
        fields = self.store.load(cid) if cid else None
        position = f"{fields.get('flow')}.{fields.get('node')}" if fields and fields.get("flow") else ""
        return _prompt_at(fs, position, lang)

    def last_said(self, cid: str) -> Said | None:
        """What the caller heard last (None if nothing is kept, or it cannot be read)."""
        said = self.store.call_prompts.get(cid)
        try:
            return Said.from_json(said) if said is not None else None
        except (ValueError, KeyError, TypeError):
            return None  # unreadable: the question again instead

    def repeat(self, fs: FlowSet, cid: str, silence: int = 0) -> Answer:
        """9 (or silence): what was said last, again."""
        said = self.last_said(cid)
        if said is not None:
            return self.say(fs, cid, said, remember=False, silence=silence)
        if self.store.load(cid) is None:
            return self.ask_language(fs, silence)
        return self.take_up_again(fs, cid, silence)

    def silent(self, fs: FlowSet, cid: str, silence: int, at: str = "") -> Answer:
        """Nothing heard: once, "are you still there? 9 says the question again";
        then the call goes quiet (:meth:`quiet`). Never the question again aloud:
        a caller may fall silent because someone came near, who would hear it."""
        if silence > 1:
            return self.quiet(fs, cid, silence)
        lang = self.language_of(fs, cid)
        return self.say(fs, cid, Said(lang, self.lines(fs, lang, spoken.system_text(fs, lang, "still_there")), at),
                        remember=False, silence=silence)

    def quiet(self, fs: FlowSet, cid: str, silence: int) -> Answer:
        """Silence after "someone is near", or after "are you still there?": listen without a
        word; in the end, put the call down."""
        if silence >= QUIET_SILENCES:
            return Answer(twiml.goodbye([], self.settings.voices), "hangup")
        return self.say(fs, cid, Said(self.language_of(fs, cid), [], QUIET), remember=False, silence=silence)

    def heard_unsure(self, fs: FlowSet, cid: str) -> Answer:
        """Speech too unsure to act on: "to be sure we heard you right, here is the
        question again", then the question alone, as those words say: not all that
        came before it (the screening's intro, with its numbers, is most of a minute).
        At the offer of the hotline, the offer again, with its numbers. 9 still says
        everything that was said last."""
        lang = self.language_of(fs, cid)
        lead = self.lines(fs, lang, spoken.system_text(fs, lang, "reprompt_unsure"))
        last = self.last_said(cid)
        if last is not None and last.at == HOTLINE:
            return self.say(fs, cid, Said(last.lang, lead + last.lines, last.at), remember=False)
        question = Said(lang, lead + self.lines(fs, lang, self.current_prompt(fs, cid, lang)))
        return self.say(fs, cid, question, remember=last is None)

    def take_up_again(self, fs: FlowSet, cid: str, silence: int = 0) -> Answer:
        """The question the call is at, in full: after the quiet, or when what was said last is gone.
        An offer of the hotline the caller fell quiet at is made again, its numbers with it: the
        question the session is at is the main menu behind it, and a 1 there started the screening."""
        last = self.last_said(cid)
        if last is not None and last.at == HOTLINE:
            return self.say(fs, cid, last, remember=False, silence=silence)
        lang = self.language_of(fs, cid)
        return self.say(fs, cid, Said(lang, self.lines(fs, lang, self.current_prompt(fs, cid, lang))), silence=silence)

    def goodbye_silent(self, fs: FlowSet, cid: str) -> Answer:
        """Silence to the end: the numbers and goodbye, in the call's language; before
        one was chosen, in every language offered (as "911" is said there)."""
        chosen = ((self.store.load(cid) if cid else None) or {}).get("lang")
        if not chosen:
            langs = self.offered_languages(fs)
        else:  # as language_of reads it, without loading the session twice
            langs = [chosen if chosen in fs.system.languages else self.first_language(fs)]
        lines = [(lang, line) for lang in langs for line in spoken.system_text(fs, lang, "silence")]
        return Answer(twiml.goodbye(lines, self.settings.voices), "hangup")

    def say(self, fs: FlowSet, cid: str, said: Said, remember: bool = True, silence: int = 0) -> Answer:
        """Say it while listening; remembered for the key that repeats it.
        ``silence``: how many times in a row nothing was heard before."""
        if remember:
            self.store.call_prompts.remember(cid, said.to_json())
        action = self.url("/twilio/voice", at=said.at)
        redirect = self.url("/twilio/voice", at=said.at, silence=str(silence + 1))
        return Answer(twiml.gather(said.lines, said.lang, self.settings.voices, action, redirect,
                                   self.settings.audio_url))

    @staticmethod
    def lines(fs: FlowSet, lang: str, lines: list[spoken.Line]) -> list[tuple[str, spoken.Line]]:
        return [(lang, line) for line in lines]

    def url(self, path: str, **query: str) -> str:
        """The app's own URL for Twilio to call back (PUBLIC_URL, as signatures are checked against)."""
        params = "&".join(f"{k}={v}" for k, v in query.items() if v)
        return self.settings.public_url + path + (f"?{params}" if params else "")

    # --- when anything fails ---------------------------------------------------------------

    def without_store(self, form: Mapping[str, str]) -> Answer | None:
        """SALIR (or STOP, which ends a call too) said while the store cannot be
        reached: the goodbye a call's quick exit says, never the fail-safe's
        numbers read aloud to whoever came near; the erase is spooled, done as
        soon as Redis answers (as a text's is: Helpline.without_store). None for
        anything else, which gets the fail-safe. Never raises."""
        try:
            call_sid = (form.get("CallSid") or "").strip()
            words = clean(form.get("SpeechResult") or "")[:500]
            if not call_sid or not words or _unsure(form.get("Confidence")):
                return None
            # The set the last turn used: asking for the current one would look in Redis.
            fs = self.helpline.last_flows or self.helpline.flows()
            found = stateless.answer(fs, words)
            if found is None:
                return None
            self.spool(Entry(self.cid(call_sid), stateless.QUICK_EXIT, self.helpline.clock(), ""))
            said = spoken.voiced(fs, found.lang, [render.say(fs, found.lang, "erased")])
            return Answer(twiml.goodbye(said, self.settings.voices, self.settings.audio_url), "hangup")
        except Exception as exc:  # noqa: BLE001 - the caller still has the fail-safe
            log.error("a call's quick exit not answered without the store: %s", safe_error(exc))
            return None

    def failsafe_lines(self, fs: FlowSet | None) -> list[tuple[str, spoken.Line]] | None:
        """system.yaml's `voice_failsafe` in every offered language; None if it
        cannot be said (the static words of bot/channels/voice.py then)."""
        try:
            fs = fs or self.helpline.last_flows
            if fs is None:
                return None
            return [(lang, line) for lang in self.offered_languages(fs)
                    for line in spoken.system_text(fs, lang, "failsafe")]
        except Exception:  # noqa: BLE001 - the static words are said instead
            return None

    def failsafe(self) -> Answer:
        return Answer(twiml.failsafe(self.settings.voices, self.failsafe_lines(None)), "failsafe")


# The outcome of the screen for "it is not safe to talk now" (flows/screening.yaml `later`).
NOT_SAFE_NOW = "not_safe_now"


def _not_safe_now(turn: Turn) -> bool:
    """Whether the turn ended at the screen for a caller who said it is not safe to talk now."""
    return any(e.kind == ev.OUTCOME and e.data.get("outcome") == NOT_SAFE_NOW for e in turn.events)


def _prompt_at(fs: FlowSet, position: str, lang: str) -> list[spoken.Line]:
    """The question at ``position`` ("flow.node"), said; the main menu where nothing waits."""
    node = fs.node(position) if position else None
    if node is None or not node.waits:
        node = fs.node(fs.system.main_menu)
    return spoken.prompt(fs, node, lang)


def _answers_offer(fs: FlowSet, words: str, answer: str) -> bool:
    """Whether ``words`` give the offer of the national hotline ``answer`` ("yes" or "no")
    alone: "sí", "sí por favor", "yes please", or its key said ("uno"), which would
    otherwise be read at the question the call is at (option 1 of the main menu); "no
    gracias", "nope". Never an answer that goes on: "yes hes coming", "sí, pero después"
    are read as the rest of the call reads them."""
    lex = Lexicon.of(fs)
    tokens = normalize(words).split()
    kept, _ = lex.strip_around(tokens)
    number = lex.number(tokens)
    if number is not None:
        return answer == "yes" and number[0] == 1
    return bool(kept) and matching.answer(fs.system, " ".join(kept), []) == answer


def _number_said_back(fs: FlowSet, words: str) -> bool:
    """Whether speech is only the digits of a number ("1 888 373", "uno ocho ocho ocho"):
    three at least, as a caller repeats a number read to them. Never a key said ("uno",
    "nueve": an answer, or 9 to hear it again) nor a keyword ("nueve uno uno" is 911)."""
    lex = Lexicon.of(fs)
    tokens = normalize(words).split()
    digits = 0
    for token in tokens:
        if token.isdigit():
            digits += len(token)
        elif lex.numbers.get(token, 10) <= 9:
            digits += 1
        else:
            return False
    return digits >= 3 and matching.read_keyword(fs, " ".join(tokens))[0] is None


def _unsure(confidence: str | None) -> bool:
    """Whether Twilio's Confidence for the speech is below MIN_SPEECH_CONFIDENCE (none, 0 or unreadable: no)."""
    try:
        value = float(confidence or 0)
    except ValueError:
        return False
    return 0 < value < MIN_SPEECH_CONFIDENCE


def _number(value: str | None) -> str | None:
    """A number Twilio gave (``+1…``), else None (a SIP or client address is not a caller id)."""
    value = (value or "").strip()
    return value if value.startswith("+") else None
