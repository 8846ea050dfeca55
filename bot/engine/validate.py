"""Cross-reference checks on a loaded flow set, one small function per rule.

Each ``check_*`` takes the loaded flows and returns problems, each with the
``path:line`` a staff member should open and what to do there. The schema
has already checked the shape of each file; these checks look across files:
gotos, reachability, loops, flags, keywords, translations, the SMS segment
budget and the hotline numbers.
"""
from __future__ import annotations

import re
from collections import Counter
from types import MappingProxyType
from typing import Iterable, Iterator, Mapping

from . import model as m
from . import render
from .loader import Loaded, load_dir
from .problems import WARNING, Problem
from .segments import MAX_SEGMENTS, count_segments

SOURCE_LANGUAGE = "en"  # flow text is written in English; it is the msgid
KNOWN_INTENTS = ("menu", "back", "help", "danger", "human", "quick_exit", "opt_out", "opt_in", "language")
REQUIRED_INTENTS = ("menu", "back", "help", "danger", "human", "quick_exit", "opt_out", "opt_in")
SHOW_INTENTS = ("help", "danger")  # shown, then the person stays where they were
GOTO_INTENTS = {"human": (m.HANDOFF,), "language": (m.LANGUAGE,)}
REQUIRED_TEXTS = (
    "reprompt", "erased", "opted_out", "opted_in", "recovered", "media_only",
    "answer_yes", "answer_no", "answer_not_sure",
    "contact_call", "contact_text", "contact_text_keyword", "contact_whatsapp",
)
LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}


def build(flows_dir: str, catalogs: Mapping[str, Mapping[str, m.Translation]]) -> tuple[m.FlowSet | None, list[Problem]]:
    """Load ``flows_dir`` and check it; the FlowSet is None if it cannot run at all."""
    return check(load_dir(flows_dir), catalogs)


def check(loaded: Loaded, catalogs) -> tuple[m.FlowSet | None, list[Problem]]:
    problems = list(loaded.problems)
    if loaded.keywords is None or loaded.system is None or not loaded.hotlines:
        return None, sorted(set(problems))
    fs = m.FlowSet(
        flows=MappingProxyType(dict(loaded.flows)),
        keywords=loaded.keywords,
        system=loaded.system,
        hotlines=MappingProxyType(dict(loaded.hotlines)),
        catalogs=MappingProxyType({k: MappingProxyType(dict(v)) for k, v in catalogs.items()}),
        version=loaded.digest,
    )
    for rule in RULES:
        problems += rule(fs, loaded)
    return fs, sorted(set(problems))


def _p(where: m.Where, message: str, severity: str = "error") -> Problem:
    return Problem(where.path, where.line, message, severity)


def _lang_name(code: str) -> str:
    return f"{LANGUAGE_NAMES.get(code, code)} ({code})"


def _all_nodes(loaded: Loaded) -> Iterator[tuple[m.Flow, m.Node]]:
    for flow in loaded.flow_list:
        for node in flow.nodes:
            yield flow, node


# --- structure ----------------------------------------------------------------


def check_duplicate_ids(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    problems = []
    first: dict[str, m.Flow] = {}
    for flow in loaded.flow_list:
        if flow.id in first:
            problems.append(_p(flow.where, f"duplicate flow id `{flow.id}`: {first[flow.id].where} uses it already"))
        else:
            first[flow.id] = flow
        seen: dict[str, m.Node] = {}
        for node in flow.nodes:
            if node.id in seen:
                problems.append(_p(node.where, f"duplicate node id `{node.id}` in flow `{flow.id}`: line {seen[node.id].where.line} uses it already"))
            else:
                seen[node.id] = node
    seen_h: dict[str, m.Hotline] = {}
    for h in loaded.hotline_list:
        if h.id in seen_h:
            problems.append(_p(h.where, f"duplicate hotline id `{h.id}`: line {seen_h[h.id].where.line} uses it already"))
        seen_h.setdefault(h.id, h)
    return problems


def _describe_missing(fs: m.FlowSet, target: str) -> str:
    flow_id, _, node_id = target.partition(".")
    if flow_id not in fs.flows:
        return f"unknown goto target `{target}`: there is no flow `{flow_id}`"
    return f"unknown goto target `{target}`: flow `{flow_id}` has no node `{node_id}`"


def check_gotos(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    problems = []
    for flow, node in _all_nodes(loaded):
        for target, where in node.targets():
            if fs.node(target) is None:
                problems.append(_p(where, _describe_missing(fs, target)))
        if node.kind == m.QUESTION and not node.next and len(node.on) < len(m.ANSWERS):
            problems.append(_p(node.where, f"question `{node.id}` needs `next`, or all of if_yes, if_no and if_not_sure"))
        for entry in node.entries:
            if entry not in fs.hotlines:
                problems.append(_p(node.where, f"directory entry `{entry}` is not in hotlines.yaml"))
    system = fs.system
    for name, target in (("start", system.start), ("main_menu", system.main_menu)):
        if fs.node(target) is None:
            problems.append(_p(system.where, f"`{name}`: {_describe_missing(fs, target)}"))
    main = fs.node(system.main_menu)
    if main is not None and main.kind != m.MENU:
        problems.append(_p(system.where, f"`main_menu` must be a menu node, not a {main.kind}"))
    return problems


def entry_points(fs: m.FlowSet) -> list[str]:
    """Where a conversation can start or jump to without a goto."""
    return [fs.system.start, fs.system.main_menu, *fs.keywords.shows.values(), *fs.keywords.gotos.values()]


def reachable(fs: m.FlowSet) -> set[str]:
    seen: set[str] = set()
    todo = [t for t in entry_points(fs) if fs.node(t) is not None]
    while todo:
        here = todo.pop()
        if here in seen:
            continue
        seen.add(here)
        node = fs.node(here)
        todo += [t for t, _ in node.targets() if fs.node(t) is not None and t not in seen]
    return seen


def check_reachable(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    seen = reachable(fs)
    return [
        _p(node.where, f"node `{node.id}` is unreachable: no goto, menu or keyword leads to `{flow.id}.{node.id}`")
        for flow, node in _all_nodes(loaded)
        if fs.flows.get(flow.id) is flow and f"{flow.id}.{node.id}" not in seen
    ]


def check_loops(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    """A loop of nodes that never wait for a reply would spin forever."""
    problems = []
    passing = (m.MESSAGE, m.DIRECTORY, m.BRANCH, m.HANDOFF)
    for flow, node in _all_nodes(loaded):
        if node.kind not in passing or fs.flows.get(flow.id) is not flow:
            continue
        start = f"{flow.id}.{node.id}"
        found = _loop_from(fs, start, start, set(), passing)
        if found:
            problems.append(_p(node.where, f"`{node.id}` starts a loop that never waits for a reply: {' -> '.join(found)}"))
    return problems


def _loop_from(fs, start, here, seen, passing) -> list[str] | None:
    """Depth-first over non-waiting nodes: a path from ``here`` back to ``start``."""
    node = fs.node(here)
    if node is None or node.kind not in passing:
        return None
    seen.add(here)
    for target, _ in node.targets():
        if target == start:
            return [here, target]
        if target not in seen:
            rest = _loop_from(fs, start, target, seen, passing)
            if rest:
                return [here] + rest
    return None


def check_flags(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    """A branch on a flag no question or option sets can never hold."""
    set_somewhere = set()
    for _, node in _all_nodes(loaded):
        if node.flag:
            set_somewhere.add(node.flag)
        for option in node.options:
            set_somewhere.update(option.sets)
    problems = []
    for _, node in _all_nodes(loaded):
        for branch in node.branches:
            for flag in branch.when.flags:
                if flag not in set_somewhere:
                    problems.append(_p(branch.where or node.where, f"flag `{flag}` is never set by a question or menu option"))
    return problems


# --- keywords and system ------------------------------------------------------------


def check_keywords(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    kw, problems = fs.keywords, []
    kw_where = next(iter(kw.where.values()), fs.system.where)
    for intent in kw.intents:
        if intent not in KNOWN_INTENTS:
            problems.append(_p(kw.where[intent], f"unknown keyword intent `{intent}`; known intents: {', '.join(KNOWN_INTENTS)}"))
    for intent in REQUIRED_INTENTS:
        if intent not in kw.intents:
            problems.append(_p(kw_where, f"keyword intent `{intent}` is missing"))
    for intent in SHOW_INTENTS:
        if intent in kw.intents and intent not in kw.shows:
            problems.append(_p(kw.where[intent], f"`{intent}` needs `show:` (the node it shows)"))
    for intent, target in kw.shows.items():
        node = fs.node(target)
        if node is None:
            problems.append(_p(kw.where[intent], f"`{intent}` shows {_describe_missing(fs, target)}"))
        elif node.kind not in (m.MESSAGE, m.DIRECTORY):
            problems.append(_p(kw.where[intent], f"`{intent}` can only show a message or directory node, not a {node.kind}"))
    for intent, kinds in GOTO_INTENTS.items():
        if intent in kw.intents and intent not in kw.gotos:
            problems.append(_p(kw.where[intent], f"`{intent}` needs `goto:` (a {kinds[0]} node)"))
    for intent, target in kw.gotos.items():
        node = fs.node(target)
        if node is None:
            problems.append(_p(kw.where[intent], f"`{intent}` goes to {_describe_missing(fs, target)}"))
        elif intent in GOTO_INTENTS and node.kind not in GOTO_INTENTS[intent]:
            problems.append(_p(kw.where[intent], f"`{intent}` must go to a {GOTO_INTENTS[intent][0]} node, not a {node.kind}"))
    owners: dict[str, str] = {}
    groups = list(kw.intents.items()) + [(f"language.{c}", w) for c, w in kw.languages.items()]
    for name, words in groups:
        for word in sorted(words):
            if word in owners:
                where = kw.where.get(name, kw_where)
                problems.append(_p(where, f"keyword `{word}` is in both `{owners[word]}` and `{name}`"))
            owners.setdefault(word, name)
    for code in kw.languages:
        if code not in fs.system.languages:
            problems.append(_p(kw.where[f"language.{code}"], f"language `{code}` is not listed in system.yaml `languages`"))
    for code in fs.system.languages:
        if code not in kw.languages:
            problems.append(_p(kw_where, f"no switch words for language `{code}` under `languages`"))
    return problems


def check_system(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    system, problems = fs.system, []
    for name in REQUIRED_TEXTS:
        if name not in system.texts:
            problems.append(_p(system.where, f"`texts` is missing `{name}`"))
    if system.default_language not in system.languages:
        problems.append(_p(system.where, f"default_language `{system.default_language}` is not in `languages`"))
    if SOURCE_LANGUAGE not in system.languages:
        problems.append(_p(system.where, f"`languages` must include `{SOURCE_LANGUAGE}`: flow text is written in English"))
    expected = {"contact_call": {"number"}, "contact_text": {"number"}, "contact_whatsapp": {"number"},
                "contact_text_keyword": {"number", "keyword"}}
    for name, wanted in expected.items():
        text = system.texts.get(name)
        if text and render.placeholders(text.msgid) != wanted:
            problems.append(_p(text.where, f"`{name}` must use the placeholders {', '.join('{' + w + '}' for w in sorted(wanted))}"))
    return problems


# --- language -------------------------------------------------------------------


def all_texts(fs: m.FlowSet, loaded: Loaded) -> Iterator[m.Text]:
    """Every translatable text, with where it is written."""
    for _, node in _all_nodes(loaded):
        yield from node.texts()
    yield from fs.system.texts.values()
    for h in loaded.hotline_list:
        yield h.name
        if h.note:
            yield h.note


def check_translations(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    problems = []
    for lang in fs.system.languages:
        if lang == SOURCE_LANGUAGE:
            continue
        catalog = fs.catalogs.get(lang)
        po = f"locales/{lang}/LC_MESSAGES/messages.po"
        if catalog is None:
            problems.append(_p(fs.system.where, f"no catalog for {_lang_name(lang)}: create {po} with `flask --app app translations update`"))
            continue
        for text in all_texts(fs, loaded):
            entry = catalog.get(text.msgid)
            if entry is None:
                problems.append(_p(text.where, f"missing {_lang_name(lang)} translation of \"{_short(text.msgid)}\": run `flask --app app translations update`, then translate it in {po}"))
            elif not entry.msgstr:
                problems.append(_p(text.where, f"missing {_lang_name(lang)} translation of \"{_short(text.msgid)}\": translate it at {entry.where}"))
            elif entry.fuzzy:
                problems.append(_p(text.where, f"fuzzy {_lang_name(lang)} translation of \"{_short(text.msgid)}\" (the English changed): review it at {entry.where} and remove the `fuzzy` mark"))
            elif render.placeholders(entry.msgstr) != render.placeholders(text.msgid):
                problems.append(_p(entry.where, f"{_lang_name(lang)} translation must keep the placeholders {sorted(render.placeholders(text.msgid))} of \"{_short(text.msgid)}\""))
    return problems


def _short(text: str, limit: int = 40) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def check_segments(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    """Every message fits 3 SMS segments in every language."""
    problems = []

    def measure(where: m.Where, what: str, texts: Iterable[str], lang: str) -> None:
        for text in texts:
            seg = count_segments(text)
            if seg.segments > MAX_SEGMENTS:
                limit = 459 if seg.encoding == "GSM-7" else 201
                problems.append(_p(where, f"{what} is {seg.segments} SMS segments in {_lang_name(lang)} ({seg.encoding}, {seg.units} characters; the limit is {MAX_SEGMENTS} segments = {limit}): shorten it"))
                return

    for lang in fs.system.languages:
        for flow, node in _all_nodes(loaded):
            if fs.flows.get(flow.id) is not flow:
                continue
            try:
                texts = render.messages(fs, node, lang)
            except KeyError:
                continue  # a missing system text is check_system's to report
            measure(node.where, f"`{node.id}`", texts, lang)
        for name, text in fs.system.texts.items():
            measure(text.where, f"text `{name}`", [fs.translate(lang, text.msgid)], lang)
    return problems


# --- hotline numbers ---------------------------------------------------------------

# A phone number or short code inside a text: grouped digits (1-888-373-7888,
# 800 5533 000), a run of five or more digits (233733), or an N11 code (911).
_PHONE = re.compile(r"(?<![\w$.,/])(\d{1,4}(?:[ -]\d{2,4}){2,4}|\d{5,}|[2-9]11)(?![\w%/]|[.,]\d)")


def digits(number: str) -> str:
    return re.sub(r"\D", "", number)


def numbers_in(text: str) -> list[str]:
    return [match.group(1) for match in _PHONE.finditer(text)]


def check_hotline_numbers(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    """A number written in a flow must be in the directory, where its source is."""
    known = {digits(c.number) for h in fs.hotlines.values() for c in h.contacts}
    problems = []
    for text in all_texts(fs, loaded):
        for number in numbers_in(text.msgid):
            if digits(number) not in known:
                problems.append(_p(text.where, f"number {number} is not in hotlines.yaml: add it there with its source, or correct it"))
    for h in loaded.hotline_list:
        if not h.verified:
            problems.append(_p(h.where, f"hotline `{h.id}` is not verified: check it against {h.source} and set `verified: true`", WARNING))
    return problems


def check_paths_end_on_hotline(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    """Every path ends on a screen that names a hotline."""
    problems = []
    for _, node in _all_nodes(loaded):
        texts = []
        if node.kind == m.END:
            texts = [("end screen", node.text)]
        elif node.kind == m.HANDOFF:
            texts = [("`unavailable` text", node.unavailable)]
        for what, text in texts:
            if text and not numbers_in(text.msgid):
                problems.append(_p(text.where, f"{what} of `{node.id}` names no hotline number: every path must end on a screen with one"))
    return problems


RULES = (
    check_duplicate_ids,
    check_gotos,
    check_reachable,
    check_loops,
    check_flags,
    check_keywords,
    check_system,
    check_translations,
    check_segments,
    check_hotline_numbers,
    check_paths_end_on_hotline,
)
