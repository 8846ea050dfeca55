"""The engine with the real flows, for its tests (a pytest plugin, see conftest.py).

``fs``: the real flow set, loaded once per run (a FlowSet never changes).
``project``: a copy of flows/ and locales/ that a test may edit.
:class:`Chat`: one person talking to the engine, the session kept in memory as
the service keeps it in Redis. The other helpers build expected replies from
the flows, so tests say *where* a reply takes a person.
"""
from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest

from bot.published_flows import load
from bot.engine import render
from bot.engine.model import FlowSet
from bot.engine.runner import ERASE, KEEP, SAVE, Context, Inbound, Turn, step
from bot.engine.segments import MAX_SEGMENTS, count_segments
from bot.engine.session import Session
from tests.helpers import option

REPO = Path(__file__).resolve().parents[1]
T0 = 1767225600.0  # 2026-01-01T00:00:00Z
ADDRESS = "+15550001111"
HOTLINE = "1-888-373-7888"

# The main menu's options, by what they lead to: the number a person types,
# read from flows/main.yaml, so the tests say what is picked, not where it sits.
OPT = {
    "screening": option("screening"),
    "difference": option("difference"),
    "rights": option("rights"),
    "numbers": option("numbers"),
    "safety": option("safety"),
    "person": option("help.person"),
    "language": option("welcome.language"),
}


@pytest.fixture(scope="session")
def fs() -> FlowSet:
    flows, problems = load(str(REPO / "flows"), str(REPO / "locales"))
    assert flows is not None, [str(p) for p in problems]
    return flows


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the real flows/ and locales/, to edit without touching the repository's."""
    root = tmp_path / "project"
    shutil.copytree(REPO / "flows", root / "flows")
    shutil.copytree(REPO / "locales", root / "locales")
    return root


class Chat:
    """One person talking to the engine, their session kept as the service keeps it.

    ``SAVE`` keeps the turn's session, ``ERASE`` forgets it, ``KEEP`` leaves
    the stored one as it was; the opt-out record lives apart from the session,
    as in Redis. Every turn is checked for what must always hold: the input
    session is not modified, and every reply is non-empty text that can be
    sent (encodable, within the segment budget).
    """

    def __init__(self, fs: FlowSet, on_duty: bool = False, session: Session | None = None, opted_out: bool = False):
        self.fs = fs
        self.on_duty = on_duty
        self.session = session or self.fresh()
        self.opted_out = opted_out
        self.now = T0
        self._ids = itertools.count(1)
        self.turns: list[Turn] = []

    def fresh(self) -> Session:
        return Session(cid="c1", address=ADDRESS)

    def send(self, text: str = "", media: int = 0) -> Turn:
        self.now += 60
        ctx = Context(
            now=self.now,
            on_duty=self.on_duty,
            opted_out=self.opted_out,
            new_id=lambda: f"conv{next(self._ids):04d}",
        )
        before = self.session.copy()
        turn = step(self.session, Inbound(text, media), self.fs, ctx)
        assert self.session == before, "step() modified the session it was given"
        for reply in turn.replies:
            assert isinstance(reply, str) and reply.strip(), turn.replies
            reply.encode("utf-8")
            assert count_segments(reply).segments <= MAX_SEGMENTS, reply
        assert turn.action in (SAVE, ERASE, KEEP)
        if turn.action == SAVE:
            self.session = turn.session
        elif turn.action == ERASE:
            self.session = self.fresh()
        if turn.opt_out is not None:
            self.opted_out = turn.opt_out
        self.turns.append(turn)
        return turn

    def script(self, *texts: str) -> Turn:
        for text in texts:
            turn = self.send(text)
        return turn


# --- what the person should see, from the flows -----------------------------------------


def text_of(fs: FlowSet, node: str, lang: str) -> str:
    return fs.translate(lang, fs.node(node).text.msgid)


def prompt(fs: FlowSet, node: str, lang: str) -> str:
    return render.prompt(fs, fs.node(node), lang)


def menu(fs: FlowSet, lang: str) -> str:
    return prompt(fs, fs.system.main_menu, lang)


def greeting(fs: FlowSet, lang: str) -> str:
    return text_of(fs, fs.system.start, lang)


def help_text(fs: FlowSet, lang: str) -> str:
    return text_of(fs, fs.keywords.shows["help"], lang)


def emergency(fs: FlowSet, lang: str) -> str:
    return text_of(fs, fs.keywords.shows["danger"], lang)


def say(fs: FlowSet, name: str, lang: str) -> str:
    return render.say(fs, lang, name)


def reprompt(fs: FlowSet, node: str, lang: str, lead: str = "reprompt") -> str:
    return render.reprompt(fs, fs.node(node), lang, lead)


HELLO = {"en": "hi", "es": "hola"}


def started(fs: FlowSet, lang: str, **kw) -> Chat:
    """A chat whose first text has been answered: at the main menu in ``lang``."""
    chat = Chat(fs, **kw)
    chat.send(HELLO[lang])
    assert (chat.session.lang, chat.session.position) == (lang, fs.system.main_menu)
    return chat
