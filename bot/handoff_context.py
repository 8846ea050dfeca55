"""What the bot already knows about a person who asked for a person, in an
operator's words: the queue's priority and the hand-off page's context panel.

Pure: a flow set and what the session holds (its screening answers, the last
nodes it passed, language, channel) and the keywords used in the hand-off go
in; words come out. No I/O, nothing the person typed: only their answers as
the bot understood them (a menu choice, yes / no / not sure), written with the
flows' own English texts, never node ids.

The session keeps the answers but not the path (its history is cleared when a
flow ends), so the path is worked out again from the answers: each flow the
person answered a question of is walked from its start, each question taking
the branch its recorded answer takes, until a question they did not answer
or an end. The outcome reached on the way (``outcome:`` in the flows) is the
screening's outcome, as the engine reported it when they passed it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

from .engine import model as m

ANSWER_WORDS = {"yes": "Yes", "no": "No", "not_sure": "Not sure"}
NOT_ASKED = "Not asked"

# The screening's outcomes (``outcome:`` in flows/screening.yaml), for an
# operator: a short name (the figures' charts and CSV) and what it means (a
# hand-off's context panel). An outcome not named here reads as its id.
OUTCOMES = {
    "trafficking_referral": ("Signs of trafficking",
                             "Signs of trafficking: the bot referred them to the trafficking hotline"),
    "child_referral": ("A child at risk", "Under 18 with warning signs: the bot referred them to child services"),
    "labour_rights": ("Work and pay problems", "Problems with pay or the job: labour rights"),
    "not_sure": ("Not sure: talk it through", "Unsure answers to strong signs: talk it through"),
    "ransom": ("Held for ransom", "Held for ransom on the way"),
    "smuggling_only": ("Smuggling, not trafficking", "Smuggled, and free on arrival: smuggling, not trafficking"),
    "no_indicators": ("No signs found", "No signs of trafficking in their answers"),
    "not_safe_now": ("Not safe to talk now", "Not safe to text: the bot stopped the questions"),
}


def outcome_name(outcome: str) -> str:
    """The short name of a screening outcome."""
    return OUTCOMES[outcome][0] if outcome in OUTCOMES else outcome.replace("_", " ").capitalize()


def outcome_meaning(outcome: str) -> str:
    """What a screening outcome means, in a sentence."""
    return OUTCOMES[outcome][1] if outcome in OUTCOMES else outcome_name(outcome)


# Risk: who comes first in the queue, and the card's words (never the person's).
DANGER = "Priority: used the danger word"
RISKY_OUTCOMES = {
    "trafficking_referral": "Priority: screening suggests trafficking",
    "child_referral": "Priority: screening suggests a child",
}

SAFE_FLAG = "safe_now"
DANGER_FLAG = "used_danger_word"  # bot/engine/runner.py: the bot showed them the emergency numbers
# Where they are: the place menu's flags (screening.where, rights ask the same).
PLACE_FLAGS = ("in_us", "in_mexico", "elsewhere", "place_not_sure")
NOT_INDICATORS = {SAFE_FLAG, *PLACE_FLAGS}

MAX_STEPS = 80  # a walk longer than any flow: a loop in a flow ends it


@dataclass(frozen=True)
class Step:
    flow: str  # the flow's short title ("Screening")
    question: str  # the question as the flow asks it, in English
    answer: str  # as the bot understood it ("Yes", "In the US")
    flag: str = ""  # the flag it set ("" for none)
    value: str = ""  # yes / no / not_sure


@dataclass
class Context:
    language: str
    channel: str
    steps: list[Step] = field(default_factory=list)
    outcome: str = ""  # outcome id ("" if none reached)
    outcome_words: str = NOT_ASKED
    indicators: list[Step] = field(default_factory=list)  # answered yes
    place: str = NOT_ASKED
    safe_to_text: str = NOT_ASKED
    danger: str = "No"
    risks: list[str] = field(default_factory=list)
    asked_from: str = NOT_ASKED  # where in the bot they were when they asked for a person


def short_title(flow: m.Flow) -> str:
    """"What happened to me? (screening)" -> "Screening"; other titles as they are."""
    found = re.search(r"\(([^)]+)\)\s*$", flow.title)
    return found.group(1).strip().capitalize() if found else flow.title


def question_words(node: m.Node) -> str:
    """The question itself: the last line of the node's English text, without
    "Question 2 of 13." or "This one is personal." before it."""
    lines = [line.strip() for line in (node.text.msgid if node.text else "").splitlines() if line.strip()]
    return lines[-1] if lines else node.id.replace("_", " ")


def where(fs: m.FlowSet, qualified: str) -> str:
    """A place in the bot in words: "Main menu", "Screening: Are you under 18?"."""
    flow = fs.flows.get(qualified.split(".")[0])
    node = fs.node(qualified)
    if flow is None or node is None:
        return "Somewhere the flows no longer have"
    title = short_title(flow)
    if node.kind in (m.QUESTION, m.MENU) and node.id != flow.start.split(".")[-1]:
        return f"{title}: {question_words(node)}"
    return title


def walk(fs: m.FlowSet, flow: m.Flow, flags: Mapping[str, str]) -> tuple[list[Step], str]:
    """The questions of ``flow`` the answers in ``flags`` lead through, and the outcome reached ("" if none)."""
    steps: list[Step] = []
    outcome = ""
    title = short_title(flow)
    target: str | None = flow.start
    for _ in range(MAX_STEPS):
        node = fs.node(target) if target else None
        if node is None:
            break
        if node.outcome:
            outcome = node.outcome
        if node.kind == m.QUESTION:
            value = flags.get(node.flag or "")
            if value is None:
                break  # not answered (yet): the walk stops where they stopped
            steps.append(Step(title, question_words(node), ANSWER_WORDS.get(value, value), node.flag or "", value))
            target = node.on.get(value) or node.next
        elif node.kind == m.MENU:
            chosen = next((o for o in node.options if o.sets and all(flags.get(f) == "yes" for f in o.sets)), None)
            if chosen is not None:
                steps.append(Step(title, question_words(node), chosen.label.msgid, chosen.sets[0], "yes"))
                target = chosen.goto
            elif len({o.goto for o in node.options}) == 1 and node.options:
                target = node.options[0].goto  # an answer that sets nothing, but leads on all the same
            else:
                break
        elif node.kind == m.BRANCH:
            target = node.branch_goto(flags)
        elif node.kind in (m.MESSAGE, m.DIRECTORY):
            target = node.next
        else:  # an end, a hand-off, the language question: nothing more to learn
            break
    return steps, outcome


def _answered_flows(fs: m.FlowSet, flags: Mapping[str, str], history: tuple[str, ...]) -> list[m.Flow]:
    """Flows with a question whose answer is kept, or that they passed: the ones worth walking."""
    seen = {h.split(".")[0] for h in history}
    found = []
    for flow_id, flow in fs.flows.items():
        asked = any(n.kind == m.QUESTION and n.flag in flags for n in flow.nodes)
        if asked or (flow_id in seen and any(n.kind in (m.QUESTION, m.MENU) and n.option_flags for n in flow.nodes)):
            found.append(flow)
    return found


def build(fs: m.FlowSet, flags: Mapping[str, str], history: tuple[str, ...] = (), lang: str = "", channel: str = "",
          keywords: list[str] | tuple[str, ...] = (), lang_names: Mapping[str, str] | None = None,
          channel_names: Mapping[str, str] | None = None) -> Context:
    """Everything the context panel says. ``keywords``: intents used in the hand-off (``desk.keywords_used``)."""
    ctx = Context(language=(lang_names or {}).get(lang, lang) or NOT_ASKED,
                  channel=(channel_names or {}).get(channel, channel) or NOT_ASKED)
    for flow in _answered_flows(fs, flags, history):
        steps, outcome = walk(fs, flow, flags)
        ctx.steps += steps
        if outcome and not ctx.outcome:
            ctx.outcome = outcome
    if ctx.outcome:
        ctx.outcome_words = outcome_meaning(ctx.outcome)
    elif ctx.steps:
        ctx.outcome_words = "Not finished: they stopped before the end of the questions"
    seen: set[str] = set()
    for s in ctx.steps:
        if s.value == "yes" and s.flag not in NOT_INDICATORS and s.flag not in seen:
            seen.add(s.flag)
            ctx.indicators.append(s)
    place = next((s for s in ctx.steps if s.flag in PLACE_FLAGS), None)
    if place is not None:
        ctx.place = place.answer
    elif any(flags.get(f) == "yes" for f in PLACE_FLAGS):
        ctx.place = next(f for f in PLACE_FLAGS if flags.get(f) == "yes").replace("in_", "").replace("_", " ").title()
    if SAFE_FLAG in flags:
        ctx.safe_to_text = ANSWER_WORDS.get(flags[SAFE_FLAG], flags[SAFE_FLAG])
    ctx.asked_from = where(fs, history[-1]) if history else NOT_ASKED
    used = used_danger(flags, keywords)
    if used:
        ctx.danger = "Yes: the bot sent them the emergency numbers"
    ctx.risks = risks(ctx.outcome, keywords, flags)
    return ctx


def used_danger(flags: Mapping[str, str], keywords: list[str] | tuple[str, ...]) -> bool:
    """A danger word during the hand-off (its transcript), or before it (the session's flag)."""
    return "danger" in keywords or flags.get(DANGER_FLAG) == "yes"


def risks(outcome: str, keywords: list[str] | tuple[str, ...], flags: Mapping[str, str] | None = None) -> list[str]:
    """Why this person comes first in the queue (empty: they do not)."""
    found = [DANGER] if used_danger(flags or {}, keywords) else []
    if outcome in RISKY_OUTCOMES:
        found.append(RISKY_OUTCOMES[outcome])
    return found


def outcome_of(fs: m.FlowSet, flags: Mapping[str, str], history: tuple[str, ...] = ()) -> str:
    """The first outcome their answers reached ("" if none): what the queue's priority needs."""
    for flow in _answered_flows(fs, flags, history):
        outcome = walk(fs, flow, flags)[1]
        if outcome:
            return outcome
    return ""
