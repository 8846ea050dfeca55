"""One turn of a conversation: ``step(session, inbound, flows, ctx) -> Turn``.

Pure: no network, no storage, no clock or randomness of its own (both come in
``ctx``). The caller loads the session, calls :func:`step`, then persists
``turn.session`` (or erases it), sends ``turn.replies`` and records
``turn.events``. Replaying the same inputs gives the same turn, which is what
the golden transcript tests rely on.

Order of precedence for a text, highest first: opt-out state (silence until
START), quick exit, opt-out, then everything else. Safety keywords work at
every point, including mid-screening and during a hand-off.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Callable

from . import events as ev
from . import matching, render
from . import model as m
from .lifecycle import bind
from .session import HISTORY_LIMIT, Session
from .text import clean, normalize

MISSES_BEFORE_HELP = 3
MAX_HOPS = 100  # nodes passed through in one turn; the validator rejects loops

SAVE, ERASE, KEEP = "save", "erase", "keep"


class FlowError(RuntimeError):
    """The flows led somewhere they should not (a bug the validator missed)."""


@dataclass(frozen=True)
class Inbound:
    """What the person sent, as the engine needs it."""

    text: str = ""
    media_count: int = 0


@dataclass(frozen=True)
class Context:
    now: float
    on_duty: bool = False  # can a person take a hand-off right now?
    opted_out: bool = False  # the opt-out record (it outlives the session)
    new_id: Callable[[], str] = field(default=lambda: uuid.uuid4().hex[:12])


@dataclass
class Turn:
    session: Session
    action: str = SAVE  # SAVE the session, ERASE it and its history, or KEEP the stored one
    replies: list[str] = field(default_factory=list)
    events: list[ev.Event] = field(default_factory=list)
    opt_out: bool | None = None  # True: record the opt-out; False: clear it
    transcript: list[str] = field(default_factory=list)  # texts for the operator in a hand-off


def step(session: Session, inbound: Inbound, fs: m.FlowSet, ctx: Context) -> Turn:
    """Advance ``session`` by one inbound message; the input is not modified."""
    return _Step(session.copy(), fs, ctx).run(inbound)


class _Step:
    def __init__(self, session: Session, fs: m.FlowSet, ctx: Context):
        self.s = session
        self.fs = fs
        self.ctx = ctx
        self._lc = None
        self.turn = Turn(session=session)

    # --- small helpers ------------------------------------------------------

    @property
    def lc(self):
        """The lifecycle chart, bound on first use: most turns never change state,
        and building a StateChart costs more than the rest of a turn."""
        if self._lc is None:
            self._lc = bind(self.s)
        return self._lc

    def reply(self, text: str) -> None:
        self.turn.replies.append(text)

    def event(self, kind: str, **data: str) -> None:
        self.turn.events.append(ev.Event(kind, data))

    def say(self, name: str, **values: str) -> str:
        return render.say(self.fs, self.s.lang, name, **values)

    def current(self) -> m.Node | None:
        node = self.fs.node(self.s.position) if self.s.flow else None
        return node if node is not None and node.waits else None

    # --- the turn -----------------------------------------------------------

    def run(self, inbound: Inbound) -> Turn:
        s, fs = self.s, self.fs
        text = clean(inbound.text)
        norm = normalize(text)
        intent, lang = matching.keyword(fs.keywords, norm) if norm else (None, None)
        if intent == "opt_in" and self.answers_question(norm):
            # YES is an opt-in word only while opted out (keywords.yaml); at a
            # yes / no / not sure question it is the answer.
            intent = None
        if intent:
            self.event(ev.KEYWORD, intent=intent)
        s.updated_at = self.ctx.now

        if self.ctx.opted_out and s.state != "opted_out":
            # The session expired or was erased; the opt-out record was not.
            self.lc.send("opt_out")
        if s.state == "opted_out":
            return self.while_opted_out(intent, norm)
        if intent == "quick_exit":
            return self.quick_exit(norm)
        if intent == "opt_out":
            return self.opt_out(norm)
        if s.state == "new":
            return self.first_message(intent, lang, norm)
        if s.state == "closed":
            self.lc.send("reopen")
            self.event(ev.REOPENED)
            self.move_to_main_menu(show=False)
            if intent is None:
                self.reply(render.prompt(fs, self.current(), s.lang))
                return self.turn
        if s.state == "handed_off":
            return self.during_handoff(intent, lang, text)

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
            self.answer(norm, inbound.media_count)
        return self.turn

    def answers_question(self, norm: str) -> bool:
        """Whether ``norm`` answers the question a subscribed person is at."""
        if self.ctx.opted_out or self.s.state != "in_flow":
            return False
        node = self.current()
        return (
            node is not None
            and node.kind == m.QUESTION
            and matching.answer(self.fs.system, norm, self.labels(node)) is not None
        )

    # --- lifecycle edges ----------------------------------------------------

    def first_message(self, intent: str | None, lang: str | None, norm: str) -> Turn:
        s, fs = self.s, self.fs
        s.lang = lang or matching.detect_language(fs.system, norm)
        s.conv = self.ctx.new_id()
        s.started_at = self.ctx.now
        self.lc.send("start")
        self.event(ev.STARTED, lang=s.lang)
        if intent in fs.keywords.shows:  # "911" as a first text: the numbers come first
            self.show(fs.keywords.shows[intent])
        if intent in fs.keywords.gotos and intent != "language":
            # HUMAN as a first text: the greeting (it says how to quit), then straight on.
            self.show(fs.system.start)
            self.enter(fs.keywords.gotos[intent])
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
        if intent != "opt_in":
            # Silence: nothing is sent, and no session is kept for someone who
            # opted out and has none.
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

    def quick_exit(self, norm: str) -> Turn:
        if self.s.state == "new":
            self.s.lang = matching.detect_language(self.fs.system, norm)
        self.turn.action = ERASE
        self.turn.events = [ev.Event(ev.ERASED)]
        self.reply(self.say("erased"))
        return self.turn

    def opt_out(self, norm: str) -> Turn:
        s = self.s
        if s.state == "new":
            # As for quick exit: the one line we send is in their language.
            s.lang = matching.detect_language(self.fs.system, norm)
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

    def during_handoff(self, intent: str | None, lang: str | None, text: str) -> Turn:
        """A person is talking to an operator: the bot stays quiet but for keywords."""
        s, fs = self.s, self.fs
        if intent in fs.keywords.shows:
            self.show(fs.keywords.shows[intent])
        elif intent == "switch_language":
            s.lang = lang
            self.event(ev.LANGUAGE, lang=lang)
        elif intent in ("menu", "back"):
            self.lc.send("release")
            self.event(ev.RELEASED, by="person")
            self.move_to_main_menu()
        elif text:
            self.turn.transcript.append(text)
            self.event(ev.HANDOFF_MESSAGE)
        return self.turn

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
        self.s.history.clear()
        if show:
            self.enter(self.fs.system.main_menu, push=False)
        else:
            self.s.flow, _, self.s.node = self.fs.system.main_menu.partition(".")

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

    def show(self, target: str) -> None:
        """Send a node's text without moving (help, danger)."""
        node = self.fs.node(target)
        self.event(ev.VISITED, flow=target.split(".")[0], node=node.id)
        if node.kind == m.DIRECTORY:
            self.turn.replies += render.directory(self.fs, node, self.s.lang)
        else:
            self.reply(self.fs.translate(self.s.lang, node.text.msgid))

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
                target = next((b.goto for b in node.branches if b.when.holds(s.flags)), node.default)
            elif kind == m.HANDOFF:
                self.event(ev.HANDOFF_REQUESTED, on_duty="yes" if self.ctx.on_duty else "no")
                if self.ctx.on_duty and s.state in ("in_flow", "choosing_language"):
                    self.reply(fs.translate(s.lang, node.text.msgid))
                    self.arrive(flow_id, node, push)
                    self.lc.send("hand_off")
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
        """Each option's label, normalised, in the person's language and English."""
        fs, lang = self.fs, self.s.lang

        def forms() -> list[list[str]]:
            mine = render.option_labels(fs, node, lang)
            english = render.option_labels(fs, node, "en")
            return [list({normalize(a), normalize(b)}) for a, b in zip(mine, english)]

        return fs.derived(("forms", id(node), lang), forms)

    def answer(self, norm: str, media_count: int) -> None:
        s, fs = self.s, self.fs
        node = self.current()
        if node.kind == m.MENU:
            i = matching.pick(norm, self.labels(node)) if norm else None
            if i is not None:
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
            a = matching.answer(fs.system, norm, self.labels(node)) if norm else None
            if a is not None:
                s.flags[node.flag] = a
                self.enter(node.on.get(a) or node.next)
                return
        elif node.kind == m.LANGUAGE:
            codes = list(fs.system.languages)
            labels = [[normalize(name), code] for code, name in fs.system.languages.items()]
            i = matching.pick(norm, labels) if norm else None
            if i is not None:
                s.lang = codes[i]
                self.event(ev.LANGUAGE, lang=s.lang)
                self.lc.send("language_chosen")
                self.enter(node.next)
                return
        self.miss(node, media_only=not norm and media_count > 0)

    def miss(self, node: m.Node, media_only: bool) -> None:
        s = self.s
        s.misses += 1
        self.event(ev.MISSED, flow=s.flow, node=s.node)
        if s.misses >= MISSES_BEFORE_HELP:
            s.misses = 0
            self.show(self.fs.keywords.shows["help"])
            self.reply(render.prompt(self.fs, node, s.lang))
            return
        self.reply(render.reprompt(self.fs, node, s.lang, media_only=media_only))
