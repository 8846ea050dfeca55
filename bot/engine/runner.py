"""One turn of a conversation: ``step(session, inbound, flows, ctx) -> Turn``.

Pure: no network, no storage, no clock or randomness of its own (both come in
``ctx``). The caller loads the session, calls :func:`step`, then persists
``turn.session`` (or erases it), sends ``turn.replies`` and records
``turn.events``. Replaying the same inputs gives the same turn, which is what
the golden transcript tests rely on.

Order of precedence for a text, highest first: opt-out state (silence until
START), quick exit, opt-out, then everything else. Safety keywords work at
every point, including mid-screening and during a hand-off.

What people write in their own words is read after the keywords and the
reply the bot waits for (a number, an option, an answer): the meanings of
``flows/understanding.yaml`` (:mod:`bot.engine.understanding`). A message
they place is never a miss. ``Turn.readings`` says why a message went where
it went, for ``flask chat --explain`` and the console's simulator; it is not
stored, logged or put in an event.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Callable

from . import events as ev
from . import choices, language, matching, render, transcript
from . import model as m
from .lifecycle import bind, unbind
from .session import HISTORY_LIMIT, Session
from .text import asks, clause_starts, clauses, clean, normalize
from .understanding import Lexicon, Placement, Reading

MISSES_BEFORE_HELP = 3
MAX_HOPS = 100  # nodes passed through in one turn; the validator rejects loops
# A session flag: the bot showed them the emergency numbers (a danger word or phrase). Kept with the
# screening answers (it expires with the session, SALIR erases it) so that, if they ask for a person, the
# console's queue puts them first (bot/handoff_context.py).
DANGER_FLAG = "used_danger_word"

SAVE, ERASE, KEEP = "save", "erase", "keep"


class FlowError(RuntimeError):
    """The flows led somewhere they should not (a bug the validator missed)."""


@dataclass(frozen=True)
class Inbound:
    """What the person sent, as the engine needs it."""

    text: str = ""
    media_count: int = 0
    # WhatsApp: the id of the button or list row tapped (bot/engine/choices.py);
    # ``text`` is then its title, read only when the id cannot be placed.
    choice: str | None = None


@dataclass(frozen=True)
class Context:
    now: float
    on_duty: bool = False  # can a person take a hand-off right now?
    opted_out: bool = False  # the opt-out record (it outlives the session)
    call: bool = False  # a phone call: it cannot be unsubscribed from, so an opt-out word ends and erases it
    new_id: Callable[[], str] = field(default=lambda: uuid.uuid4().hex[:12])


@dataclass
class Turn:
    session: Session
    action: str = SAVE  # SAVE the session, ERASE it and its history, or KEEP the stored one
    replies: list[str] = field(default_factory=list)
    events: list[ev.Event] = field(default_factory=list)
    opt_out: bool | None = None  # True: record the opt-out; False: clear it
    transcript: list[str] = field(default_factory=list)  # texts for the operator in a hand-off
    readings: list[Reading] = field(default_factory=list)  # why, for --explain and the simulator; never stored
    someone_near: bool = False  # the person warned that someone is near: say nothing more unasked


def step(session: Session, inbound: Inbound, fs: m.FlowSet, ctx: Context) -> Turn:
    """Advance ``session`` by one inbound message; the input is not modified."""
    try:
        return _Step(session.copy(), fs, ctx).run(inbound)
    finally:
        unbind()  # the thread's chart keeps nothing of this person past the turn


def to_main_menu(s: Session, fs: m.FlowSet) -> None:
    """Put ``s`` at the main menu without showing it (its next text is read there), BACK forgotten."""
    s.history.clear()
    s.flow, _, s.node = fs.system.main_menu.partition(".")


class _Step:
    def __init__(self, session: Session, fs: m.FlowSet, ctx: Context):
        self.s = session
        self.fs = fs
        self.ctx = ctx
        self.turn = Turn(session=session)

    # --- small helpers ------------------------------------------------------

    @property
    def lc(self):
        """The lifecycle chart, pointed at this turn's session (see lifecycle.bind)."""
        return bind(self.s)

    def reply(self, text: str) -> None:
        self.turn.replies.append(text)

    def event(self, kind: str, **data: str) -> None:
        self.turn.events.append(ev.Event(kind, data))

    def say(self, name: str, **values: str) -> str:
        return render.say(self.fs, self.s.lang, name, **values)

    def warned(self) -> None:
        """Someone is near: the one discreet line, and nothing more until the person writes again."""
        self.reply(self.say("watched"))
        self.turn.someone_near = True

    def explain(self, reading: Reading | None) -> None:
        if reading is not None:
            self.turn.readings.append(reading)

    def place(self, text: str, norm: str) -> Placement:
        """The meaning of free text, from understanding.yaml (nothing if empty).

        A cry (`cries:` in understanding.yaml) that ends it raises the alarm
        too: "me obligan a trabajar en el campo SOS", "me obligan a trabajar.
        sos" show the emergency numbers first, then the screening.
        """
        if not norm:
            return Placement()
        lex = Lexicon.of(self.fs)
        placed = lex.place(norm, clauses=clause_starts(text, norm))
        cry = lex.cry(text, norm) if placed.target is not None and placed.alarm is None else None
        if cry is not None:
            intent, _, why = matching.read_keyword(self.fs, cry)
            if intent == "danger":
                return Placement(target=placed.target, reading=placed.reading, alarm=why)
        return placed

    def place_or_warning(self, text: str, norm: str, lead: str = "", placed: Placement | None = None) -> Placement:
        """:meth:`place`, where a warning said at the end wins over what the
        words before it placed: "mi patrón no me paga. ahí viene" (see
        :meth:`near_at_the_end`; ``lead``: the age that answered; ``placed``:
        the message's :meth:`place`, when it was read already)."""
        placed = self.place(text, norm) if placed is None else placed
        return placed if _someone_near(placed) else self.near_at_the_end(text, lead) or placed

    def before_a_last_word(self, norm: str) -> str | None:
        """The words before a danger keyword or a warning that ends a reply
        ("tengo 15 años sos", "tengo 16 ya llegó"), which a reading of the
        whole does not see past; None when it ends with neither."""
        cry = self.cry_at_the_end(norm)
        if cry is not None:
            return cry[1]
        split = Lexicon.of(self.fs).split_at(norm.split(), "watched")
        return " ".join(split[0]) if split is not None and split[0] and not split[1] else None

    def cry_at_the_end(self, norm: str) -> tuple[Reading, str] | None:
        """A danger keyword (with its around words) that ends a message after
        other words: its reading, and the words before it."""
        words = norm.split()
        for n in (3, 2, 1):
            if len(words) > n:
                intent, _, why = matching.read_keyword(self.fs, " ".join(words[-n:]))
                if intent == "danger":
                    return why, " ".join(words[:-n])
        return None

    def current(self) -> m.Node | None:
        node = self.fs.node(self.s.position) if self.s.flow else None
        return node if node is not None and node.waits else None

    # --- the turn -----------------------------------------------------------

    def run(self, inbound: Inbound) -> Turn:
        s, fs = self.s, self.fs
        text = clean(inbound.text)
        if inbound.choice:
            picked = self.tapped(inbound.choice, text)
            if picked is None:
                return self.turn
            text = picked or text
        norm = normalize(text)
        intent, lang, why = matching.read_keyword(fs, norm, text)
        if intent == "opt_in" and inbound.choice:
            # A tap is never an opt-in: "Yes" on a button of a message from before the stop
            # answered that message, and is no request to be written to again.
            intent = why = None
        if intent == "opt_in" and self.answers_question(text, norm):
            # YES is an opt-in word only while opted out (keywords.yaml); at a
            # yes / no / not sure question it is the answer.
            intent = why = None
        if intent == "opt_out" and self.ctx.call and self.names_an_option(text, norm):
            # BAJA is an opt-out word, and Baja California: on a call, where an opt-out word
            # would end and erase it, "Baja" at "¿Dónde está ahora?" answers. A text's BAJA
            # stops the messages wherever it is sent (DESIGN.md's keywords), and ALTA undoes it.
            intent = why = None
        if intent:
            self.event(ev.KEYWORD, intent=intent)
            self.explain(why)
        s.updated_at = self.ctx.now

        if self.ctx.opted_out and s.state != "opted_out":
            # The session expired or was erased; the opt-out record was not.
            self.lc.send("opt_out")
        if s.state == "opted_out":
            return self.while_opted_out(intent, norm)
        if intent == "quick_exit":
            return self.quick_exit(norm, lang)
        if intent == "opt_out":
            return self.quick_exit(norm, lang) if self.ctx.call else self.opt_out(norm, lang)
        if s.state == "new":
            return self.first_message(intent, lang, text, norm)
        if s.state == "closed":
            self.lc.send("reopen")
            self.event(ev.REOPENED)
            self.move_to_main_menu(show=False)
            if intent is None and self.ctx.call:
                # A call reads the main menu once a path has ended (after its last screen, the
                # hotline that did not answer, the quiet): the key or words are an answer to it.
                self.answer(text, norm, inbound.media_count)
                return self.turn
            if intent is None:
                placed = self.place(text, norm)
                if placed.placed:
                    self.where_said(norm)
                    self.act(placed, self.current())
                else:
                    self.reply(render.prompt(fs, self.current(), s.lang))
                return self.turn
        if s.state == "handed_off":
            return self.during_handoff(intent, lang, text, norm, media=inbound.media_count > 0)

        if intent in fs.keywords.shows:
            self.show(fs.keywords.shows[intent])
        if self.current() is None:
            return self.recover(intent)
        if intent in fs.keywords.shows:
            self.reply(render.prompt(fs, self.current(), s.lang))
        elif intent == "switch_language":
            self.switch_language(lang)
        elif intent == "menu":
            self.move_to_main_menu()
        elif intent == "back":
            self.back()
        elif intent in fs.keywords.gotos:
            self.enter(fs.keywords.gotos[intent])
        elif intent is not None:  # a known intent with nothing to do here (opt_in while subscribed)
            self.reply(render.prompt(fs, self.current(), s.lang))
        else:
            self.answer(text, norm, inbound.media_count)
        return self.turn

    def tapped(self, choice: str, title: str) -> str | None:
        """A tap on a WhatsApp button or list row: the number of the choice it
        names here (read as if typed), "" to read the title instead (not at a
        question or menu: the tap is then what its title says), or None once
        answered: a choice of an earlier message or of a menu that has changed
        gets one line saying so and the choices here, and is not a miss. A
        choice of an earlier message whose title is a keyword ("Emergencia",
        "Menú principal", "English") does what the word does when typed: the
        emergency numbers must not wait for a second tap."""
        s = self.s
        node = self.current() if s.state in ("in_flow", "choosing_language") and not self.ctx.opted_out else None
        if node is None:
            return ""
        i = choices.pick(self.fs, s.position, node, choice)
        if i is not None:
            return str(i + 1)
        intent = matching.read_keyword(self.fs, normalize(title), title)[0]
        if intent is not None and intent not in m.WHOLE_ONLY_INTENTS and intent != "opt_in":
            return ""
        s.updated_at = self.ctx.now
        self.explain(Reading("nothing", "a tap on a choice of an earlier message", how=f"id {choice}"))
        self.reply(render.changed(self.fs, node, s.lang))
        return None

    def answers_question(self, text: str, norm: str) -> bool:
        """Whether ``norm`` answers the question a subscribed person is at."""
        if self.ctx.opted_out or self.s.state != "in_flow":
            return False
        node = self.current()
        return (
            node is not None
            and node.kind == m.QUESTION
            and matching.read_answer(self.fs, text, norm, self.labels(node))[0] is not None
        )

    def names_an_option(self, text: str, norm: str) -> bool:
        """Whether ``norm`` names an option of the menu a subscribed person is
        at, in that option's other words (understanding.yaml `option_words:`)."""
        if self.ctx.opted_out or self.s.state != "in_flow":
            return False
        node = self.current()
        if node is None or node.kind != m.MENU:
            return False
        names = self.option_words(node)
        return bool(names) and matching.read_option_words(self.fs, norm, names, clause_starts(text, norm))[0] is not None

    # --- lifecycle edges ----------------------------------------------------

    def first_message(self, intent: str | None, lang: str | None, text: str, norm: str) -> Turn:
        """The greeting, in the language the text is written in, then where it asked to go.

        The language: a language keyword, the hint words, the language model,
        or the language of the phrase understood. With none of these ("911",
        "?", an emoji) nothing is guessed: a line in every language, then the
        language question; and if it was a danger word, the emergency numbers
        first, in every language, since a frightened person must read them at
        once whichever language they read.
        """
        s, fs = self.s, self.fs
        placed = _not_resuming(self.place_or_warning(text, norm)) if intent is None else Placement()
        detected = (language.detect(fs.system, text, norm, matching.keyword_words(fs)) if not lang
                    else language.Detected(lang, "language keyword"))
        chosen = lang or detected.lang or placed.lang
        how = detected.how if chosen == detected.lang or lang else f"{detected.how}; the phrase understood is {chosen}"
        self.explain(Reading("language", chosen or "not known: the language question", how=how, score=detected.score or 1.0))
        s.lang = chosen or fs.system.default_language
        s.conv = self.ctx.new_id()
        s.started_at = self.ctx.now
        self.where_said(norm)
        self.lc.send("start")
        self.event(ev.STARTED, lang=s.lang)
        shown = fs.keywords.shows.get(intent) or (fs.keywords.shows.get("danger") if placed.alarm else None)
        if placed.placed:
            self.understood(placed)
        if shown and chosen is None and intent != "help":
            for other in fs.system.languages:  # "911" as a first text: the numbers come first, for everyone
                self.show(shown, other)
        elif shown and chosen is not None:
            self.show(shown)
        if chosen is None:
            self.reply(render.in_every_language(fs, "hello_any"))
            self.enter(fs.keywords.gotos["language"])
            return self.turn
        target = placed.target
        goto = fs.keywords.gotos.get(intent) if intent != "language" else None
        if target is not None and target.intent == "watched":
            self.warned()
            self.move_to_main_menu(show=False)
            return self.turn
        if target is not None and target.intent != "help":  # the greeting says what this is
            goto = target.goto or fs.keywords.gotos.get(target.intent)
        if goto:
            # HUMAN, or "no me pagan", as a first text: the greeting (it says
            # how to quit), then straight on.
            self.show(fs.system.start)
            self.enter(goto)
        else:
            self.enter(fs.system.start)
        return self.turn

    def while_opted_out(self, intent: str | None, norm: str) -> Turn:
        s = self.s
        if intent == "quick_exit":
            # Still silent, but the erase is a promise: the stored session
            # (with the address) must not wait for its TTL.
            self.turn.action = ERASE
            self.turn.events = [ev.Event(ev.ERASED)]
            return self.turn
        if intent != "opt_in" or matching.keyword(self.fs.keywords, norm)[0] != "opt_in":
            # Silence: nothing is sent, and no session is kept for someone who
            # opted out and has none. Only the opt-in word itself ends it, as
            # on Twilio's side: "ok yes" or "START START" from someone who
            # asked for silence is not a request to be written to again (and
            # on SMS the send would be refused: Twilio has not re-subscribed).
            self.turn.action = SAVE if s.flow else KEEP
            self.turn.events = []
            return self.turn
        if not s.conv:
            s.lang = matching.detect_language(self.fs.system, norm)
            s.conv = self.ctx.new_id()
            s.started_at = self.ctx.now
        self.lc.send("opt_in")
        self.turn.opt_out = False
        self.event(ev.OPTED_IN)
        self.reply(self.say("opted_in"))
        self.move_to_main_menu()
        return self.turn

    def quick_exit(self, norm: str, said: str | None) -> Turn:
        if self.s.state == "new":
            self.s.lang = matching.one_line_language(self.fs, norm, said)
        self.turn.action = ERASE
        self.turn.events = [ev.Event(ev.ERASED)]
        self.reply(self.say("erased"))
        return self.turn

    def opt_out(self, norm: str, said: str | None) -> Turn:
        s = self.s
        if s.state == "new":
            s.lang = matching.one_line_language(self.fs, norm, said)  # as for quick exit
            s.conv = self.ctx.new_id()
        self.lc.send("opt_out")
        # Keep only what silence needs; screening answers go at once.
        s.flow = s.node = ""
        s.history.clear()
        s.flags.clear()
        s.misses = 0
        self.turn.opt_out = True
        self.event(ev.OPTED_OUT)
        self.reply(self.say("opted_out"))
        return self.turn

    def during_handoff(self, intent: str | None, lang: str | None, text: str, norm: str, media: bool = False) -> Turn:
        """A person is talking to an operator: the bot stays quiet but for keywords
        and danger.

        A keyword the bot answers goes into the operator's transcript too,
        marked, with what the bot sent: the responder sees at once that they
        asked for the emergency numbers. Danger in their own words ("me
        quieren matar", "he has a gun") is the danger keyword: the emergency
        numbers at once, as anywhere else, whether or not anyone has answered
        yet. With nobody on duty any more (the console hands back whoever
        waits when duty ends; this catches anyone it missed), a text gets the
        hand-off's ``unavailable`` numbers and the bot again, never silence.
        """
        s, fs = self.s, self.fs
        placed = self.place(text, norm) if intent is None else Placement()  # for danger, then for a warning
        alarm = placed.alarm

        def near() -> bool:  # "ya llegó", "hes here", as a whole or as the last clause
            return bool(text) and _someone_near(self.place_or_warning(text, norm, placed=placed))

        if intent in fs.keywords.shows or alarm is not None:
            if alarm is not None:
                self.understood(Placement(alarm=alarm))
            shown = len(self.turn.replies)
            self.show(fs.keywords.shows[intent or "danger"])
            self.mark_keyword(intent or "danger", text, sent=self.turn.replies[shown:])
        elif intent == "switch_language":
            s.lang = lang
            self.event(ev.LANGUAGE, lang=lang)
            self.mark_keyword(intent, text, lang=lang)
        elif intent in ("menu", "back"):
            self.lc.send("release")
            self.event(ev.RELEASED, by="person")
            self.move_to_main_menu()
        elif not self.ctx.on_duty:
            if near():
                self.warned()  # "ya volvió": the one discreet line; their next text gets the numbers
            else:
                self.nobody_on_duty()
        elif text:
            # "ya llegó", "hes here": marked, so that nothing is sent them unasked (bot/desk.py)
            # until they write again, and the responder sees the warning.
            self.turn.transcript.append(transcript.said(text, self.ctx.now, near=near()))
            self.event(ev.HANDOFF_MESSAGE)
        elif media:
            # A voice note or picture for the person they wait for: the operator
            # reads text only, so say so rather than let it go unheard.
            self.reply(self.say("media_only"))
        return self.turn

    def mark_keyword(self, intent: str, said: str, **fields) -> None:
        self.turn.transcript.append(transcript.record(transcript.KEYWORD, self.ctx.now, intent=intent, said=said,
                                                      **fields))

    def nobody_on_duty(self) -> None:
        """Out of a hand-off nobody can answer: its ``unavailable`` text, then on as when asking off duty."""
        found = render.handoff_node(self.fs, self.s.position)
        self.lc.send("release")
        self.event(ev.RELEASED, by="duty")
        self.s.history.clear()
        if found is None:
            self.move_to_main_menu()
            return
        _, node = found
        self.reply(self.fs.translate(self.s.lang, node.unavailable.msgid))
        self.enter(node.next, push=False)

    def recover(self, intent: str | None = None) -> Turn:
        """The session points at a node that no longer exists (flows changed).

        One line of apology, then the main menu; a keyword that goes somewhere
        (HUMAN, LANGUAGE) still goes there, since that is what was asked for.
        """
        self.event(ev.RECOVERED)
        self.s.history.clear()
        if self.s.state == "choosing_language":
            self.lc.send("language_chosen")
        self.reply(self.say("recovered"))
        if intent in self.fs.keywords.gotos:
            self.move_to_main_menu(show=False)  # where BACK leads from here
            self.enter(self.fs.keywords.gotos[intent])
        else:
            self.enter(self.fs.system.main_menu, push=False)
        return self.turn

    # --- navigation ---------------------------------------------------------

    def move_to_main_menu(self, show: bool = True) -> None:
        if show:
            self.s.history.clear()
            self.enter(self.fs.system.main_menu, push=False)
        else:
            to_main_menu(self.s, self.fs)

    def back(self) -> None:
        # History is saved with the session, so it can name questions that a
        # flow change has since removed (or turned into non-questions): skip
        # those rather than fail on them.
        while self.s.history:
            target = self.s.history.pop()
            node = self.fs.node(target)
            if node is not None and node.waits:
                self.enter(target, push=False)
                return
        self.move_to_main_menu()

    def show(self, target: str, lang: str | None = None) -> None:
        """Send a node's text without moving (help, danger); ``lang``: another language than theirs."""
        node = self.fs.node(target)
        lang = lang or self.s.lang
        if target == self.fs.keywords.shows.get("danger"):
            self.s.flags[DANGER_FLAG] = "yes"
        self.event(ev.VISITED, flow=target.split(".")[0], node=node.id)
        if node.kind == m.DIRECTORY:
            self.turn.replies += render.directory(self.fs, node, lang)
        else:
            self.reply(self.fs.translate(lang, node.text.msgid))

    def switch_language(self, lang: str) -> None:
        s = self.s
        s.lang = lang
        self.event(ev.LANGUAGE, lang=lang)
        node = self.current()
        if node.kind == m.LANGUAGE:  # ESPAÑOL typed at the language question answers it
            self.lc.send("language_chosen")
            self.enter(node.next)
        else:
            self.reply(render.prompt(self.fs, node, lang))

    def enter(self, target: str, push: bool = True) -> None:
        """Go to ``target`` and on through nodes that need no reply."""
        s, fs = self.s, self.fs
        for _ in range(MAX_HOPS):
            node = fs.node(target)
            if node is None:
                raise FlowError(f"goto {target!r} leads nowhere")
            flow_id = target.split(".")[0]
            self.event(ev.VISITED, flow=flow_id, node=node.id)
            if node.outcome:
                self.event(ev.OUTCOME, outcome=node.outcome, flow=flow_id, node=node.id)
            kind = node.kind
            if kind == m.MESSAGE:
                self.reply(fs.translate(s.lang, node.text.msgid))
                target = node.next
            elif kind == m.DIRECTORY:
                self.turn.replies += render.directory(fs, node, s.lang)
                target = node.next
            elif kind == m.BRANCH:
                target = node.branch_goto(s.flags)
            elif kind == m.HANDOFF:
                self.event(ev.HANDOFF_REQUESTED, on_duty="yes" if self.ctx.on_duty else "no")
                if self.ctx.on_duty and s.state in ("in_flow", "choosing_language"):
                    self.reply(fs.translate(s.lang, node.text.msgid))
                    self.arrive(flow_id, node, push)
                    self.lc.send("hand_off")
                    # When they asked: the console's queue counts their wait from it.
                    self.turn.transcript.append(transcript.record(transcript.ASKED, self.ctx.now))
                    return
                self.reply(fs.translate(s.lang, node.unavailable.msgid))
                target = node.next
            elif kind == m.END:
                self.reply(fs.translate(s.lang, node.text.msgid))
                self.arrive(flow_id, node, push)
                if s.state == "choosing_language":
                    self.lc.send("language_chosen")
                self.lc.send("close")
                self.event(ev.CLOSED)
                return
            else:  # a node that waits for the person's reply
                self.arrive(flow_id, node, push)
                if kind == m.LANGUAGE and s.state == "in_flow":
                    self.lc.send("choose_language")
                elif kind != m.LANGUAGE and s.state == "choosing_language":
                    self.lc.send("language_chosen")
                self.reply(render.prompt(fs, node, s.lang))
                return
        raise FlowError(f"more than {MAX_HOPS} nodes without a reply from {target!r}")

    def arrive(self, flow_id: str, node: m.Node, push: bool) -> None:
        s = self.s
        here = f"{flow_id}.{node.id}"
        if push and s.position and s.position != here and self.current() is not None:
            s.history.append(s.position)
            del s.history[:-HISTORY_LIMIT]
        s.flow, s.node = flow_id, node.id
        s.misses = 0

    # --- answers ------------------------------------------------------------

    def labels(self, node: m.Node) -> list[list[str]]:
        """Each option's label, normalised, in the person's language and English: as
        written, as a call says it, and as a WhatsApp button or row shows it."""
        fs, lang = self.fs, self.s.lang

        def forms() -> list[list[str]]:
            said = [render.option_labels(fs, node, language, voice) for language in (lang, "en") for voice in (False, True)]
            # What a WhatsApp button or row shows (an option's `short:`), typed as it reads there.
            said += [choices.labels(fs, node, language) for language in (lang, "en")]
            return [list(dict.fromkeys(normalize(label) for label in labels)) for labels in zip(*said)]

        # Worked out once per flow set; ``node`` is the one the person is at.
        return fs.derived(("forms", self.s.position, lang), forms)

    def option_words(self, node: m.Node) -> dict[str, list[tuple[tuple[str, ...], int]]]:
        """:func:`matching.option_words_index` for ``node``, worked out once per flow set."""
        return self.fs.derived(("option words", self.s.position, self.s.lang),
                               lambda: matching.option_words_index(self.fs, node, self.labels(node)))

    def where_said(self, norm: str) -> None:
        """Record where the person said they are, in passing (understanding.yaml
        `saying_where:`), as the answer to that menu, when it has none yet:
        "estoy en Tijuana y no me pagan" then leads to Mexico's rights, not the
        question of where they are."""
        fs, s = self.fs, self.s
        place = fs.understanding.saying_where_menu
        node = fs.node(place) if place else None
        if node is None or any(flag in s.flags for flag in node.option_flags):
            return
        here = self.current()
        if here is not None and set(here.option_flags) & set(node.option_flags):
            return  # the question itself, which read it already (answer)
        names = fs.derived(("where said", place),  # a place's own words; the labels are no place
                           lambda: matching.option_words_index(fs, node, [() for _ in node.options]))
        i, why = matching.read_where_said(fs, norm, names)
        if i is not None:
            self.explain(why)
            for flag in node.options[i].sets:
                s.flags[flag] = "yes"

    def own_answers(self, text: str) -> dict[str, set[str]]:
        """The question's answers in its own words (understanding.yaml
        `answers_at:`), in the person's language and English: answer -> words.
        Nothing for a reply that asks: "¿nada?", "me obligaron? no" echo the question."""
        if asks(text) or "?" in text:  # a "?" anywhere: "me obligaron? no"
            return {}
        said = self.fs.understanding.answers_at.get(self.s.position, {})
        return {answer: {w for code in {self.s.lang, "en"} for w in langs.get(code, ())} for answer, langs in said.items()}

    def answer(self, text: str, norm: str, media_count: int) -> None:
        s, fs = self.s, self.fs
        node = self.current()
        unsure = None
        if node.kind == m.MENU:
            names = self.option_words(node)
            i, why = matching.read_option_words(fs, norm, names, clause_starts(text, norm))
            if i is None and names:
                # Two places named, or a "no" before them: where they say they are, if they do.
                said, where = matching.read_where_said(fs, norm, names)
                if said is not None:
                    i, why = said, where
            if i is None and why is None:
                i, why = matching.read_pick(fs, norm, self.labels(node), text)
            if (i is not None and why.how == matching.BY_LABEL_WORDS
                    and self.says_more_than_a_label(text, norm, node.options[i], self.labels(node)[i])):
                i = why = None  # "she threatens to call immigration on me": not "Numbers to call or text"
            if i is not None:
                self.explain(why)
                if self.said_beside(text, norm, why, node):
                    return
                option = node.options[i]
                # A menu is one answer: picked again (after BACK, or the flow
                # once more), it replaces what it recorded before, never adds.
                for flag in node.option_flags:
                    s.flags.pop(flag, None)
                for flag in option.sets:
                    s.flags[flag] = "yes"
                self.enter(option.goto)
                return
        elif node.kind == m.QUESTION:
            a, why = matching.read_answer(fs, text, norm, self.labels(node), self.own_answers(text),
                                          fs.understanding.answers_at_where.get(self.s.position))
            aged = matching.read_age(fs, text, node.age_below) if node.age_below is not None else None
            words = norm.split()
            rest = self.after_the_answer(words) if aged is None and node.age_below is not None else []
            if rest:
                # "no im 24", "nah im 19", "sí tengo 16": an answer word, then the age that says it;
                # never a "no" that turns the age around ("no tengo 18": not 18, or not yet?),
                # unless the age is past the line: nobody under 18 answers "no tengo 34".
                lex = Lexicon.of(fs)
                said = lex.age(" ".join(rest))
                if words[0] not in lex.not_words or rest[0] in lex.openers or (said and said[0] > node.age_below):
                    aged = matching.read_age(fs, " ".join(rest), node.age_below)
            if aged is None and node.age_below is not None and (before := self.before_a_last_word(norm)):
                # "tengo 15 años sos", "tengo 16 ya llegó": the age answers, and said_beside
                # shows the numbers or gives the one line for someone near.
                aged = matching.read_age(fs, before, node.age_below)
            if aged is not None and a in (None, aged[0]):  # "tengo 16", "no, tengo 20", "sí, tengo 16"
                a, why = aged  # the age is what said_beside reads past: "si, tengo 16 ayúdenme"
            elif aged is not None and aged[0] != a:  # "sí, tengo 20": the answer and the age disagree
                a, why = None, Reading("answer", "not sure which: the question again", aged[1].phrase,
                                       aged[1].where, how="an answer and an age that disagree")
            if a is not None:
                self.explain(why)
                if self.said_beside(text, norm, why, node):
                    return
                s.flags[node.flag] = a
                self.enter(node.on.get(a) or node.next)
                return
            unsure = why
        elif node.kind == m.LANGUAGE:
            codes = list(fs.system.languages)
            labels = [[normalize(name), code] for code, name in fs.system.languages.items()]
            i, why = matching.read_pick(fs, norm, labels)
            if i is not None:
                self.explain(why)
                s.lang = codes[i]
                self.event(ev.LANGUAGE, lang=s.lang)
                self.lc.send("language_chosen")
                self.enter(node.next)
                return
            if self.written_in_a_language(text, norm, node):
                return
        placed = self.place_or_warning(text, norm)
        if not placed.placed:
            placed = self.danger_at_the_end(norm) or placed
        if placed.placed:
            self.where_said(norm)
            self.act(placed, node, unsure=unsure is not None, asked=asks(text))
            return
        if node.kind == m.QUESTION and unsure is not None:  # "no, nunca me pagan": ask again, it is not a miss
            self.explain(unsure)
            s.misses = 0
            self.reply(render.reprompt(fs, node, s.lang, "reprompt_unsure"))
            return
        if not norm and media_count > 0:
            # A voice note, picture, video, sticker or location: not a mistake,
            # so not a miss. A kind line, then the question again.
            self.explain(Reading("nothing", "a picture, voice note or location", how="no text"))
            self.reply(self.say("media_only"))
            self.reply(render.prompt(fs, node, s.lang))
            return
        self.explain(Reading("nothing", "a reply the bot did not understand", how="no keyword, option, answer or phrase"))
        self.miss(node)

    def written_in_a_language(self, text: str, norm: str, node: m.Node) -> bool:
        """Free text at the language question, in one of the languages: that
        language is the choice, and the text is read as at the main menu
        ("911" first, then "mi patrón no me deja salir": the emergency numbers
        and the questions in Spanish, not in English); with nothing to place
        in it, the question's next node. False when it says no language
        ("ok", "?"): the question stays."""
        fs, s = self.fs, self.s
        placed = _not_resuming(self.place_or_warning(text, norm))
        detected = language.detect(fs.system, text, norm)
        padded = f" {norm} "
        named = {code for code, words in fs.keywords.languages.items() if any(f" {w} " in padded for w in words)}
        if len(named) == 1:  # "quiero en inglés", written in Spanish: the language it names
            detected = language.Detected(named.pop(), "the language it names")
        chosen = detected.lang or placed.lang
        if chosen not in fs.system.languages:
            return False
        self.explain(Reading("language", chosen, how=f"written in it: {detected.how}", score=detected.score or 1.0))
        s.lang = chosen
        self.event(ev.LANGUAGE, lang=s.lang)
        self.lc.send("language_chosen")
        if not placed.placed:
            self.enter(node.next)
            return True
        self.move_to_main_menu(show=False)
        self.where_said(norm)
        self.act(placed, self.current())
        return True

    def says_more_than_a_label(self, text: str, norm: str, option: m.Option, forms: list[str]) -> bool:
        """Whether a reply that shares a word with ``option``'s label (``forms``:
        the label normalised, in each language) says something of its own: a
        phrase of understanding.yaml places it on a page the option does not
        lead to, not as a general request (anywhere, the option's own flow
        too); or as a general request on another page of the option's own
        flow, or read from words together (two phrases, never vague); and the
        label is not in it whole. "she threatens to call immigration on me" is
        a threat, not "Numbers to call or text", nor is "the text to 233733
        says message failed" or "la línea de trata no contesta" (the page on a
        number that did not go through); "le están pegando a mi hijo, ayuda"
        is the children's numbers, not the menu of numbers its "ayuda" picks,
        and "la migra estuvo aquí, qué derechos tengo" the page on immigration
        agents, not the question before the rights; "numbers" is the option,
        and so is "números de ayuda para mi hija que no le pagan" (the label
        itself)."""
        padded = f" {norm} "
        if any(form and f" {form} " in padded for form in forms):
            return False
        placed = self.place(text, norm)
        target = placed.target
        if target is None or target.goto == option.goto:
            return False
        if placed.together:
            return True
        own_flow = (target.goto or "").partition(".")[0] == option.goto.partition(".")[0]
        return own_flow or not target.general

    def said_beside(self, text: str, norm: str, why: Reading, node: m.Node) -> bool:
        """A reply read from some of its words may say more.

        That the person is in danger: "me están golpeando, ayuda" picks
        "Números de ayuda" by its last word, "sí, me está pegando ahorita"
        answers yes. The emergency numbers come first, then what the reply
        picked or answered.

        Or that someone is near: "sí, ahí viene el patrón". Then the one
        discreet line and nothing else (True): the next question on the
        screen is what the person coming would read. The answer is not
        kept; the question waits for them.
        """
        if not matching.read_from_some_words(why):
            return False
        lead = why.phrase if why.how == matching.BY_AGE else ""
        placed = self.place_or_warning(text, norm, lead)
        if _someone_near(placed):
            self.act(placed, node)
            return True
        if placed.alarm is None:
            # A danger keyword after a number or an age: "1 emergencia", "tengo 15 sos".
            rest = self.after_the_answer(norm.split(), lead)
            intent, _, keyword = matching.read_keyword(self.fs, " ".join(rest)) if rest else (None, None, None)
            placed = Placement(alarm=keyword) if intent == "danger" else placed
        if placed.alarm is not None:
            self.understood(Placement(alarm=placed.alarm))
            self.show(self.fs.keywords.shows["danger"])
        return False

    def near_at_the_end(self, text: str, lead: str = "") -> Placement | None:
        """A warning that counts only as a whole message ("ya llegó", "gotta go")
        said as a reply's last clause: "sí. ya llegó mi esposo", "no, ya me
        tengo que ir", "tengo 16 y ahí viene"; or any warning right after what
        answered, with no comma: an answer word, a number or the age ``lead``
        ("no ya viene", "1 gotta go", "tengo 16 y ya llegó")."""
        lex = Lexicon.of(self.fs)
        parts = clauses(text)
        if len(parts) < 2:
            # Read whole, "no ya viene" would be the warning turned around.
            words = parts[0].split() if parts else []
            rest = self.after_the_answer(words, lead)
            if not rest:
                return None
            found = lex.place(" ".join(rest))
            if _someone_near(found):
                return found
            parts = [" ".join(rest)]
        last = parts[-1].split()
        if len(last) > 1 and last[0] in lex.joins:  # "sí, pero ya llegó mi esposo", "tengo 16, y ahí viene"
            last = last[1:]
        said = lead.split()
        if said and len(last) > len(said) and lex.spelled(last[:len(said)]) == said:  # "sí, tengo 16 ya llegó"
            last = last[len(said):]
        # In a clause of its own, a warning wins over a longer phrase of the clauses before ("tengo 16 y").
        for whole_only in (False, True):
            found = lex.place(" ".join(last), whole_only=whole_only)
            if _someone_near(found):
                return found
        return None

    def danger_at_the_end(self, norm: str) -> Placement | None:
        """A danger keyword that ends a short reply nothing else of was understood:
        "tengo 15 sos", "si 911", "si peligro" (the numbers, then the question again).
        Two words at most before it, none of them a not-word: "no estoy en peligro"."""
        cry = self.cry_at_the_end(norm)
        if cry is None:
            return None
        alarm, before = cry
        not_words = Lexicon.of(self.fs).not_words
        short = len(before.split()) <= 2 and not any(w in not_words for w in before.split())
        return Placement(alarm=alarm) if short else None

    def after_the_answer(self, words: list[str], lead: str = "") -> list[str]:
        """The words after what answered: the age ``lead``, else a first answer
        word or number ("1 ya llegó", "no he is here"), and a join after it
        ("tengo 16 y ahí viene"); none when the reply opens with neither."""
        lex = Lexicon.of(self.fs)
        said = lead.split()
        opens = len(words) > 1 and (words[0].isdigit() or any(words[0] in a for a in self.fs.system.answers.values()))
        if said and lex.spelled(words[:len(said)]) == said:
            rest = words[len(said):]
        elif said and opens and lex.spelled(words[1:1 + len(said)]) == said:  # "si tengo 15 sos"
            rest = words[1 + len(said):]
        elif opens:
            rest = words[1:]
        else:
            return []
        return rest[1:] if rest and rest[0] in lex.joins else rest

    def understood(self, placed: Placement) -> None:
        """Say what free text was understood as: an event with its meaning (no text)."""
        for reading in (placed.alarm, placed.reading):
            if reading is not None and reading not in self.turn.readings:
                self.explain(reading)
        self.event(ev.UNDERSTOOD, to=placed.target.key if placed.target is not None else "danger")

    def act(self, placed: Placement, node: m.Node, unsure: bool = False, asked: bool = False) -> None:
        """Do what free text asked for, at ``node`` (it is not a miss).

        Danger phrases show the emergency numbers first. At a question (or a
        menu that records an answer: "Where are you now?", "Who has your
        passport?") a place in the flows is not a jump: the person is
        answering in their own words, and leaving would lose the questions
        answered so far, so the question is asked again (HUMAN and the like
        still go where they ask), thanking them for what they told, never
        saying it was not understood. ``unsure``: the reply also opened with an answer
        that may mean two things ("no, nunca me pagan"): that is said instead.
        ``asked``: the reply was a question ("¿quién lee esto?"): it is not
        thanked for, the question is asked again.
        """
        s, fs = self.s, self.fs
        s.misses = 0
        self.understood(placed)
        if placed.alarm is not None:
            self.show(fs.keywords.shows["danger"])
        target = placed.target
        if target is not None and target.intent == "watched":
            self.warned()
            return
        if target is not None and target.intent == "resume":
            # Back after someone was near: where they were, in full (the question
            # itself, not only its options; the warning's line was all they saw).
            self.reply(render.prompt(fs, node, s.lang))
            return
        shown = placed.alarm is not None
        if target is not None and target.intent == "help":
            self.show(fs.keywords.shows["help"])
            shown = True
        goto = None
        if target is not None and target.intent == "human":
            goto = fs.keywords.gotos.get("human")
        elif target is not None and not _asks(node):
            goto = target.goto
        if goto:
            self.enter(goto)
            return
        # At a question, a page of numbers is given here and now ("mi esposo me empuja":
        # the violence line), then the question: leaving would lose the answers.
        page = self.numbers_page(target.goto) if _asks(node) and target is not None and target.goto else None
        if page is not None:
            self.turn.replies += render.directory(fs, page, s.lang)
        if shown:
            self.reply(render.prompt(fs, node, s.lang))
        elif unsure:
            self.reply(render.reprompt(fs, node, s.lang, "reprompt_unsure"))
        elif _asks(node) and target is not None and target.goto:
            self.reply(render.reprompt(fs, node, s.lang, "reprompt_asked" if asked else "reprompt_told"))
        else:
            self.reply(render.reprompt(fs, node, s.lang))

    def numbers_page(self, goto: str) -> m.Node | None:
        """The page of numbers (a directory) ``goto`` leads to, through branches on
        what the person said; None if it leads to anything else."""
        for _ in range(MAX_HOPS):
            node = self.fs.node(goto)
            if node is None or node.kind != m.BRANCH:
                return node if node is not None and node.kind == m.DIRECTORY else None
            goto = node.branch_goto(self.s.flags)
        return None

    def miss(self, node: m.Node) -> None:
        s = self.s
        s.misses += 1
        self.event(ev.MISSED, flow=s.flow, node=s.node)
        if s.misses >= MISSES_BEFORE_HELP:
            s.misses = 0
            self.show(self.fs.keywords.shows["help"])
            self.reply(render.prompt(self.fs, node, s.lang))
            return
        self.reply(render.reprompt(self.fs, node, s.lang))


def _asks(node: m.Node) -> bool:
    """A question, or a menu that records an answer (its options set flags)."""
    return node.kind == m.QUESTION or bool(node.option_flags)


def _someone_near(placed: Placement) -> bool:
    return placed.target is not None and placed.target.intent == "watched"


def _not_resuming(placed: Placement) -> Placement:
    """Nothing to go back to before the greeting: "hola" or "im back" as a first
    text, or at the language question, is no "back where they were" (a danger
    phrase still counts)."""
    if placed.target is not None and placed.target.intent == "resume":
        return Placement(alarm=placed.alarm)
    return placed
