"""The corpus of tests/understanding/: every message through the signed webhook.

Each message is sent by a new person (after the texts that bring them to
``at:``: a first text, the main menu, "Are you under 18?" or another yes /
no / not sure question named by its place), and
what the bot did is read back from what it recorded: the turn's events (which
carry no text), the session and the replies. It is compared with what the
corpus expects, and the accuracy is printed per language and per intent
(``pytest -s tests/test_understanding_corpus.py``) and given in the failure
message.

Thresholds (why these; the figures behind them are in tests/understanding/README.md):

* **Negatives: 100 %.** A message that merely contains a keyword must never
  erase a chat, silence the line or raise a false alarm: a person who loses
  their chat by accident may not find the number again. In the files the
  phrases were written for, nothing a negative's ``must_not`` names may
  happen. In the held-out files, erase and stop never may: they cannot be
  undone. Their other mistakes count there as misses: a page, "someone
  near" or an alarm read from words said in passing ("a movie about a guy
  with a gun") is shown and can be left with one word, and the alarm errs
  on the side of showing 911 on purpose.
* **The files the phrases were written for** (all but the held-out ones):
  **97 %** per language and for the safety intents (quick exit, opt-out,
  danger, someone near). They score 100 % today; a change that makes the bot
  understand less of what it was taught fails.
* **Held-out files** (held_out*.yaml, written without seeing the phrases and
  never tuned on): each is held a few points under what it scores today
  (:data:`HELD_OUT_FLOOR`). They are the honest figure for wording nobody
  wrote a phrase for, and reported on their own lines. A miss there is the
  greeting and menu (or the question) again, or a page read from words said
  in passing; never a wrong erase or stop.
"""
from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bot.engine import events as ev
from bot.engine import render
from tests.helpers import inbound, last_event_id, messages, option, post_signed, real_flows, stream_events

CORPUS = Path(__file__).resolve().parent / "understanding"
HELLO = {"es": "hola", "en": "hi", "none": "hi"}
SAFETY = ("quick_exit", "opt_out", "danger", "watched")
NEVER_BY_MISTAKE = ("quick_exit", "opt_out")  # in any file, held-out ones too, a negative must never do these
THRESHOLD = {"negatives": 1.0, "safety": 0.97, "language": 0.97}
# Today: held_out.yaml 76.7 % (33 of 43), held_out_2.yaml 82.6 % (38 of 46),
# held_out_3.yaml 83.7 % (41 of 49), held_out_4.yaml 63.2 % (36 of 57),
# held_out_5.yaml 83.6 % (46 of 55), held_out_6.yaml 82.3 % (51 of 62),
# held_out_7.yaml 75.4 % (43 of 57), held_out_8.yaml 56.5 % (35 of 62);
# later (tests/understanding/README.md): held_out_2.yaml 84.4 % (38 of 45), held_out_3.yaml 91.1 %
# (41 of 45), held_out_9.yaml 61.0 % (36 of 59), held_out_10.yaml 76.6 % (36 of 47),
# held_out_11.yaml 80.0 % (40 of 50), then 81.6 % (40 of 49);
# held_out_7.yaml 79.6 % (43 of 54), held_out_9.yaml 63.2 % (36 of 57); held_out_9.yaml 66.7 % (38 of 57),
# held_out_12.yaml 79.3 % (46 of 58), held_out_13.yaml 84.1 % (37 of 44).
HELD_OUT_FLOOR = {"held_out.yaml": 0.92, "held_out_2.yaml": 0.78, "held_out_3.yaml": 0.74, "held_out_4.yaml": 0.57,
                  "held_out_5.yaml": 0.75, "held_out_6.yaml": 0.78, "held_out_7.yaml": 0.70,
                  "held_out_8.yaml": 0.55, "held_out_9.yaml": 0.55, "held_out_10.yaml": 0.70,
                  "held_out_11.yaml": 0.76, "held_out_12.yaml": 0.74, "held_out_13.yaml": 0.80,
                  "held_out_14.yaml": 0.75,
                  "held_out_15.yaml": 0.86, "held_out_16.yaml": 0.70,
                  "held_out_17.yaml": 0.65,
                  "held_out_18.yaml": 0.70, "held_out_19.yaml": 0.35, "held_out_20.yaml": 0.42, "held_out_21.yaml": 0.68, "held_out_22.yaml": 0.62,
                  "held_out_23.yaml": 0.75, "held_out_24.yaml": 0.80, "held_out_25.yaml": 0.70,
                  "held_out_26.yaml": 0.62, "held_out_27.yaml": 0.55, "held_out_28.yaml": 0.33, "held_out_29.yaml": 0.62,
                  "held_out_30.yaml": 0.66, "held_out_31.yaml": 0.66, "held_out_32.yaml": 0.72,
                  "held_out_33.yaml": 0.52, "held_out_34.yaml": 0.58, "held_out_35.yaml": 0.82,
                  "held_out_36.yaml": 0.86, "held_out_37.yaml": 0.72}
ANSWER_CODES = {"y": "yes", "n": "no", "?": "not_sure"}  # how a session stores its flags
_senders = itertools.count(1)


@dataclass(frozen=True)
class Case:
    message: str
    language: str
    expect: str
    at: str
    must_not: tuple[str, ...]
    file: str

    @property
    def kind(self) -> str:
        """The intent this case is about, for the per-intent table."""
        first = self.expect.split(" + ")[0]
        if first in ("yes", "no", "not_sure"):
            return "answer"
        if first.startswith("option"):
            return "option"
        if "." in first or first in ("screening", "difference"):
            return "place"
        return first


def load_corpus() -> list[Case]:
    cases = []
    for path in sorted(CORPUS.glob("*.yaml")):
        for row in yaml.safe_load(path.read_text(encoding="utf-8")):
            cases.append(Case(str(row["message"]), str(row["language"]), str(row["expect"]),
                              row.get("at", "first"), tuple(row.get("must_not", ())), path.name))
    return cases


CASES = load_corpus()


def test_the_corpus_is_big_enough_and_well_formed():
    fs = real_flows()
    assert len(CASES) >= 200
    assert {c.language for c in CASES} == {"es", "en", "none"}
    assert sum(1 for c in CASES if c.must_not) >= 30
    for case in CASES:
        assert case.at in ("first", "menu", "question") or asked_at(fs, case) is not None, case
        for label in expected(fs, case):
            known = label in (*SAFETY, "human", "menu", "language", "miss", "stay", "yes", "no", "not_sure")
            assert known or fs.node(label) is not None, f"{case.file}: {case.message!r} expects {label!r}"


# --- what the bot did ---------------------------------------------------------------


def qualified(fs, name: str) -> str:
    """``screening`` -> ``screening.intro``; ``rights.pay_here`` as it is."""
    return name if "." in name else f"{name}.{fs.flows[name].start.split('.')[1]}" if name in fs.flows else name


def expected(fs, case: Case) -> set[str]:
    found = set()
    for part in case.expect.split(" + "):
        if part.startswith("option "):
            part = qualified(fs, fs.node(fs.system.main_menu).options[int(part.split()[1]) - 1].goto)
            part = "human" if part == fs.keywords.gotos["human"] else part  # "Talk to a person": a hand-off
        found.add(qualified(fs, part))
    return found


def asked_at(fs, case: Case):
    """The question a case is sent at: ``question`` is "Are you under 18?", a
    place (``screening.debt``) any question of the flows; None for the others."""
    place = "screening.under_18" if case.at == "question" else case.at
    node = fs.node(place) if "." in place else None
    return node if node is not None and node.kind == "question" else None


def answers_to(fs, start: str, target: str, flags: dict[str, str]) -> list[str]:
    """The numbers a person types from ``start`` (with the answers ``flags``
    given so far) to reach ``target`` by questions and menus: the shortest
    way answering "no" where it can, else "yes" where it can (a branch may
    need one: "Are you under 18?" for the questions to a minor); branches are
    taken as the engine takes them."""
    for answers in (((2, "no"), (1, "yes"), (3, "not_sure")), ((1, "yes"), (2, "no"), (3, "not_sure"))):
        todo, seen = [(start, dict(flags), [])], {start}
        for place, said, typed in todo:
            node = fs.node(place)
            if place == target:
                return typed
            if node.kind == "question":
                ways = [(node.on.get(a) or node.next, {**said, node.flag: a}, [str(i)]) for i, a in answers]
            elif node.kind == "menu":
                ways = [(o.goto, said, [str(i)]) for i, o in enumerate(node.options, 1)]
            elif node.kind == "branch":
                ways = [(next((b.goto for b in node.branches if b.when.holds(said)), node.default), said, [])]
            else:
                ways = []
            for goto, flags_then, key in ways:
                goto = qualified(fs, goto)
                if goto not in seen and fs.node(goto) is not None:
                    seen.add(goto)
                    todo.append((goto, flags_then, typed + key))
    raise AssertionError(f"no way from {start} to {target}")


def _walk_to(client, app, sender: str, target: str) -> None:
    """From the screening's first question to ``target``, one answer at a time."""
    fs, helpline = real_flows(), app.extensions["helpline"]
    for _ in range(30):
        session = helpline.store.load(helpline.cid(sender)) or {}
        at = f"{session.get('flow')}.{session.get('node')}"
        if at == target:
            return
        flags = {k: ANSWER_CODES.get(v, v) for k, v in (session.get("f") or {}).items()}
        post_signed(client, "/twilio/messages", inbound(answers_to(fs, at, target, flags)[0], sender=sender))
    raise AssertionError(f"{target} not reached")


def observed(fs, case: Case, events: list[dict], replies: list[str], session_flags: dict | None) -> set[str]:
    kinds = [e.get("kind") for e in events]
    said = {name: {render.say(fs, lang, name) for lang in fs.system.languages} for name in ("erased", "opted_out")}
    # An erase as a first text leaves no event (there was no conversation): its one line says it.
    if ev.ERASED in kinds or any(reply in said["erased"] for reply in replies):
        return {"quick_exit"}
    if ev.OPTED_OUT in kinds or any(reply in said["opted_out"] for reply in replies):
        return {"opt_out"}
    found = set()
    danger = fs.keywords.shows["danger"]
    visited = [f"{e['flow']}.{e['node']}" for e in events if e.get("kind") == ev.VISITED]
    if danger in visited:
        found.add("danger")
    if any(reply == render.say(fs, lang, "watched") for reply in replies for lang in fs.system.languages):
        found.add("watched")
    if ev.HANDOFF_REQUESTED in kinds:
        return found | {"human"}
    question = asked_at(fs, case)
    if question is not None and session_flags is not None and question.flag in session_flags:
        return found | {session_flags[question.flag]}
    if ev.MISSED in kinds:
        return found | {"miss"}
    # The page on using this chat is a place too ("are you open 24 hrs"): when three misses show it, MISSED came first.
    skip = {danger, fs.system.start}
    places = [v for v in visited if v not in skip]
    if not places:
        return found or {"stay"}
    first = places[0]
    if first == fs.system.main_menu and case.at == "first":
        return found | {"menu"}
    if first == fs.system.main_menu and case.at == "menu":
        return found | {"stay"}  # BACK or MENU at the main menu: the menu again, where the person was
    if first == fs.keywords.gotos["language"]:
        return found | {"language"}
    return found | {first}


@pytest.fixture(scope="module")
def results(make_module_app):
    """Every message of the corpus, sent (slow: for the figures)."""
    return _send(make_module_app, CASES)


@pytest.fixture(scope="module")
def negative_results(make_module_app):
    """The messages with a `must_not`, sent: the safety check runs in the fast suite too."""
    return _send(make_module_app, [c for c in CASES if c.must_not])


def _send(app, cases: list[Case]) -> list[tuple[Case, set[str], str | None]]:
    """Each case through the signed webhook, from a sender of its own: what was observed, and the language seen."""
    client = app.test_client()
    fs = real_flows()
    r = app.config["corpus_redis"]
    out = []
    question = [HELLO["es"], option("screening"), "1", "1"]  # safe to text, in the US: at `under_18`
    for case in cases:
        sender = f"+1555{next(_senders):07d}"
        lang = case.language if case.language != "none" else "en"
        setup = {"first": [], "menu": [HELLO[lang]], "question": [HELLO[lang]] + question[1:]}.get(case.at)
        for text in [HELLO[lang], option("screening")] if setup is None else setup:
            post_signed(client, "/twilio/messages", inbound(text, sender=sender))
        if setup is None:  # a question of its own: answered there from the screening's first
            _walk_to(client, app, sender, case.at)
        before = last_event_id(r)
        replies = messages(post_signed(client, "/twilio/messages", inbound(case.message, sender=sender)).data)
        events = stream_events(r, after=before)
        session = app.extensions["helpline"].store.load(app.extensions["helpline"].cid(sender)) or None
        flags = {k: ANSWER_CODES.get(v, v) for k, v in ((session or {}).get("f") or {}).items()}
        started = [e for e in events if e.get("kind") == ev.STARTED]
        got = observed(fs, case, events, replies, flags if asked_at(fs, case) is not None else None)
        lang_seen = None
        if case.at == "first" and started and not got & {"quick_exit", "opt_out"}:
            lang_seen = "none" if "language" in got else started[0].get("lang")
        out.append((case, got, lang_seen))
    return out


@pytest.fixture(scope="module")
def make_module_app(redis_url, tmp_path_factory):
    import redis as redis_lib

    from bot import create_app
    from bot.config import TestConfig

    client = redis_lib.Redis.from_url(redis_url, decode_responses=True)
    client.flushdb()
    app = create_app(TestConfig(redis_url, str(tmp_path_factory.mktemp("corpus"))))
    app.config["corpus_redis"] = client  # reads the event stream as text
    yield app
    client.flushdb()
    client.close()


def right(fs, case: Case, got: set[str], lang_seen: str | None) -> bool:
    if got != expected(fs, case):
        return False
    return lang_seen is None or lang_seen == case.language


def table(fs, rows) -> tuple[str, dict[str, float]]:
    """The accuracy table (text) and the figures the thresholds apply to."""
    by_lang, by_kind, by_file, taught = (defaultdict(lambda: [0, 0]) for _ in range(4))
    for case, got, lang_seen in rows:
        ok = right(fs, case, got, lang_seen)
        groups = [by_lang[case.language], by_kind[case.kind], by_file[case.file]]
        if not held_out(case):  # the thresholds' figures: per language, and the safety intents
            groups += [taught[case.language]] + ([taught["safety"]] if case.kind in SAFETY else [])
        for group in groups:
            group[0] += ok
            group[1] += 1
    lines = [f"{'':<20}{'right':>6}{'of':>5}{'accuracy':>10}"]
    for title, groups in (("per language", by_lang), ("per intent", by_kind), ("per file", by_file),
                          ("the files the phrases were written for (the thresholds)", taught)):
        lines.append(f"-- {title}")
        for name in sorted(groups):
            ok, n = groups[name]
            lines.append(f"{name:<20}{ok:>6}{n:>5}{ok / n:>10.1%}")
    figures = {("safety" if k == "safety" else f"language {k}"): v[0] / v[1] for k, v in taught.items()}
    figures.update({f"held-out {name}": by_file[name][0] / by_file[name][1] for name in by_file if name in HELD_OUT_FLOOR})
    return "\n".join(lines), figures


def held_out(case: Case) -> bool:
    return case.file.startswith("held_out")


@pytest.mark.slow
def test_accuracy_per_language_and_intent(results):
    fs = real_flows()
    text, figures = table(fs, results)
    wrong = [f"  {c.file}: {c.message!r} ({c.at}) expected {sorted(expected(fs, c))} [{c.language}], "
             f"got {sorted(g)} [{lang}]" for c, g, lang in results if not right(fs, c, g, lang)]
    report = text + "\n" + (f"{len(wrong)} not as expected:\n" + "\n".join(wrong) if wrong else "all as expected")
    print("\n" + report)
    assert {f"held-out {c.file}" for c in CASES if held_out(c)} <= set(figures), "a held-out file with no floor"
    for name, value in figures.items():
        if name.startswith("held-out "):
            limit = HELD_OUT_FLOOR[name.removeprefix("held-out ")]
        else:
            limit = THRESHOLD["safety"] if name == "safety" else THRESHOLD["language"]
        assert value >= limit, f"{name}: {value:.1%} is below {limit:.0%}\n{report}"


def test_negatives_never_erase_stop_or_raise_the_alarm(negative_results):
    never = {c: set(c.must_not) & (set(NEVER_BY_MISTAKE) if c.file in HELD_OUT_FLOOR else set(c.must_not))
             for c, _, _ in negative_results}
    bad = [f"{c.message!r}: {sorted(g)} includes {sorted(g & never[c])}" for c, g, _ in negative_results if never[c] & g]
    assert not bad, "\n".join(bad)
    assert len(negative_results) >= 30
