"""Cross-reference checks on a loaded flow set, one small function per rule.

Each ``check_*`` takes the loaded flows and returns problems, each with the
``path:line`` a staff member should open and what to do there. The schema
has already checked the shape of each file; these checks look across files:
gotos, reachability, loops, flags, keywords, translations, the SMS segment
budget and the hotline numbers.
"""
from __future__ import annotations

import dataclasses
import datetime
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Iterator, Mapping

from . import model as m
from . import render
from . import choices
from .loader import Loaded
from .problems import WARNING, Problem, closest
from .text import normalize
from .segments import MAX_SEGMENTS, count_segments, is_gsm7
from .translations import (EMPTY, FOUND, HIDDEN, MISSING, NO_CATALOG, PLACEHOLDERS, SOURCE_LANGUAGE, hidden_character,
                           translation_state)
from .understanding import Lexicon

KNOWN_INTENTS = ("menu", "back", "help", "danger", "human", "quick_exit", "opt_out", "opt_in", "language")
REQUIRED_INTENTS = ("menu", "back", "help", "danger", "human", "quick_exit", "opt_out", "opt_in")
SHOW_INTENTS = ("help", "danger")  # shown, then the person stays where they were
GOTO_INTENTS = {"human": (m.HANDOFF,), "language": (m.LANGUAGE,)}
REQUIRED_TEXTS = (
    "reprompt", "erased", "opted_out", "opted_in", "recovered", "media_only",
    "answer_yes", "answer_no", "answer_not_sure",
    "contact_call", "contact_text", "contact_text_keyword", "contact_whatsapp",
    "hello_any", "watched",
)


def check(loaded: Loaded, catalogs, today: datetime.date | None = None) -> tuple[m.FlowSet | None, list[Problem]]:
    """Run every rule; ``catalogs`` may carry ``problems`` and ``unreadable``
    languages from reading the .po files (see :class:`bot.i18n.Catalogs`).
    ``today`` dates the review checks (the real date when not given)."""
    loaded.today = today or datetime.date.today()
    problems = list(loaded.problems) + list(getattr(catalogs, "problems", ()))
    loaded.unreadable_catalogs = set(getattr(catalogs, "unreadable", ()))
    if loaded.keywords is None or loaded.system is None or not loaded.hotlines:
        return None, sorted(set(problems))
    fs = m.FlowSet(
        flows=MappingProxyType(dict(loaded.flows)),
        keywords=_with_language_names(loaded.keywords, loaded.system),
        system=loaded.system,
        hotlines=MappingProxyType(dict(loaded.hotlines)),
        catalogs=MappingProxyType({k: MappingProxyType(dict(v)) for k, v in catalogs.items()}),
        version=loaded.digest,
        understanding=loaded.understanding or m.NO_UNDERSTANDING,
    )
    for rule in RULES:
        problems += rule(fs, loaded)
    return fs, sorted(set(problems))


def _with_language_names(kw: m.Keywords, system: m.System) -> m.Keywords:
    """Each language's own name (`Español`, from system.yaml) switches to it,
    with or without words of its own in keywords.yaml: adding a language is
    one line in system.yaml and its catalog."""
    languages = {code: kw.languages.get(code, frozenset()) | {normalize(name)}
                 for code, name in system.languages.items()}
    languages.update({code: words for code, words in kw.languages.items() if code not in languages})
    return dataclasses.replace(kw, languages=MappingProxyType(languages))


_p = Problem.at


def _at(loaded: Loaded, path: str, at: tuple) -> m.Where:
    """The line of a field's key (`texts:`), from the parsed source (line 1 if unknown)."""
    source = loaded.sources.get(path)
    return m.Where(path, source.key_line(at) if source else 1)


def _hint(word: str, choices) -> dict:
    """What a message needs to say `did you mean ...?`, else to list the choices."""
    return {"suggestion": closest(word, choices), "choices": tuple(sorted(choices))}


def _all_nodes(loaded: Loaded) -> Iterator[tuple[m.Flow, m.Node]]:
    for flow in loaded.flow_list:
        for node in flow.nodes:
            yield flow, node


def _incomplete(loaded: Loaded) -> bool:
    """A flow file was left out: reachability and flags cannot be judged yet."""
    return bool(loaded.left_out_flows) or loaded.left_out_unnamed


# --- structure ----------------------------------------------------------------


def check_duplicate_ids(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    problems = []
    first: dict[str, m.Flow] = {}
    for flow in loaded.flow_list:
        if flow.id in first:
            problems.append(_p(flow.where, "duplicate-flow-id", flow=flow.id, first=first[flow.id].where))
        else:
            first[flow.id] = flow
        seen: dict[str, m.Node] = {}
        for node in flow.nodes:
            if node.id in seen:
                problems.append(_p(node.where, "duplicate-node-id", node=node.id, flow=flow.id, first_line=seen[node.id].where.line))
            else:
                seen[node.id] = node
    seen_h: dict[str, m.Hotline] = {}
    for h in loaded.hotline_list:
        if h.id in seen_h:
            problems.append(_p(h.where, "duplicate-hotline-id", hotline=h.id, first_line=seen_h[h.id].where.line))
        seen_h.setdefault(h.id, h)
    return problems


def _describe_missing(fs: m.FlowSet, target: str) -> dict:
    """The data of an `unknown-goto` problem about ``target`` (`flow.node`)."""
    flow_id, _, node_id = target.partition(".")
    if flow_id not in fs.flows:
        return {"target": target, "flow": flow_id, "missing": "flow", **_hint(flow_id, fs.flows)}
    return {"target": target, "flow": flow_id, "node": node_id, "missing": "node",
            **_hint(node_id, [n.id for n in fs.flows[flow_id].nodes])}


def _missing(fs: m.FlowSet, loaded: Loaded, target: str) -> dict | None:
    """What is wrong with a goto to ``target`` (an `unknown-goto` problem's data), or None if nothing (yet) can be said."""
    if fs.node(target) is not None:
        return None
    flow_id = target.partition(".")[0]
    if flow_id not in fs.flows and loaded.may_hold(flow_id):
        return None  # it may be in a flow file that has problems of its own
    return _describe_missing(fs, target)


def _value(loaded: Loaded, path: str, at: tuple) -> object:
    """The value written at ``at`` in a parsed file (None if not there)."""
    source = loaded.sources.get(path)
    value = source.data if source else None
    for part in at:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def goto_sites(loaded: Loaded, flow: m.Flow, index: int, node: m.Node) -> list[tuple[str, m.Where, tuple]]:
    """Like ``node.targets()``, with where each goto is written: (target, line, field path)."""
    path, at = flow.where.path, ("nodes", index)
    fields = []
    if node.next:
        fields.append((node.next, at + ("next",)))
    fields += [(o.goto, at + ("options", j, "goto")) for j, o in enumerate(node.options)]
    fields += [(goto, at + (f"if_{a}",)) for a, goto in node.on.items()]
    fields += [(b.goto, at + ("branches", j, "goto")) for j, b in enumerate(node.branches)]
    if node.default:
        fields.append((node.default, at + ("default",)))
    return [(target, _at(loaded, path, field), field) for target, field in fields]


def check_gotos(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    problems = []
    for flow in loaded.flow_list:
        path = flow.where.path
        if flow.node(flow.start.partition(".")[2]) is None:
            problems.append(_p(_at(loaded, path, ("start",)), "unknown-goto", via="start", **_describe_missing(fs, flow.start)))
        for i, node in enumerate(flow.nodes):
            for target, where, field in goto_sites(loaded, flow, i, node):
                missing = _missing(fs, loaded, target)
                written = _value(loaded, path, field)
                if missing and isinstance(written, str) and "." not in written:
                    # `goto: wrk` may mean a node of this flow or another flow's start.
                    if written in fs.flows or loaded.may_hold(written):
                        continue  # that flow's `start:` is wrong, or the flow was left out: said there
                    choices = {n.id for n in flow.nodes} | set(fs.flows)
                    missing = {"target": written, "flow": flow.id, "missing": "node or flow", **_hint(written, choices)}
                if missing:
                    problems.append(_p(where, "unknown-goto", **missing))
            if node.kind == m.QUESTION and not node.next and len(node.on) < len(m.ANSWERS):
                problems.append(_p(node.where, "question-without-next", node=node.id))
            for entry in node.entries:
                if entry not in fs.hotlines:
                    problems.append(_p(_at(loaded, path, ("nodes", i, "entries")), "unknown-directory-entry",
                                       entry=entry, **_hint(entry, fs.hotlines)))
    system = fs.system
    for name, target in (("start", system.start), ("main_menu", system.main_menu)):
        missing = _missing(fs, loaded, target)
        if missing:
            problems.append(_p(_at(loaded, system.where.path, (name,)), "unknown-goto", via=name, **missing))
    main = fs.node(system.main_menu)
    if main is not None and main.kind != m.MENU:
        problems.append(_p(_at(loaded, system.where.path, ("main_menu",)), "main-menu-not-menu", target=system.main_menu, kind=main.kind))
    return problems


def entry_points(fs: m.FlowSet) -> list[str]:
    """Where a conversation can start or jump to without a goto (free text included)."""
    meanings = [meaning.goto for meaning in fs.understanding.meanings if meaning.goto]
    if fs.understanding.several_signs is not None:
        meanings.append(fs.understanding.several_signs.goto)
    return [fs.system.start, fs.system.main_menu, *fs.keywords.shows.values(), *fs.keywords.gotos.values(), *meanings]


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


def _all_gotos_known(fs: m.FlowSet, loaded: Loaded) -> bool:
    targets = list(entry_points(fs)) + [f.start for f in loaded.flow_list]
    targets += [t for _, node in _all_nodes(loaded) for t, _ in node.targets()]
    return all(fs.node(t) is not None for t in targets)


def check_reachable(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    # With a file left out or a goto going nowhere, the way in to a node may be
    # the very thing that is broken: report that, and reachability once it is fixed.
    if _incomplete(loaded) or not _all_gotos_known(fs, loaded):
        return []
    seen = reachable(fs)
    return [
        _p(node.where, "unreachable-node", node=node.id, flow=flow.id)
        for flow, node in _all_nodes(loaded)
        if fs.flows.get(flow.id) is flow and f"{flow.id}.{node.id}" not in seen
    ]


def check_loops(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    """A loop of nodes that never wait for a reply would spin forever."""
    problems = []
    passing = (m.MESSAGE, m.DIRECTORY, m.BRANCH, m.HANDOFF)
    reported: set[frozenset[str]] = set()
    for flow, node in _all_nodes(loaded):
        if node.kind not in passing or fs.flows.get(flow.id) is not flow:
            continue
        start = f"{flow.id}.{node.id}"
        found = _loop_from(fs, start, start, set(), passing)
        if found and frozenset(found) not in reported:
            reported.add(frozenset(found))  # one report per loop, at its first node
            problems.append(_p(node.where, "loop-without-wait", node=node.id, loop=tuple(found)))
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
    if _incomplete(loaded):
        return []  # the flag may be set in the file that was left out
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
                    problems.append(_p(branch.where or node.where, "flag-never-set", flag=flag,
                                       suggestion=closest(flag, set_somewhere)))
    return problems


# --- keywords and system ------------------------------------------------------------


def check_keywords(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    kw, problems = fs.keywords, []
    kw_where = next(iter(kw.where.values()), fs.system.where)
    path = kw_where.path

    def line(*at) -> m.Where:
        return _at(loaded, path, at)

    for intent in kw.intents:
        if intent not in KNOWN_INTENTS:
            problems.append(_p(kw.where[intent], "unknown-intent", intent=intent, suggestion=closest(intent, KNOWN_INTENTS),
                               choices=KNOWN_INTENTS))
    for intent in REQUIRED_INTENTS:
        if intent not in kw.intents:
            problems.append(_p(line("intents"), "missing-intent", intent=intent))
    for intent in SHOW_INTENTS:
        if intent in kw.intents and intent not in kw.shows:
            problems.append(_p(kw.where[intent], "intent-needs-show", intent=intent))
    for intent, target in kw.shows.items():
        node = fs.node(target)
        missing = _missing(fs, loaded, target)
        if missing:
            problems.append(_p(line("intents", intent, "show"), "unknown-goto", via="show", intent=intent, **missing))
        elif node is not None and node.kind not in (m.MESSAGE, m.DIRECTORY):
            problems.append(_p(line("intents", intent, "show"), "intent-shows-wrong-kind", intent=intent, target=target, kind=node.kind))
    for intent, kinds in GOTO_INTENTS.items():
        if intent in kw.intents and intent not in kw.gotos:
            problems.append(_p(kw.where[intent], "intent-needs-goto", intent=intent, wanted=kinds[0]))
    for intent, target in kw.gotos.items():
        node = fs.node(target)
        missing = _missing(fs, loaded, target)
        if missing:
            problems.append(_p(line("intents", intent, "goto"), "unknown-goto", via="goto", intent=intent, **missing))
        elif node is not None and intent in GOTO_INTENTS and node.kind not in GOTO_INTENTS[intent]:
            problems.append(_p(line("intents", intent, "goto"), "intent-goes-to-wrong-kind", intent=intent, target=target,
                               kind=node.kind, wanted=GOTO_INTENTS[intent][0]))
    owners: dict[str, str] = {}
    groups = list(kw.intents.items()) + [(f"language.{c}", w) for c, w in kw.languages.items()]
    for name, words in groups:
        for word in sorted(words):
            if word in owners:
                where = kw.where.get(name, kw_where)
                problems.append(_p(where, "keyword-twice", word=word, first=owners[word], second=name))
            owners.setdefault(word, name)
    for code in kw.languages:
        if code not in fs.system.languages:
            problems.append(_p(kw.where[f"language.{code}"], "keyword-language-not-listed", lang=code))
    return problems


def check_system(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    system, problems = fs.system, []
    path = system.where.path
    for name in REQUIRED_TEXTS:
        if name not in system.texts:
            problems.append(_p(_at(loaded, path, ("texts",)), "missing-system-text", name=name))
    if system.default_language not in system.languages:
        problems.append(_p(_at(loaded, path, ("default_language",)), "default-language-not-listed",
                           lang=system.default_language, choices=tuple(system.languages)))
    if SOURCE_LANGUAGE not in system.languages:
        problems.append(_p(_at(loaded, path, ("languages",)), "source-language-not-listed", lang=SOURCE_LANGUAGE))
    if "contact_chat" not in system.texts and any(c.kind == "chat" for h in fs.hotlines.values() for c in h.contacts):
        problems.append(_p(_at(loaded, path, ("texts",)), "missing-system-text", name="contact_chat"))
    expected = {"contact_call": {"number"}, "contact_text": {"number"}, "contact_whatsapp": {"number"},
                "contact_text_keyword": {"number", "keyword"}, "contact_chat": {"address"}}
    for name, wanted in expected.items():
        text = system.texts.get(name)
        if text and "<unbalanced braces>" in render.placeholders(text.msgid):
            problems.append(_p(text.where, "unbalanced-braces", name=name, wanted=tuple(sorted(wanted))))
        elif text and render.placeholders(text.msgid) != wanted:
            problems.append(_p(text.where, "missing-placeholders", name=name, wanted=tuple(sorted(wanted))))
    return problems


def _gap_problems(meaning: m.Meaning, phrase: m.Phrase) -> list[Problem]:
    """A phrase's ``...`` must stand between two words, in a meaning read from part of a message."""
    words = phrase.text.split()
    if m.GAP not in words:
        return []
    if meaning.whole:
        why = meaning.intent if meaning.intent in m.WHOLE_ONLY_INTENTS else "whole: true"
        return [_p(phrase.where, "gap-in-whole", phrase=phrase.written, why=why)]
    twice = any(a == b == m.GAP for a, b in zip(words, words[1:]))
    if words[0] == m.GAP or words[-1] == m.GAP or twice:
        return [_p(phrase.where, "gap-at-edge", phrase=phrase.written)]
    return []


def _whole_phrases_read_as_a_word(fs: m.FlowSet, keyword_words: dict[str, str],
                                  answer_words: dict[str, str]) -> list[Problem]:
    """A whole-message phrase is read with its around words set aside ("borra
    todo" as "borra"). One that is then an answer word or another meaning's
    keyword is not what its writer meant: "no thanks", read as "no", would
    take "no" alone at the main menu to the thanks that ends the conversation;
    "menu please" would never be read, as the keyword comes first."""
    lexicon = Lexicon.of(fs)
    problems = []
    for meaning in fs.understanding.meanings:
        if not meaning.whole:
            continue
        for phrase in meaning.phrases:
            kept, taken = lexicon.strip_around(phrase.text.split())
            core = " ".join(kept)
            if not taken or not core:
                continue
            if core in answer_words:
                clash = {"clash": "answer", "answer": answer_words[core]}
            elif keyword_words.get(core, meaning.intent) != meaning.intent:
                clash = {"clash": "keyword", "intent": keyword_words[core]}
            else:
                continue
            problems.append(_p(phrase.where, "whole-phrase-is-a-word", WARNING, phrase=phrase.written, word=core,
                               around=tuple(taken), meaning=meaning.label, **clash))
    return problems


def _option_words_problems(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    """`option_words:`: each flag set by some menu option (unless a flow file was left out,
    which may set it: as :func:`check_flags`), each language known."""
    path, problems = loaded.understanding.where.path, []
    flags = {flag for _, node in _all_nodes(loaded) for flag in node.option_flags}
    for written, langs in (_value(loaded, path, ("option_words",)) or {}).items():
        at = ("option_words", written)
        if str(written) not in flags and not _incomplete(loaded):
            problems.append(_p(_at(loaded, path, at), "option-words-unknown-flag", flag=str(written),
                               **_hint(str(written), flags)))
        for code in langs or {}:
            if code not in fs.system.languages:
                problems.append(_p(_at(loaded, path, at + (code,)), "unknown-language", lang=code,
                                   **_hint(code, fs.system.languages)))
    return problems


def _saying_where_problems(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    """`saying_where:`: its menu one whose options set flags (what a place said
    in passing records), each language known."""
    path, problems = loaded.understanding.where.path, []
    spec = _value(loaded, path, ("saying_where",)) or {}
    if not spec:
        return []
    place, at = str(spec.get("menu", "")), ("saying_where", "menu")
    node = fs.node(place)
    if node is None:
        missing = _missing(fs, loaded, place)
        if missing:
            problems.append(_p(_at(loaded, path, at), "unknown-goto", **missing))
    elif node.kind != m.MENU or not node.option_flags:
        problems.append(_p(_at(loaded, path, at), "saying-where-not-a-menu", place=place, kind=node.kind))
    for code in spec.get("words") or {}:
        if code not in fs.system.languages:
            problems.append(_p(_at(loaded, path, ("saying_where", "words", code)), "unknown-language", lang=code,
                               **_hint(code, fs.system.languages)))
    return problems


def _answers_at_problems(fs: m.FlowSet, loaded: Loaded, answer_words: Mapping[str, str]) -> list[Problem]:
    """`answers_at:`: each place a question of the flows, each language known, and
    each word one answer there (an answer word of system.yaml is that answer everywhere)."""
    u = loaded.understanding
    path, problems = u.where.path, []
    for written, spec in (_value(loaded, path, ("answers_at",)) or {}).items():
        at, place = ("answers_at", written), str(written)
        node = fs.node(place)
        if node is None:
            missing = _missing(fs, loaded, place)
            if missing:
                problems.append(_p(_at(loaded, path, at), "unknown-goto", **missing))
        elif node.kind != m.QUESTION:
            problems.append(_p(_at(loaded, path, at), "answers-at-not-a-question", place=place, kind=node.kind))
        said: dict[str, str] = {}
        for answer, langs in (spec or {}).items():
            for code in langs or {}:
                if code not in fs.system.languages:
                    problems.append(_p(_at(loaded, path, at + (answer, code)), "unknown-language", lang=code,
                                       **_hint(code, fs.system.languages)))
            for word in sorted(w for words in u.answers_at.get(place, {}).get(answer, {}).values() for w in words):
                other = answer_words.get(word) or said.setdefault(word, answer)
                if other != answer:
                    problems.append(_p(_at(loaded, path, at + (answer,)), "answer-here-twice", word=word, place=place,
                                       answer=answer, other=other, everywhere=word in answer_words))
    return problems


def check_understanding(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    """understanding.yaml: places, intents and languages that exist; one meaning per phrase;
    around words that change nothing; the line sent in every language fits."""
    u = loaded.understanding
    if u is None:
        return []
    problems = []
    path = u.where.path
    languages = fs.system.languages

    def unknown_language(code: str, at: tuple) -> None:
        problems.append(_p(_at(loaded, path, at), "unknown-language", lang=code, **_hint(code, languages)))

    for section in ("around_words", "around_numbers", "not_words", "clause_openers", "lone_erase_words", "clause_joins",
                    "request_openers", "request_leads", "take_backs",
                    "quantity_words", "ages", "quotes", "polite_asking", "possessives", "requests_after_an_answer", "cries",
                    "numbers", "short_forms"):
        for code in _value(loaded, path, (section,)) or {}:
            if code not in languages:
                unknown_language(code, (section, code))
    spelled: dict[str, tuple[str, str]] = {}  # short form -> (word, language)
    for code, forms in u.short_forms.items():
        for form, word in forms.items():
            other = spelled.setdefault(form, (word, code))
            if other[0] != word:
                problems.append(_p(_at(loaded, path, ("short_forms", code)), "short-form-twice", form=form, word=word,
                                   lang=code, other=other[0], other_lang=other[1]))
    erase_words = fs.keywords.intents.get("quick_exit", frozenset())  # normalised, as lone_erases are
    for code, words in u.lone_erases.items():
        for word in sorted(words - erase_words):
            problems.append(_p(_at(loaded, path, ("lone_erase_words", code)), "lone-erase-not-a-keyword", word=word))
    if u.several_signs is not None:
        missing = _missing(fs, loaded, u.several_signs.goto)
        if missing:
            problems.append(_p(_at(loaded, path, ("several_signs",)), "unknown-goto", **missing))
    first: dict[str, tuple[m.Meaning, m.Phrase]] = {}
    for i, meaning in enumerate(u.meanings):
        if not meaning.intent and not meaning.goto:
            problems.append(_p(meaning.where, "meaning-leads-nowhere"))
        if meaning.goto:
            missing = _missing(fs, loaded, meaning.goto)
            written = _value(loaded, path, ("meanings", i, "goto"))
            if missing and isinstance(written, str) and "." not in written and (written in fs.flows or loaded.may_hold(written)):
                missing = None  # that flow's `start:` is wrong, or the flow was left out: said there
            if missing:
                problems.append(_p(_at(loaded, path, ("meanings", i, "goto")), "unknown-goto", **missing))
        if meaning.intent in m.WHOLE_ONLY_INTENTS and meaning.goto:
            problems.append(_p(_at(loaded, path, ("meanings", i, "goto")), "ending-intent-with-goto", intent=meaning.intent))
        if meaning.instead_of:
            missing = _missing(fs, loaded, meaning.instead_of)
            if missing:
                problems.append(_p(_at(loaded, path, ("meanings", i, "instead_of")), "unknown-goto", **missing))
            if meaning.intent and not meaning.goto:  # with neither, it leads nowhere (said above)
                problems.append(_p(_at(loaded, path, ("meanings", i)), "instead-of-without-goto"))
        for key in ("phrases", "together", "not_with", "first_person"):
            for code in _value(loaded, path, ("meanings", i, key)) or {}:
                if code not in languages:
                    unknown_language(code, ("meanings", i, key, code))
        if meaning.together and meaning.whole:
            why = meaning.intent if meaning.intent in m.WHOLE_ONLY_INTENTS else "whole: true"
            problems.append(_p(_at(loaded, path, ("meanings", i, "together")), "together-in-whole", why=why))
        parts = [phrase for together in meaning.together for group in together.groups for phrase in group]
        for phrase in parts if not meaning.whole else ():
            problems += _gap_problems(meaning, phrase)
        for phrase in meaning.phrases:
            problems += _gap_problems(meaning, phrase)
            earlier = first.get(phrase.text)
            if earlier is None:
                first[phrase.text] = (meaning, phrase)
            elif earlier[0].label != meaning.label or earlier[0].whole != meaning.whole:
                problems.append(_p(phrase.where, "phrase-twice", phrase=phrase.written, other=earlier[0].label,
                                   other_at=earlier[1].where))
    keyword_words = {w: name for name, words in fs.keywords.intents.items() for w in words}
    answer_words = {w: a for a, words in fs.system.answers.items() for w in words}
    for code, words in u.cries.items():
        for word in sorted(w for w in words if keyword_words.get(w) != "danger"):
            problems.append(_p(_at(loaded, path, ("cries", code, "words")), "cry-not-danger", word=word))
    problems += _answers_at_problems(fs, loaded, answer_words)
    problems += _option_words_problems(fs, loaded)
    problems += _saying_where_problems(fs, loaded)
    problems += _whole_phrases_read_as_a_word(fs, keyword_words, answer_words)
    number_words = {w for rows in u.numbers.values() for words in rows for w in words}
    for code, words in u.around.items():
        for word in sorted(words):
            clash = ({"clash": "keyword", "intent": keyword_words[word]} if word in keyword_words
                     else {"clash": "answer", "answer": answer_words[word]} if word in answer_words
                     else {"clash": "number"} if word in number_words
                     else {"clash": "not-word"} if any(word in ws for ws in u.negations.values()) else None)
            if clash:
                problems.append(_p(_at(loaded, path, ("around_words", code)), "around-word-clash", word=word, **clash))
    seen_numbers: dict[str, int] = {}
    for code, rows in u.numbers.items():
        for n, words in enumerate(rows, 1):
            for word in sorted(words):
                if seen_numbers.setdefault(word, n) != n:
                    problems.append(_p(_at(loaded, path, ("numbers", code)), "number-word-twice", word=word,
                                       first=seen_numbers[word], second=n))
    if "hello_any" in fs.system.texts:
        text = render.in_every_language(fs, "hello_any")
        seg = count_segments(text)
        if seg.segments > MAX_SEGMENTS:
            problems.append(_p(fs.system.texts["hello_any"].where, "hello-any-too-long", segments=seg.segments,
                               units=seg.units, encoding=seg.encoding, limit=MAX_SEGMENTS))
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
    """Every text has a reviewed translation in every language, said at the English
    (a placeholder mismatch at the translation, where it is fixed)."""
    texts: dict[str, list[m.Where]] = {}
    for text in all_texts(fs, loaded):
        texts.setdefault(text.msgid, []).append(text.where)
    problems = []
    state = translation_state(texts, fs.catalogs, fs.system.languages, unreadable=loaded.unreadable_catalogs)
    for lang, language in state.items():
        if language.catalog == NO_CATALOG:
            problems.append(_p(_at(loaded, fs.system.where.path, ("languages", lang)), "no-catalog", lang=lang))
        if language.catalog != FOUND:
            continue  # an unreadable one is reported once, where it cannot be read
        problems += untranslated(lang, language)
    return problems


def untranslated(lang: str, language) -> list[Problem]:
    """One language's texts still to translate, as staff read them: at each place the
    English stands, or at the catalog line for a translation whose placeholders differ.
    (The flows' texts here; the console's canned replies in bot/canned_replies.py.)"""
    problems = []
    for t in language.todo:
        if t.state == PLACEHOLDERS:
            problems.append(_p(t.translation.where, "placeholder-mismatch", lang=lang, msgid=t.msgid,
                               wanted=tuple(sorted(render.placeholders(t.msgid))),
                               found=tuple(sorted(render.placeholders(t.msgstr)))))
            continue
        if t.state == HIDDEN:
            problems.append(_p(t.translation.where, "hidden-character", lang=lang, msgid=t.msgid,
                               char=hidden_character(t.msgstr)))
            continue
        code = "missing-translation" if t.state in (MISSING, EMPTY) else "fuzzy-translation"
        catalog_line = t.translation.where if t.translation is not None else None
        for where in t.places:
            problems.append(_p(where, code, lang=lang, msgid=t.msgid, state=t.state, catalog_line=catalog_line,
                               previous=t.previous))
    return problems


def check_segments(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    """Every message fits 3 SMS segments in every language.

    A waiting node's messages are each measured on their own so the message
    can say which one to shorten: its prompt (text and options), and each
    re-prompt (text `reprompt`, then the options; at a question also
    `reprompt_unsure`, `reprompt_told` and `reprompt_asked`: see
    :func:`~bot.engine.render.reprompt_leads`). A picture with no text gets `media_only` on its own, then the
    prompt again: both are measured already.
    """
    problems = []

    def measure(where: m.Where, what: dict, text: str, lang: str, msgid: str | None) -> bool:
        """``what``: which message (`part`: node, prompt, reprompt or text), for the words."""
        seg = count_segments(text)
        if seg.segments <= MAX_SEGMENTS:
            return False
        odd = None if seg.encoding == "GSM-7" else next(ch for ch in text if not is_gsm7(ch))
        entry = fs.catalogs.get(lang, {}).get(msgid) if msgid else None
        sent = lang != SOURCE_LANGUAGE and entry is not None and entry.msgstr and not entry.fuzzy
        problems.append(_p(where, "over-segments", **what, lang=lang, units=seg.units, segments=seg.segments,
                           encoding=seg.encoding, limit=MAX_SEGMENTS, odd=odd,
                           translation_at=entry.where if sent else None))
        return True

    for lang in fs.system.languages:
        for flow, node in _all_nodes(loaded):
            if fs.flows.get(flow.id) is not flow:
                continue
            where = node.text.where if node.text else node.where
            msgid = node.text.msgid if node.text else None
            try:
                if node.waits:
                    if not measure(where, {"part": "prompt", "node": node.id}, render.prompt(fs, node, lang), lang, msgid):
                        for lead in render.reprompt_leads(node):
                            if lead in fs.system.texts and measure(
                                    where, {"part": "reprompt", "node": node.id, "name": lead},
                                    render.reprompt(fs, node, lang, lead), lang, fs.system.texts[lead].msgid):
                                break
                    continue
                texts = render.messages(fs, node, lang)
            except (KeyError, IndexError, ValueError):
                continue  # a missing or broken system text: check_system reports it
            for text in texts:
                if measure(where, {"part": "node", "node": node.id}, text, lang, msgid):
                    break
        for name, text in fs.system.texts.items():
            measure(text.where, {"part": "text", "name": name}, fs.translate(lang, text.msgid), lang, text.msgid)
    return problems


# --- hotline numbers ---------------------------------------------------------------

# A phone number or short code inside a text: grouped digits (1-888-373-7888,
# 800 5533 000), a run of five or more digits (233733), or an N11 code (911).
_PHONE = re.compile(r"(?<![\w$.,/])(\d{1,4}(?:[ -]\d{2,4}){2,4}|\d{5,}|[2-9]11)(?![\w%/]|[.,]\d)")


def digits(number: str) -> str:
    return re.sub(r"\D", "", number)


def directory_numbers(fs: m.FlowSet) -> set[str]:
    """The digits of every number in the directory (a web chat has none)."""
    return {digits(c.number) for h in fs.hotlines.values() for c in h.contacts if c.number}


def numbers_in(text: str) -> list[str]:
    return [match.group(1) for match in _PHONE.finditer(text)]


def _translations_of(fs: m.FlowSet, text: m.Text) -> Iterator[tuple[str, m.Translation]]:
    """(language, translation) for each reviewed translation of ``text``: what is sent."""
    for lang in fs.system.languages:
        entry = fs.catalogs.get(lang, {}).get(text.msgid) if lang != SOURCE_LANGUAGE else None
        if entry is not None and entry.msgstr and not entry.fuzzy:
            yield lang, entry


def _unverified_numbers(fs: m.FlowSet) -> dict[str, m.Hotline]:
    """digits -> the `verified: false` line they belong to, for numbers no verified line has."""
    verified = {digits(c.number) for h in fs.hotlines.values() if h.verified for c in h.contacts if c.number}
    return {digits(c.number): h for h in fs.hotlines.values() if not h.verified
            for c in h.contacts if c.number and digits(c.number) not in verified}


def _written(number_digits: str) -> re.Pattern:
    """A number's digits as a text may write them: `+52 800 5533 000`, `145`."""
    return re.compile(r"(?<![\w$.,/])" + r"[ -]?".join(number_digits) + r"(?![\w%/]|[.,]\d)")


def check_hotline_numbers(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    """A number written in a flow, in any language, must be in the directory, where its source is."""
    known = directory_numbers(fs)
    problems = []
    for text in all_texts(fs, loaded):
        for number in numbers_in(text.msgid):
            if digits(number) not in known:
                problems.append(_p(text.where, "number-not-in-hotlines", number=number))
        for lang, entry in _translations_of(fs, text):
            for number in numbers_in(entry.msgstr):
                if digits(number) not in known:
                    problems.append(_p(entry.where, "translated-number-not-in-hotlines", lang=lang, msgid=text.msgid, number=number))
    for i, h in enumerate(loaded.hotline_list):
        for j, c in enumerate(h.contacts):
            if c.keyword and c.kind != "text":
                problems.append(_p(_at(loaded, h.where.path, ("hotlines", i, "contacts", j)), "keyword-on-non-text-contact", kind=c.kind))
    return problems


def check_unverified_not_shown(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    """Nothing unverified reaches a texter: a `verified: false` line may stay in
    hotlines.yaml for review (a warning), but a flow that shows it, as a
    directory entry or as a number in a text in any language, is an error."""
    problems, shown = [], set()
    for flow in loaded.flow_list:
        for i, node in enumerate(flow.nodes):
            for entry in node.entries:
                h = fs.hotlines.get(entry)
                if h is None or h.verified:
                    continue
                shown.add(h.id)
                problems.append(_p(_at(loaded, flow.where.path, ("nodes", i, "entries")), "unverified-entry-shown",
                                   node=node.id, hotline=h.id, source=h.source))
    unverified = {d: (h, _written(d)) for d, h in _unverified_numbers(fs).items()}
    if unverified:
        for text in all_texts(fs, loaded):
            written = [(SOURCE_LANGUAGE, text.msgid, text.where)]
            written += [(lang, e.msgstr, e.where) for lang, e in _translations_of(fs, text)]
            for lang, words, where in written:
                for d, (h, pattern) in unverified.items():
                    if h.name is not text and h.note is not text and pattern.search(words):
                        shown.add(h.id)
                        problems.append(_p(where, "unverified-number-shown", hotline=h.id, lang=lang, source=h.source))
    for h in loaded.hotline_list:
        if not h.verified and h.id not in shown:
            problems.append(_p(h.where, "unverified-hotline", WARNING, hotline=h.id, source=h.source))
    return problems


def check_paths_end_on_hotline(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    """Every path ends on a screen that names a hotline."""
    problems = []
    for _, node in _all_nodes(loaded):
        texts = []
        if node.kind == m.END:
            texts = [("end", node.text)]
        elif node.kind == m.HANDOFF:
            texts = [("unavailable", node.unavailable), ("still_waiting", node.still_waiting)]
        for part, text in texts:
            if text and not numbers_in(text.msgid):
                problems.append(_p(text.where, "no-hotline-at-end", part=part, node=node.id))
    return problems


PREVIEW_LINES = 2  # lines of a new message a locked phone shows (most show 2 to 4)


def preview_words(text: str, lines: int = PREVIEW_LINES) -> set[str]:
    """The normalised words of a message's first ``lines`` lines, however long they are.

    >>> sorted(preview_words("Thank you.\\nQuestion 5.\\nHas anyone made you have sex?"))
    ['5', 'question', 'thank', 'you']
    """
    shown = text.split("\n")[:lines]
    return {word for line in shown for token in line.split() for word in normalize(token).split()}


def check_first_lines(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    """No message names what `first_line_avoid` lists in its first two lines.

    A locked phone shows the start of a new message to whoever holds it: most
    show two to four lines. Every message a node can send is checked, in every
    language, as it is sent (a directory's packed messages, a menu with its
    options).
    """
    avoid = fs.system.first_line_avoid
    if not avoid:
        return []
    problems = []

    def hits(text: str) -> list[str]:
        return sorted(preview_words(text) & avoid)

    for lang in fs.system.languages:
        for flow, node in _all_nodes(loaded):
            if fs.flows.get(flow.id) is not flow:
                continue
            try:
                texts = render.messages(fs, node, lang)
            except (KeyError, IndexError, ValueError):
                continue  # a missing or broken system text: check_system reports it
            for text in texts:
                found = hits(text)
                if found:
                    where = node.text.where if node.text else node.where
                    problems.append(_p(where, "sensitive-first-lines", node=node.id, words=tuple(found), lines=PREVIEW_LINES,
                                       lang=lang))
                    break
        for name, text in fs.system.texts.items():
            found = hits(fs.translate(lang, text.msgid))
            if found:
                problems.append(_p(text.where, "sensitive-first-lines", name=name, words=tuple(found), lines=PREVIEW_LINES,
                                   lang=lang))
    return problems


# --- promises: "reply MENU for ..." -----------------------------------------------------

_CAPITALS = re.compile(r"\b[^\W\d_]{2,}\b")


def keyword_destinations(fs: m.FlowSet) -> dict[str, str]:
    """intent -> the node its keyword takes a person to (main menu, help, emergency...).

    Only these keywords lead somewhere a text could describe; the others erase,
    go back or stop, the same everywhere.
    """
    found = {"menu": fs.system.main_menu}
    found.update(fs.keywords.shows)
    found.update(fs.keywords.gotos)
    return found


def named_keywords(fs: m.FlowSet, text: str) -> dict[str, str]:
    """Keywords a text names in capitals (`Reply MENU`), as written -> their intent."""
    found = {}
    for word in _CAPITALS.findall(text):
        intent = matching_intent(fs, word) if word.isupper() else None
        if intent is not None:
            found[word] = intent
    return found


def check_offers(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    """A text that tells people to send a keyword says where it leads, and is right.

    The promise is data, not prose: a node whose text names MENU, HELP,
    EMERGENCY, HUMAN or LANGUAGE (or their other words) in capitals lists it
    under `offers:` with the place the text says it leads to, and that must be
    where the keyword really goes. "Reply MENU for your rights" with
    `offers: {MENU: rights}` is refused: MENU goes to the main menu. A
    translation may name only the keywords its English offers.
    """
    dest = keyword_destinations(fs)
    problems = []
    for flow in loaded.flow_list:
        if fs.flows.get(flow.id) is not flow:
            continue
        for i, node in enumerate(flow.nodes):
            texts = [t for t in (node.text, node.unavailable, node.still_waiting) if t is not None]
            english = {w: intent for t in texts for w, intent in named_keywords(fs, t.msgid).items()}
            offered: dict[str, str] = {}  # intent -> the word offered
            for word, target in node.offers.items():
                where = _at(loaded, flow.where.path, ("nodes", i, "offers", word))
                intent = matching_intent(fs, word)
                if intent is None:
                    problems.append(_p(where, "offer-not-a-keyword", word=word))
                elif intent not in dest:
                    problems.append(_p(where, "offer-leads-nowhere", word=word, intent=intent))
                elif word not in english:
                    problems.append(_p(where, "offer-not-in-text", node=node.id, word=word))
                elif _missing(fs, loaded, target) is None and target != dest[intent]:
                    problems.append(_p(where, "offer-leads-elsewhere", word=word, target=target, goes_to=dest[intent]))
                if intent is not None:
                    offered[intent] = word
            for word, intent in english.items():
                if intent in dest and intent not in offered:
                    where = next(t.where for t in texts if word in named_keywords(fs, t.msgid))
                    problems.append(_p(where, "offer-not-declared", node=node.id, word=word, goes_to=dest[intent]))
            for t in texts:
                for lang, entry in _translations_of(fs, t):
                    for word, intent in named_keywords(fs, entry.msgstr).items():
                        if intent in dest and intent not in offered and intent not in english.values():
                            problems.append(_p(entry.where, "offer-only-in-translation", lang=lang, msgid=t.msgid, word=word,
                                               intent=intent))
    for name, text in fs.system.texts.items():
        for word, intent in named_keywords(fs, text.msgid).items():
            if intent in dest:
                problems.append(_p(text.where, "system-text-offers", name=name, word=word))
    return problems


def matching_intent(fs: m.FlowSet, word: str) -> str | None:
    """The keyword intent ``word`` belongs to, if any."""
    norm = normalize(word)
    return next((intent for intent, words in fs.keywords.intents.items() if norm in words), None)


REVIEW_DAYS = 183  # content is checked against its sources at least every 6 months


@dataclass(frozen=True)
class Review:
    """A piece of content that must be checked against its source now and then."""

    kind: str  # "hotline" or "page"
    ident: str  # the hotline's id, or the page's node id (in `flow`)
    source: str
    reviewed: str | None
    due: bool
    where: m.Where
    verified: bool = True  # a hotline with `verified: false`: kept for review, never shown to texters
    flow: str = ""  # a page's flow

    @property
    def name(self) -> str:
        """`us_trafficking`, `rights.pay_here`."""
        return f"{self.flow}.{self.ident}" if self.flow else self.ident

    @property
    def what(self) -> str:
        """hotline `us_trafficking` / page `rights.pay_here`."""
        return f"{self.kind} `{self.name}`"


def reviews(fs: m.FlowSet, today: datetime.date) -> list[Review]:
    """Every hotline and every page with a `source:`, and whether its review is due."""
    found = []

    def add(kind: str, ident: str, source: str, reviewed: str | None, where: m.Where, verified: bool = True,
            flow: str = "") -> None:
        try:
            age = (today - datetime.date.fromisoformat(reviewed)).days if reviewed else None
        except ValueError:
            age = None  # not a date: the schema reports it
        found.append(Review(kind, ident, source, reviewed, age is None or age > REVIEW_DAYS, where, verified, flow))

    for h in fs.hotlines.values():
        add("hotline", h.id, h.source, h.reviewed, h.where, h.verified)
    for flow in fs.flows.values():
        for node in flow.nodes:
            if node.source:
                add("page", node.id, node.source, node.reviewed, node.where, flow=flow.id)
    return found


def check_reviews(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    """Warn about content never reviewed, or last reviewed more than 6 months ago."""
    return [_p(r.where, "review-due", WARNING, kind=r.kind, ident=r.name, source=r.source, reviewed=r.reviewed)
            for r in reviews(fs, loaded.today) if r.due]


def check_voice(fs: m.FlowSet, loaded: Loaded) -> list[Problem]:
    """What phone callers hear: bot/engine/voice_check.py (imported here, as it uses this module)."""
    from .voice_check import check
    return check(fs, loaded)


RULES = (
    check_duplicate_ids,
    check_gotos,
    check_reachable,
    check_loops,
    check_flags,
    check_keywords,
    check_system,
    check_understanding,
    check_translations,
    check_segments,
    choices.check_labels,  # WhatsApp's buttons and list rows, in every language
    check_hotline_numbers,
    check_unverified_not_shown,
    check_paths_end_on_hotline,
    check_first_lines,
    check_offers,
    check_reviews,
    check_voice,
)
